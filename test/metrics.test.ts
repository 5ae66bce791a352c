import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { initializeDataDir } from '../src/cli/init-command.js';
import { ConfigError, loadServerConfig } from '../src/config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { startServer } from '../src/server/create-server.js';
import { createLogger } from '../src/server/logger.js';
import { bearer, connectTransport, grpcTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Prometheus metrics (FLOTILLA_METRICS_LISTEN): after known calls on every path (the SDK's
 * gRPC-web, native gRPC through the framework and through the lean machine path, Connect), a
 * scrape of the metrics listener shows exactly those calls, with their codes and durations, the
 * machines seen, the log entries stored, the open tails, the database and the process.
 */

const APP = AppService.typeName;
const ROBOT = RobotService.typeName;
const AUTH = AuthService.typeName;

type Labels = Record<string, string>;

/** One sample of a scrape: its name, labels and value. */
interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** The samples of a Prometheus text scrape (no escaped quotes in the label values used here). */
function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels, or undefined. */
function valueOf(samples: readonly Sample[], name: string, labels: Labels = {}): number | undefined {
  const keys = Object.keys(labels);
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === keys.length &&
      keys.every((k) => s.labels[k] === labels[k]),
  )?.value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachDialect('Prometheus metrics on FLOTILLA_METRICS_LISTEN', (newDatabase, dialect) => {
  let database: TestDatabase;
  let t: TestServer;
  let admin: AppClient;
  let app: PromiseClient<typeof AppService>;
  let robot: PromiseClient<typeof RobotService>;
  let ownerToken: string;
  let partId: string;
  let partToken: string;
  let locationId: string;

  const scrapeText = async (): Promise<string> => {
    const res = await fetch(`${t.server.metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const scrape = async () => samplesOf(await scrapeText());
  const calls = (samples: readonly Sample[], service: string, method: string, code: string) =>
    valueOf(samples, 'flotilla_rpc_calls_total', { service, method, code });
  const durationCount = (samples: readonly Sample[], service: string, method: string) =>
    valueOf(samples, 'flotilla_rpc_duration_seconds_count', { service, method });

  /** Scrapes until `done` holds (what a stream's end is counted after is asynchronous). */
  async function scrapeUntil(done: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const samples = await scrape();
      if (done(samples)) return samples;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  before(async () => {
    database = await newDatabase();
    t = await startTestServer(database, { FLOTILLA_METRICS_LISTEN: '127.0.0.1:0' });
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    app = createPromiseClient(AppService, grpcTransport(t.url));
    robot = createPromiseClient(RobotService, grpcTransport(t.url));
    ownerToken = await t.adminToken();
    locationId = (await admin.createLocation(t.admin.organizationId, 'Yard'))?.id ?? '';
    const machineId = await admin.newRobot(locationId, 'Metrics Rover');
    const main = (await admin.getRobotParts(machineId)).find((p) => p.mainPart);
    if (!main) assert.fail('no main part');
    partId = main.id;
    const secret = (await admin.getRobotPart(partId)).part?.secrets[0];
    if (!secret) assert.fail('no secret');
    // Authenticate over native gRPC: the lean path.
    const auth = createPromiseClient(AuthService, grpcTransport(t.url));
    partToken = (
      await auth.authenticate({
        entity: partId,
        credentials: { type: 'robot-secret', payload: secret.secret },
      })
    ).accessToken;
  });
  after(() => t?.stop());

  it('listens on its own port: GET /metrics only, anything else 404', async () => {
    const metricsUrl = t.server.metricsUrl;
    assert.ok(metricsUrl, 'RunningServer has no metrics URL');
    const port = Number(new URL(metricsUrl).port);
    assert.ok(port > 0 && port !== t.server.port, `metrics port ${port}`);
    assert.equal((await fetch(`${metricsUrl}/`)).status, 404);
    assert.equal((await fetch(`${metricsUrl}/metricsx`)).status, 404);
    assert.equal((await fetch(`${metricsUrl}/metrics`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${metricsUrl}/metrics?debug=1`)).status, 200);
  });

  it('counts and times the calls of every path, by service, method and code', async () => {
    // AppService over native gRPC (the framework): 3 found, 1 not found.
    for (let i = 0; i < 3; i++) await app.getLocation({ locationId }, bearer(ownerToken));
    await expectCode(app.getLocation({ locationId: randomUUID() }, bearer(ownerToken)), Code.NotFound);
    // The SDK (gRPC-web): 2 calls.
    await admin.listRobots(locationId);
    await admin.listRobots(locationId);
    // The machine over native gRPC (the lean path): Config twice, NeedsRestart 3 times, one
    // Config without a token; and NeedsRestart once over Connect (the framework).
    await robot.config({ id: partId }, bearer(partToken));
    await robot.config({ id: partId }, bearer(partToken));
    for (let i = 0; i < 3; i++) await robot.needsRestart({ id: partId }, bearer(partToken));
    await expectCode(robot.config({ id: partId }), Code.Unauthenticated);
    const overConnect = createPromiseClient(RobotService, connectTransport(t.url));
    await overConnect.needsRestart({ id: partId }, bearer(partToken));

    const samples = await scrape();
    assert.equal(calls(samples, APP, 'GetLocation', 'ok'), 3);
    assert.equal(calls(samples, APP, 'GetLocation', 'not_found'), 1);
    assert.equal(durationCount(samples, APP, 'GetLocation'), 4);
    assert.equal(calls(samples, APP, 'ListRobots', 'ok'), 2);
    assert.equal(calls(samples, ROBOT, 'Config', 'ok'), 2);
    assert.equal(calls(samples, ROBOT, 'Config', 'unauthenticated'), 1);
    assert.equal(durationCount(samples, ROBOT, 'Config'), 3);
    assert.equal(calls(samples, ROBOT, 'NeedsRestart', 'ok'), 4);
    // Authenticate: the part's (lean path) and the admin's (Connect JSON, SDK gRPC-web).
    assert.ok((calls(samples, AUTH, 'Authenticate', 'ok') ?? 0) >= 3);

    // The histogram: buckets from 0.5 ms to 10 s, cumulative, ending at the count.
    const buckets = samples.filter(
      (s) =>
        s.name === 'flotilla_rpc_duration_seconds_bucket' &&
        s.labels.service === ROBOT &&
        s.labels.method === 'NeedsRestart',
    );
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      [
        '0.0005',
        '0.001',
        '0.0025',
        '0.005',
        '0.01',
        '0.025',
        '0.05',
        '0.1',
        '0.25',
        '0.5',
        '1',
        '2.5',
        '5',
        '10',
        '+Inf',
      ],
    );
    assert.deepEqual(
      buckets.map((b) => b.value),
      buckets.map((b) => b.value).sort((a, b) => a - b),
    );
    assert.equal(buckets.at(-1)?.value, 4);
    const sum = valueOf(samples, 'flotilla_rpc_duration_seconds_sum', {
      service: ROBOT,
      method: 'NeedsRestart',
    });
    assert.ok(sum !== undefined && sum > 0 && sum < 40, `sum ${sum}`);
  });

  it('machines seen, log entries stored, open tails', async () => {
    let samples = await scrape();
    assert.equal(valueOf(samples, 'flotilla_machines_seen'), 1);
    const storedBefore = valueOf(samples, 'flotilla_log_entries_stored_total');
    assert.equal(storedBefore, 0);
    assert.equal(valueOf(samples, 'flotilla_log_tails'), 0);

    const controller = new AbortController();
    const stream = app.tailRobotPartLogs(
      { id: partId, errorsOnly: false },
      { ...bearer(ownerToken), signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false, 'the tail ended before its first message');
    samples = await scrape();
    assert.equal(valueOf(samples, 'flotilla_log_tails'), 1);
    // A stream is counted when it ends; its duration is measured to its first message.
    assert.equal(calls(samples, APP, 'TailRobotPartLogs', 'ok'), undefined);

    const entry = (message: string) => ({ host: 'rover', level: 'info', loggerName: 'rdk', message });
    await robot.log({ id: partId, logs: [entry('a'), entry('b'), entry('c')] }, bearer(partToken));
    await robot.log({ id: partId, logs: [entry('d')] }, bearer(partToken));
    await expectCode(
      robot.log({ id: partId, logs: [{ ...entry('e'), level: 'loud' }] }, bearer(partToken)),
      Code.InvalidArgument,
    );
    const received = await iterator.next();
    assert.equal(received.done, false);

    controller.abort();
    await iterator.next().catch(() => undefined);
    samples = await scrapeUntil(
      (s) => calls(s, APP, 'TailRobotPartLogs', 'cancelled') === 1 && valueOf(s, 'flotilla_log_tails') === 0,
      'the tail to end and be counted',
    );
    assert.equal(durationCount(samples, APP, 'TailRobotPartLogs'), 1);
    assert.equal(valueOf(samples, 'flotilla_log_entries_stored_total'), 4);
    assert.equal(calls(samples, ROBOT, 'Log', 'ok'), 2);
    assert.equal(calls(samples, ROBOT, 'Log', 'invalid_argument'), 1);
    assert.equal(valueOf(samples, 'flotilla_machines_seen'), 1);
  });

  it('database queries, the PostgreSQL pool, the process and its event loop', async () => {
    const text = await scrapeText();
    const samples = samplesOf(text);
    const queries = valueOf(samples, 'flotilla_db_query_duration_seconds_count');
    assert.ok(queries !== undefined && queries > 10, `queries ${queries}`);
    assert.equal(valueOf(samples, 'flotilla_db_query_duration_seconds_bucket', { le: '+Inf' }), queries);
    const pool = (state: string) => valueOf(samples, 'flotilla_db_pool_connections', { state });
    if (dialect === 'postgres') {
      assert.ok((pool('total') ?? 0) >= 1, `total ${pool('total')}`);
      assert.ok(pool('idle') !== undefined && pool('idle')! <= pool('total')!);
      assert.equal(pool('waiting'), 0);
    } else {
      assert.equal(pool('total'), undefined);
    }
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(
        samples.some((s) => s.name === name),
        `${name} missing`,
      );
    }
    for (const name of [
      'flotilla_rpc_calls_total',
      'flotilla_rpc_duration_seconds',
      'flotilla_machines_seen',
      'flotilla_log_entries_stored_total',
      'flotilla_log_tails',
      'flotilla_db_query_duration_seconds',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
  });

  it('without FLOTILLA_METRICS_LISTEN nothing listens and the API port serves no metrics', async () => {
    const other = await startTestServer(await newDatabase());
    try {
      assert.equal(other.server.metricsUrl, undefined);
      const res = await fetch(`${other.url}/metrics`);
      const body = await res.text();
      assert.doesNotMatch(res.headers.get('content-type') ?? '', /version=0\.0\.4/);
      assert.doesNotMatch(body, /flotilla_rpc_calls_total|process_cpu/);
    } finally {
      await other.stop();
    }
  });
});

describe('FLOTILLA_METRICS_LISTEN', () => {
  it('is parsed like FLOTILLA_LISTEN; unset or empty: no metrics', () => {
    const load = (value: string | undefined) =>
      loadServerConfig({}, value === undefined ? {} : { FLOTILLA_METRICS_LISTEN: value }).metricsListen;
    assert.equal(load(undefined), undefined);
    assert.equal(load(''), undefined);
    assert.deepEqual(load('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(load('[::1]:9464'), { host: '::1', port: 9464 });
    for (const bad of ['9464', 'localhost', 'host:99999', ':9464']) {
      assert.throws(
        () => load(bad),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes('FLOTILLA_METRICS_LISTEN') &&
          error.message.includes(bad),
        bad,
      );
    }
  });

  it('a taken address stops the server from starting, naming the variable', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    assert.ok(address && typeof address === 'object');
    const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-test-'));
    try {
      await initializeDataDir(dataDir, undefined, {
        email: 'admin@example.com',
        organizationName: 'Org A',
        password: 'correct horse battery staple',
      });
      const config = loadServerConfig(
        { dataDir, listen: '127.0.0.1:0' },
        { FLOTILLA_METRICS_LISTEN: `127.0.0.1:${address.port}` },
      );
      await assert.rejects(
        startServer(
          config,
          createLogger('error', () => {}),
        ),
        /FLOTILLA_METRICS_LISTEN/,
      );
    } finally {
      taken.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
