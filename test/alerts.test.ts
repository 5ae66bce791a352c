import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { loadServerConfig } from '../src/config.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { startServer, type RunningServer } from '../src/server/create-server.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect, onPostgres, type TestDatabase } from './support/databases.js';
import { defined, expectCode } from './support/expect.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startSmtp } from './support/smtp.js';

/*
 * Machine alerts (issue 19, part 3) end to end: triggers in part configs (and through fragments),
 * a simulated machine over native gRPC going quiet and coming back, error logs, a local webhook
 * receiver that checks signatures with the organization's secret, retries, and mail through a
 * local SMTP server. Intervals are short (FLOTILLA_OFFLINE_AFTER 1.5 s, flushes every 200 ms).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  at: number;
}

/** A webhook receiver on 127.0.0.1: records every request; `plans` lists statuses to answer first. */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  plans: Map<string, number[]>;
  on(path: string): Received[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const plans = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // left empty: the test checking it fails
      }
      received.push({ path: req.url ?? '', headers: req.headers, body, json, at: Date.now() });
      const status = plans.get(req.url ?? '')?.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'thanks' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    plans,
    on: (path) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The documented check: HMAC-SHA256 of `<timestamp>.<body>` under the secret, `sha256=<hex>`. */
function assertSigned(r: Received, secret: string): void {
  const timestamp = String(r.headers['x-flotilla-timestamp'] ?? '');
  assert.match(timestamp, /^\d+$/);
  assert.ok(Math.abs(Date.now() / 1000 - Number(timestamp)) < 120, 'timestamp is current');
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')}`;
  assert.equal(r.headers['x-flotilla-signature'], expected);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-flotilla-delivery'], r.json.delivery_id);
}

const webhook = (url: string, seconds = 0) => ({
  type: 'webhook',
  value: url,
  seconds_between_notifications: seconds,
});
const onErrors = (name: string, notifications: unknown[]) => ({
  name,
  event: { type: 'conditional_logs_ingested', attributes: { log_levels: ['error'] } },
  notifications,
});

const entry = (message: string, level = 'error') => ({
  host: 'rover.lan',
  level,
  time: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
  loggerName: 'rdk.test',
  message,
  stack: '',
  fields: [],
});

interface Delivery {
  id: string;
  event_type: string;
  trigger_name: string;
  notification_type: string;
  target: string;
  status: string;
  last_error: string | null;
  payload: Record<string, unknown>;
  attempts: { attempt: number; outcome: string; http_status: number | null; error: string | null }[];
}

describe('machine alert settings', () => {
  it('has the documented defaults, parses durations, and names what is wrong', () => {
    assert.deepEqual(loadServerConfig({}, {}).alerts, {
      offlineAfterMs: 60_000,
      retryWindowMs: 3_600_000,
      retryDelayMs: 10_000,
    });
    assert.deepEqual(
      loadServerConfig(
        {},
        {
          FLOTILLA_OFFLINE_AFTER: '90s',
          FLOTILLA_ALERT_RETRY_WINDOW: '2h',
          FLOTILLA_ALERT_RETRY_DELAY: '500ms',
        },
      ).alerts,
      { offlineAfterMs: 90_000, retryWindowMs: 7_200_000, retryDelayMs: 500 },
    );
    assert.throws(() => loadServerConfig({}, { FLOTILLA_OFFLINE_AFTER: 'soon' }), /FLOTILLA_OFFLINE_AFTER/);
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_OFFLINE_AFTER: '1s', FLOTILLA_ACCESS_FLUSH_INTERVAL: '2s' }),
      /FLOTILLA_OFFLINE_AFTER must be longer than FLOTILLA_ACCESS_FLUSH_INTERVAL/,
    );
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_ALERT_RETRY_WINDOW: '-1' }),
      /FLOTILLA_ALERT_RETRY_WINDOW/,
    );
    assert.throws(
      () => loadServerConfig({}, { FLOTILLA_ALERT_RETRY_DELAY: 'x' }),
      /FLOTILLA_ALERT_RETRY_DELAY/,
    );
  });
});

forEachDialect('machine alerts: triggers, webhooks, retries and mail', (newDatabase) => {
  let database: TestDatabase;
  let t: TestServer;
  let admin: AppClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let robot: PromiseClient<typeof RobotService>;
  let auth: PromiseClient<typeof AuthService>;
  let ownerToken: string;
  let organizationId: string;
  let locationId: string;
  let machineId: string;
  let secret: string;

  const getJson = async (path: string, token = ownerToken) => {
    const res = await fetch(`${t.url}${path}`, bearer(token));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const deliveries = async (partId: string) =>
    (await getJson(`/api/parts/${partId}/alerts`)).body.deliveries as Delivery[];

  /** A new part of the machine with this config, and its token (it logs in with its secret). */
  async function newPart(
    name: string,
    config: Record<string, unknown>,
  ): Promise<{ id: string; token: string }> {
    const id = await admin.newRobotPart(machineId, name);
    await admin.updateRobotPart(id, name, structFromObject(config));
    const partSecret = defined((await admin.getRobotPart(id)).part?.secrets[0]?.secret, 'a part secret');
    const { accessToken } = await auth.authenticate({
      entity: id,
      credentials: { type: 'robot-secret', payload: partSecret },
    });
    return { id, token: accessToken };
  }
  const pushLogs = (part: { id: string; token: string }, ...messages: [string, string?][]) =>
    robot.log({ id: part.id, logs: messages.map(([m, level]) => entry(m, level)) }, bearer(part.token));

  before(async () => {
    database = await newDatabase();
    receiver = await startReceiver();
    smtp = await startSmtp();
    t = await startTestServer(database, {
      FLOTILLA_OFFLINE_AFTER: '1500ms',
      FLOTILLA_ACCESS_FLUSH_INTERVAL: '200ms',
      FLOTILLA_ALERT_RETRY_DELAY: '200ms',
      FLOTILLA_ALERT_RETRY_WINDOW: '3s',
      FLOTILLA_SMTP_URL: smtp.url,
    });
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    ownerToken = await t.adminToken();
    organizationId = t.admin.organizationId;
    locationId = defined(await admin.createLocation(organizationId, 'Alert Yard'), 'a location').id;
    machineId = await admin.newRobot(locationId, 'Alert Rover');
    robot = createPromiseClient(RobotService, grpcTransport(t.url));
    auth = createPromiseClient(AuthService, grpcTransport(t.url));
    const read = await getJson(`/api/organizations/${organizationId}/webhook-secret`);
    assert.equal(read.status, 200);
    secret = String(read.body.secret);
    assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  });
  after(async () => {
    await t?.stop();
    await receiver?.close();
    await smtp?.close();
  });

  it('refuses invalid triggers with INVALID_ARGUMENT naming the path, and changes nothing', async () => {
    const part = await newPart('validated', { triggers: [onErrors('fine', [webhook(`${receiver.url}/x`)])] });
    const before = (await admin.getRobotPart(part.id)).part?.robotConfig?.toJson();
    const ok = webhook(`${receiver.url}/x`);
    const cases: [unknown, RegExp][] = [
      [{ a: 1 }, /triggers: must be a list of objects/],
      [
        [{ name: 'x', event: { type: 'part_exploded' }, notifications: [ok] }],
        /triggers\[0\]\.event\.type: must be one of part_online, part_offline, conditional_logs_ingested/,
      ],
      [
        [{ name: '', event: { type: 'part_online' }, notifications: [ok] }],
        /triggers\[0\]\.name: must be a non-empty string/,
      ],
      [
        [
          { name: 'same', event: { type: 'part_online' }, notifications: [ok] },
          { name: 'same', event: { type: 'part_offline' }, notifications: [ok] },
        ],
        /triggers\[1\]\.name: duplicate name "same"/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [] }],
        /triggers\[0\]\.notifications: must be a non-empty list/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [webhook('ftp://example.com/hook')] }],
        /triggers\[0\]\.notifications\[0\]\.value: must be an http:\/\/ or https:\/\/ URL/,
      ],
      [
        [
          {
            name: 'x',
            event: { type: 'part_online' },
            notifications: [{ type: 'email', value: 'not an address' }],
          },
        ],
        /triggers\[0\]\.notifications\[0\]\.value: must be an email address/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [{ type: 'sms', value: '555' }] }],
        /triggers\[0\]\.notifications\[0\]\.type: must be one of webhook, email/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [webhook(`${receiver.url}/x`, -1)] }],
        /triggers\[0\]\.notifications\[0\]\.seconds_between_notifications: must be a whole number/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [webhook(`${receiver.url}/x`, 1.5)] }],
        /seconds_between_notifications: must be a whole number/,
      ],
      [
        [{ name: 'x', event: { type: 'conditional_logs_ingested' }, notifications: [ok] }],
        /triggers\[0\]\.event\.attributes: must be an object with "log_levels"/,
      ],
      [
        [
          {
            name: 'x',
            event: { type: 'conditional_logs_ingested', attributes: { log_levels: [] } },
            notifications: [ok],
          },
        ],
        /triggers\[0\]\.event\.attributes\.log_levels: must be a non-empty list/,
      ],
      [
        [
          {
            name: 'x',
            event: { type: 'conditional_logs_ingested', attributes: { log_levels: ['error', 'fatal'] } },
            notifications: [ok],
          },
        ],
        /triggers\[0\]\.event\.attributes\.log_levels\[1\]: must be one of debug, info, warn, error/,
      ],
      [
        [{ name: 'x', event: { type: 'part_online' }, notifications: [ok, ok] }],
        /triggers\[0\]\.notifications\[1\]: the same webhook as triggers\[0\]\.notifications\[0\]/,
      ],
    ];
    for (const [triggers, message] of cases) {
      await assert.rejects(
        admin.updateRobotPart(part.id, 'validated', structFromObject({ triggers })),
        (error: Error & { code?: unknown }) => {
          assert.equal(error.code, Code.InvalidArgument, error.message);
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.deepEqual((await admin.getRobotPart(part.id)).part?.robotConfig?.toJson(), before);

    // A fragment is checked like a part, and so is the config merged with its fragments.
    await expectCode(
      admin.createFragment(organizationId, 'bad alerts', structFromObject({ triggers: [{ name: 'x' }] })),
      Code.InvalidArgument,
    );
    // What machines are served has no triggers: RobotConfig has no such field.
    const served = (await robot.config({ id: part.id }, bearer(part.token))).toJson() as Record<
      string,
      unknown
    >;
    assert.ok(!JSON.stringify(served.config ?? {}).includes('triggers'), JSON.stringify(served));
  });

  it('fires part_offline when a machine stops calling and part_online when it is back, signed', async () => {
    const part = await newPart('watched', {
      triggers: [
        {
          name: 'went quiet',
          event: { type: 'part_offline' },
          notifications: [webhook(`${receiver.url}/state`)],
        },
        {
          name: 'came back',
          event: { type: 'part_online' },
          notifications: [webhook(`${receiver.url}/state`)],
        },
      ],
    });
    let polling = true;
    const poll = async () => {
      while (polling) {
        await robot.config({ id: part.id }, bearer(part.token)).catch(() => {});
        await sleep(150);
      }
    };
    let loop = poll();
    await sleep(1200);
    polling = false;
    await loop;
    const stopped = Date.now();
    await waitUntil(() => receiver.on('/state').length >= 1, 'part_offline');
    const offline = receiver.on('/state')[0]!;
    assert.ok(offline.at - stopped >= 1000, 'not offline before FLOTILLA_OFFLINE_AFTER');
    assert.equal(offline.json.event_type, 'part_offline');
    assert.equal(offline.json.trigger_name, 'went quiet');
    assert.deepEqual(offline.json.part, { id: part.id, name: 'watched' });
    assert.deepEqual(offline.json.machine, { id: machineId, name: 'Alert Rover' });
    assert.deepEqual(offline.json.location, { id: locationId, name: 'Alert Yard' });
    assert.equal((offline.json.organization as { id: string }).id, organizationId);
    assert.equal(typeof offline.json.last_access, 'string');
    assertSigned(offline, secret);

    await sleep(800);
    assert.equal(receiver.on('/state').length, 1, 'part_offline fires once');
    polling = true;
    loop = poll();
    await waitUntil(() => receiver.on('/state').length >= 2, 'part_online');
    polling = false;
    await loop;
    const online = receiver.on('/state')[1]!;
    assert.equal(online.json.event_type, 'part_online');
    assert.equal(online.json.trigger_name, 'came back');
    assertSigned(online, secret);

    const listed = await deliveries(part.id);
    assert.deepEqual(
      listed.map((d) => [d.event_type, d.status, d.attempts.length]),
      [
        ['part_online', 'delivered', 1],
        ['part_offline', 'delivered', 1],
      ],
    );
    assert.equal(listed[1]?.attempts[0]?.http_status, 200);
  });

  it('fires conditional_logs_ingested on an error log, at most once per interval', async () => {
    const part = await newPart('noisy', {
      triggers: [onErrors('errors', [webhook(`${receiver.url}/logs`, 2)])],
    });
    await pushLogs(part, ['all is well', 'info'], ['warming up', 'warn']);
    await sleep(500);
    assert.equal(receiver.on('/logs').length, 0, 'info and warn do not match');
    await pushLogs(part, ['all is well', 'info'], ['arm stalled', 'error'], ['arm stalled again', 'error']);
    await waitUntil(() => receiver.on('/logs').length >= 1, 'conditional_logs_ingested');
    const first = receiver.on('/logs')[0]!;
    assertSigned(first, secret);
    assert.equal(first.json.event_type, 'conditional_logs_ingested');
    assert.equal(first.json.logs_matched, 2);
    assert.deepEqual(
      (first.json.logs as { message: string; level: string }[]).map((l) => [l.level, l.message]),
      [
        ['error', 'arm stalled'],
        ['error', 'arm stalled again'],
      ],
    );
    // A burst inside the interval fires nothing more.
    for (let i = 0; i < 10; i++) await pushLogs(part, [`burst ${i}`, 'error']);
    await sleep(600);
    assert.equal(receiver.on('/logs').length, 1, 'a burst within seconds_between_notifications fires once');
    // Once the interval has passed, the next error fires again.
    await sleep(Math.max(0, first.at + 2100 - Date.now()));
    await pushLogs(part, ['after the pause', 'error']);
    await waitUntil(() => receiver.on('/logs').length >= 2, 'the next interval');
    assert.deepEqual(
      (receiver.on('/logs')[1]!.json.logs as { message: string }[]).map((l) => l.message),
      ['after the pause'],
    );
  });

  it('takes triggers from fragments: the merged config is what counts', async () => {
    const fragment = defined(
      await admin.createFragment(
        organizationId,
        'alerting',
        structFromObject({ triggers: [onErrors('fragment errors', [webhook(`${receiver.url}/fragment`)])] }),
      ),
      'a fragment',
    );
    const part = await newPart('fragmented', { fragments: [fragment.id] });
    await pushLogs(part, ['from a fragment', 'error']);
    await waitUntil(() => receiver.on('/fragment').length >= 1, 'the fragment trigger');
    assert.equal(receiver.on('/fragment')[0]!.json.trigger_name, 'fragment errors');
    // An edit of the fragment that would give the part invalid triggers is refused.
    await expectCode(
      admin.updateFragment(
        fragment.id,
        'alerting',
        structFromObject({ triggers: [onErrors('fragment errors', [webhook('mailto:x')])] }),
      ),
      Code.InvalidArgument,
    );
  });

  it('retries a failing receiver with backoff and records every attempt', async () => {
    receiver.plans.set('/flaky', [500, 503]);
    const part = await newPart('flaky', {
      triggers: [onErrors('flaky errors', [webhook(`${receiver.url}/flaky`)])],
    });
    await pushLogs(part, ['boom', 'error']);
    await waitUntil(() => receiver.on('/flaky').length >= 3, 'three tries');
    const tries = receiver.on('/flaky');
    assert.equal(new Set(tries.map((r) => r.headers['x-flotilla-delivery'])).size, 1, 'one delivery');
    assert.ok(
      tries.every((r) => r.body === tries[0]!.body),
      'the same body each time',
    );
    for (const r of tries) assertSigned(r, secret);
    assert.ok(tries[2]!.at - tries[1]!.at >= tries[1]!.at - tries[0]!.at - 50, 'the wait grows');
    let listed: Delivery[] = [];
    for (let i = 0; i < 50 && listed[0]?.status !== 'delivered'; i++) {
      listed = await deliveries(part.id);
      if (listed[0]?.status !== 'delivered') await sleep(100);
    }
    const delivery = defined(listed[0], 'a delivery');
    assert.deepEqual(
      delivery.attempts.map((a) => [a.attempt, a.outcome, a.http_status]),
      [
        [1, 'failed', 500],
        [2, 'failed', 503],
        [3, 'delivered', 200],
      ],
    );
    assert.match(delivery.attempts[0]?.error ?? '', /HTTP 500/);
    assert.equal(delivery.notification_type, 'webhook');
    assert.equal(delivery.target, `${receiver.url}/flaky`);
    assert.equal(delivery.payload.delivery_id, delivery.id);
  });

  it('gives up after the retry window, recording a receiver that cannot be reached', async () => {
    // A port nothing listens on any more: every try fails at once. Tries at 0, 0.2, 0.6, 1.4 and
    // 3 s; the next would be after the 3 s window, so the delivery is then marked failed.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const part = await newPart('unreachable', {
      triggers: [onErrors('nowhere', [webhook(`http://127.0.0.1:${port}/hook`)])],
    });
    await pushLogs(part, ['boom', 'error']);
    let listed: Delivery[] = [];
    for (let i = 0; i < 100 && listed[0]?.status !== 'failed'; i++) {
      await sleep(100);
      listed = await deliveries(part.id);
    }
    const delivery = defined(listed[0], 'a delivery');
    assert.equal(delivery.status, 'failed', JSON.stringify(delivery));
    assert.ok(delivery.attempts.length >= 3 && delivery.attempts.length <= 6, JSON.stringify(delivery));
    assert.deepEqual(
      delivery.attempts.map((a) => a.attempt),
      delivery.attempts.map((_, i) => i + 1),
    );
    for (const a of delivery.attempts) {
      assert.equal(a.outcome, 'failed');
      assert.equal(a.http_status, null);
      assert.match(a.error ?? '', /ECONNREFUSED/);
    }
    assert.match(delivery.last_error ?? '', /ECONNREFUSED/);
  });

  it('mails an email alert through the SMTP server', async () => {
    const part = await newPart('mailer', {
      triggers: [onErrors('mail me', [{ type: 'email', value: 'ops@example.com' }])],
    });
    const sent = smtp.mails.length;
    await pushLogs(part, ['gripper jammed', 'error']);
    await waitUntil(() => smtp.mails.length > sent, 'the alert mail');
    const mail = smtp.mails.at(-1)!;
    assert.deepEqual(mail.to, ['ops@example.com']);
    const raw = mail.raw.replace(/=\r?\n/g, '');
    assert.match(raw, /Subject: \[Flotilla\] mail me/);
    assert.match(raw, /gripper jammed/);
    let listed: Delivery[] = [];
    for (let i = 0; i < 50 && listed[0]?.status !== 'delivered'; i++) {
      listed = await deliveries(part.id);
      if (listed[0]?.status !== 'delivered') await sleep(100);
    }
    assert.equal(listed[0]?.status, 'delivered');
    assert.equal(listed[0]?.notification_type, 'email');
  });

  it('lets only owners read deliveries and the webhook secret', async () => {
    const part = await newPart('private', {
      triggers: [onErrors('x', [webhook(`${receiver.url}/private`)])],
    });
    const issued = await admin.createKey([organizationRole('operator', organizationId)], 'alert-operator');
    const { accessToken } = await auth.authenticate({
      entity: issued.id,
      credentials: { type: 'api-key', payload: issued.key },
    });
    const alerts = await getJson(`/api/parts/${part.id}/alerts`, accessToken);
    assert.equal(alerts.status, 403, JSON.stringify(alerts.body));
    const secretRead = await getJson(`/api/organizations/${organizationId}/webhook-secret`, accessToken);
    assert.equal(secretRead.status, 403, JSON.stringify(secretRead.body));
    assert.ok(!JSON.stringify(secretRead.body).includes('whsec_'));
    assert.equal((await fetch(`${t.url}/api/parts/${part.id}/alerts`)).status, 401);
    // The owner reads the same secret again: it is made once.
    assert.equal((await getJson(`/api/organizations/${organizationId}/webhook-secret`)).body.secret, secret);
  });
});

onPostgres(
  'machine alerts across replicas: each event fires once, each delivery is sent once',
  (newDatabase) => {
    const env = {
      FLOTILLA_OFFLINE_AFTER: '1500ms',
      FLOTILLA_ACCESS_FLUSH_INTERVAL: '200ms',
      FLOTILLA_ALERT_RETRY_DELAY: '200ms',
    };
    let database: TestDatabase;
    let a: TestServer;
    let b: RunningServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;

    before(async () => {
      database = await newDatabase();
      receiver = await startReceiver();
      a = await startTestServer(database, env);
      b = await startServer(
        loadServerConfig(
          { dataDir: a.dataDir, listen: '127.0.0.1:0', databaseUrl: database.databaseUrl },
          { ...env, FLOTILLA_LOG_LEVEL: 'error' },
        ),
      );
    });
    after(async () => {
      await b?.close();
      await a?.stop();
      await receiver?.close();
    });

    it('fires part_offline, part_online and a log alert once with two replicas checking and sending', async () => {
      const admin = (await a.clientForKey(a.admin.apiKeyId, a.admin.apiKey)).appClient;
      const location = defined(await admin.createLocation(a.admin.organizationId, 'Twin Yard'), 'a location');
      const machineId = await admin.newRobot(location.id, 'Twin');
      const partId = defined(
        (await admin.getRobotParts(machineId)).find((p) => p.mainPart),
        'the main part',
      ).id;
      await admin.updateRobotPart(
        partId,
        'twin-main',
        structFromObject({
          triggers: [
            {
              name: 'off',
              event: { type: 'part_offline' },
              notifications: [webhook(`${receiver.url}/twin-state`)],
            },
            {
              name: 'on',
              event: { type: 'part_online' },
              notifications: [webhook(`${receiver.url}/twin-state`)],
            },
            onErrors('errs', [
              webhook(`${receiver.url}/twin-logs`, 30),
              webhook(`${receiver.url}/twin-logs-2`, 30),
            ]),
          ],
        }),
      );
      const partSecret = defined((await admin.getRobotPart(partId)).part?.secrets[0]?.secret, 'a secret');
      const robots = [a.url, b.url].map((url) => createPromiseClient(RobotService, grpcTransport(url)));
      const { accessToken } = await createPromiseClient(AuthService, grpcTransport(a.url)).authenticate({
        entity: partId,
        credentials: { type: 'robot-secret', payload: partSecret },
      });
      let polling = true;
      const poll = async () => {
        for (let i = 0; polling; i++) {
          await robots[i % 2]!.config({ id: partId }, bearer(accessToken)).catch(() => {});
          await sleep(100);
        }
      };
      let loop = poll();
      // Errors pushed to both replicas at once: one alert per notification for the whole burst.
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          robots[i % 2]!.log({ id: partId, logs: [entry(`twin error ${i}`)] }, bearer(accessToken)),
        ),
      );
      await sleep(1000);
      polling = false;
      await loop;
      await waitUntil(() => receiver.on('/twin-state').length >= 1, 'part_offline');
      await sleep(1000);
      polling = true;
      loop = poll();
      await waitUntil(() => receiver.on('/twin-state').length >= 2, 'part_online');
      await sleep(1000);
      polling = false;
      await loop;
      assert.deepEqual(
        receiver.on('/twin-state').map((r) => r.json.event_type),
        ['part_offline', 'part_online'],
      );
      assert.equal(receiver.on('/twin-logs').length, 1);
      assert.equal(receiver.on('/twin-logs-2').length, 1);
      const ids = receiver.received.map((r) => r.headers['x-flotilla-delivery']);
      assert.equal(new Set(ids).size, ids.length, 'no delivery is sent twice');
    });
  },
);
