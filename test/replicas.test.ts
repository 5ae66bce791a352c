import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { appApi, type commonApi } from '@viamrobotics/sdk';
import { structFromObject } from '../src/rpc/wire-values.js';
import { runCli } from './support/cli.js';
import { bearer } from './support/clients.js';
import { onPostgres, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { filesUnder } from './support/files.js';
import {
  apiKeyToken,
  clientsFor,
  initReplicas,
  newMachine,
  openTail,
  partToken,
  sleep,
  within,
  type ReplicaClients,
  type ReplicaSet,
} from './support/replicas.js';
import { organizationRole } from './support/roles.js';

/*
 * Several `flotilla serve` processes on one PostgreSQL database behave as one server: what is
 * written through one replica is seen through the others at once (credentials, restart flags,
 * configs, module files, live logs), races between replicas keep the database's rules, and a
 * replica killed mid-call leaves nothing half-written. Replicas A and B run for the whole suite;
 * the kill tests start a third one, C, to SIGKILL.
 *
 * Every replica runs with the machine caches on (FLOTILLA_MACHINE_CACHE_ENTRIES), so that a
 * replica that has answered a machine once answers the next poll from memory unless it learned
 * of the change made through another replica.
 */

const AGENT_INFO = { host: 'replica-rover', os: 'linux', ips: ['10.0.0.9'], version: '0.60.0' };
const PLATFORM = 'linux/amd64';
const CHUNK = 64 * 1024;
const LOG_BATCH = 1000;
/**
 * Write-then-read rounds of the tests that want the very next call to see a change made through
 * the other replica: a replica that learns of changes some milliseconds late fails one round in
 * a few, so that one round alone would let it pass most runs.
 */
const ROUNDS = 10;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Polls `done` every 10 ms; fails with `what` after `timeoutMs`. */
async function waitFor(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A log entry as viam-server pushes it, stamped now. */
function entry(message: string): PartialMessage<commonApi.LogEntry> {
  const nowUs = Date.now() * 1000;
  return {
    host: 'replica-rover',
    level: 'info',
    time: { seconds: BigInt(Math.floor(nowUs / 1e6)), nanos: (nowUs % 1e6) * 1000 },
    loggerName: 'rdk.replicas',
    message,
    stack: '',
    fields: [],
  };
}

/** An UploadModuleFile stream: the file info, then the data in 64 KiB chunks, `delayMs` apart. */
async function* uploadStream(
  moduleId: string,
  version: string,
  data: Uint8Array,
  delayMs = 0,
  onChunk: () => void = () => {},
): AsyncIterable<PartialMessage<appApi.UploadModuleFileRequest>> {
  yield { moduleFile: { case: 'moduleFileInfo', value: { moduleId, version, platform: PLATFORM } } };
  for (let at = 0; at < data.length; at += CHUNK) {
    if (delayMs > 0) await sleep(delayMs);
    yield { moduleFile: { case: 'file', value: data.subarray(at, at + CHUNK) } };
    onChunk();
  }
}

onPostgres('replicas: several serve processes on one PostgreSQL database', (newDatabase) => {
  let database: TestDatabase | undefined;
  let set: ReplicaSet | undefined;
  let a: ReplicaClients;
  let b: ReplicaClients;
  /** Clients of the replicas the kill tests start, closed after the suite. */
  const others: ReplicaClients[] = [];
  let organizationId: string;

  /** A new machine made through A: its main part, logged in through A. */
  async function machine(name: string) {
    const made = await newMachine(a.admin, organizationId, name);
    return { ...made, token: await partToken(a.auth, made.partId, made.secret) };
  }

  /** A new private module of the organization, made through A, with an entrypoint. */
  async function newModule(name: string): Promise<string> {
    const { moduleId } = await a.admin.createModule(organizationId, name);
    await a.admin.updateModule(moduleId, appApi.Visibility.PRIVATE, '', '', [], 'bin/module');
    return moduleId;
  }

  /** GET of a module file from `replica` with the owner's token. */
  const download = (r: ReplicaClients, moduleId: string, version: string) =>
    fetch(`${r.replica.url}/modules/${moduleId}/${version}/${PLATFORM}`, {
      headers: { authorization: `Bearer ${r.ownerToken}` },
      signal: AbortSignal.timeout(10_000),
    });

  /** "version platform" of every file the module lists, as `r` reads it. */
  async function filesOf(r: ReplicaClients, moduleId: string): Promise<string[]> {
    const module = await r.admin.getModule(moduleId);
    assert.ok(module, `module ${moduleId} not returned`);
    return module.versions.flatMap((v) => v.files.map((f) => `${v.version} ${f.platform}`));
  }

  before(async () => {
    database = await newDatabase();
    assert.ok(database.databaseUrl);
    set = await initReplicas(database.databaseUrl, { FLOTILLA_MACHINE_CACHE_ENTRIES: '50000' });
    const [ra, rb] = await Promise.all([set.start('a'), set.start('b')]);
    a = await clientsFor(ra, set.init);
    b = await clientsFor(rb, set.init);
    organizationId = set.init.organization_id;
  });
  after(async () => {
    for (const clients of [a, b, ...others]) clients?.close();
    try {
      await set?.close();
    } finally {
      await database?.drop();
    }
  });

  it('an API key made through A works on B; deleted through B, its earlier token is refused by A at the next call', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await a.admin.createKey([organizationRole('owner', organizationId)], `shared key ${round}`);
      const onB = await apiKeyToken(b.auth, key.id, key.key);
      const orgs = await b.app.listOrganizations({}, bearer(onB));
      assert.deepEqual(
        orgs.organizations.map((o) => o.id),
        [organizationId],
      );
      // Minted and checked by A (twice: the second check may come from what A remembers).
      const early = await apiKeyToken(a.auth, key.id, key.key);
      await a.app.listOrganizations({}, bearer(early));
      await a.app.listOrganizations({}, bearer(early));

      await b.admin.deleteKey(key.id);
      await expectCode(
        a.app
          .listOrganizations({}, bearer(early))
          .then(() => assert.fail(`round ${round}: A still took the token`)),
        Code.Unauthenticated,
      );
      await expectCode(b.app.listOrganizations({}, bearer(onB)), Code.Unauthenticated);
      await expectCode(apiKeyToken(a.auth, key.id, key.key), Code.Unauthenticated);
    }
  });

  it('logs pushed through A reach a tail held on B within 1 s', async () => {
    const m = await machine('Tailed Rover');
    const marker = `tailed-${randomUUID()}`;
    const tail = await openTail(b.app, b.ownerToken, m.partId, marker);
    try {
      const messages = [`${marker} one`, `${marker} two`, `${marker} three`];
      await a.robot.log({ id: m.partId, logs: messages.map(entry) }, bearer(m.token));
      await waitFor(() => tail.received.length >= messages.length, "the entries on B's tail", 1000);
      assert.deepEqual([...tail.received].sort(), [...messages].sort());
    } finally {
      tail.abort();
    }
  });

  it('MarkPartForRestart through A is seen by the next NeedsRestart poll on B', async () => {
    const m = await machine('Restarting Rover');
    const ask = async () => (await b.robot.needsRestart({ id: m.partId }, bearer(m.token))).mustRestart;
    for (let round = 0; round < ROUNDS; round++) {
      // B answers "no restart" a few times first (and may remember it).
      for (let poll = 0; poll < 3; poll++) {
        assert.equal(await ask(), false, `round ${round}: poll ${poll} before the mark`);
      }
      await a.admin.markPartForRestart(m.partId);
      assert.equal(await ask(), true, `round ${round}: B did not see the restart marked through A`);
      assert.equal(await ask(), false, `round ${round}: the restart is asked for once`);
    }
  });

  it('a config edited through A is served by B at the next Config poll', async () => {
    const m = await machine('Configured Rover');
    const name = (await a.admin.getRobotPart(m.partId)).part?.name ?? '';
    const save = (component: string) =>
      a.admin.updateRobotPart(
        m.partId,
        name,
        structFromObject({
          components: [{ name: component, api: 'rdk:component:sensor', model: 'fake', attributes: {} }],
        }),
      );
    const served = async () =>
      (await b.robot.config({ id: m.partId, agentInfo: AGENT_INFO }, bearer(m.token))).config?.components.map(
        (c) => c.name,
      );
    await save('sensor-0');
    for (let round = 1; round <= ROUNDS; round++) {
      // B serves the current config twice first (and may remember it).
      assert.deepEqual(await served(), [`sensor-${round - 1}`]);
      assert.deepEqual(await served(), [`sensor-${round - 1}`]);
      await save(`sensor-${round}`);
      assert.deepEqual(
        await served(),
        [`sensor-${round}`],
        `round ${round}: B served the config from before the edit`,
      );
    }
  });

  it('a module file uploaded through A downloads from B byte for byte', async () => {
    const moduleId = await newModule('shared-module');
    const data = randomBytes(1024 * 1024 + 123);
    await a.app.uploadModuleFile(uploadStream(moduleId, '1.0.0', data), bearer(a.ownerToken));
    assert.deepEqual(await filesOf(b, moduleId), [`1.0.0 ${PLATFORM}`]);
    const res = await download(b, moduleId, '1.0.0');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, `GET from B: ${res.status} ${body.toString().slice(0, 200)}`);
    assert.equal(sha256(body), sha256(data), 'B served other bytes');
    assert.equal(res.headers.get('x-content-sha256'), sha256(data), "B's reported checksum");
  });

  it('the same machine name created through A and B at once: one machine, one ALREADY_EXISTS', async () => {
    const location = await a.admin.createLocation(organizationId, 'Race Yard');
    assert.ok(location);
    const names = Array.from({ length: 10 }, (_, i) => `racer-${i}`);
    for (const name of names) {
      const settled: PromiseSettledResult<string>[] = await Promise.allSettled([
        a.admin.newRobot(location.id, name),
        b.admin.newRobot(location.id, name),
      ]);
      const codes = settled.flatMap((s) =>
        s.status === 'rejected' ? [(s.reason as { code: unknown }).code] : [],
      );
      assert.deepEqual(codes, [Code.AlreadyExists], `${name}: ${settled.map((s) => s.status).join(', ')}`);
    }
    const listed = async (r: ReplicaClients) =>
      (await r.admin.listRobots(location.id)).map((robot) => `${robot.name} ${robot.id}`).sort();
    const onA = await listed(a);
    assert.deepEqual(await listed(b), onA, 'A and B list different machines');
    assert.deepEqual(
      onA.map((line) => line.split(' ')[0]),
      [...names].sort(),
    );
  });

  it('a replica whose data directory has no keys exits 1 saying so, and makes none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-keyless-'));
    try {
      const dataDir = join(dir, 'data');
      const r = await runCli(
        ['serve', '--database-url', set!.databaseUrl, '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
        {},
        20_000,
      );
      assert.equal(r.code, 1, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /server.keys/i);
      assert.deepEqual(filesUnder(dataDir), [], 'the keyless replica wrote files');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The database is as it was: A still serves the init key.
    assert.equal((await a.app.listOrganizations({}, bearer(a.ownerToken))).organizations.length, 1);
  });

  it('a replica SIGKILLed mid-upload leaves no file, and the upload retried through A succeeds', async () => {
    const c = await clientsFor(await set!.start('c-upload'), set!.init);
    others.push(c);
    const moduleId = await newModule('interrupted-module');
    const data = randomBytes(4 * 1024 * 1024);
    let chunksSent = 0;
    const upload = c.app
      .uploadModuleFile(
        uploadStream(moduleId, '2.0.0', data, 20, () => chunksSent++),
        bearer(c.ownerToken),
      )
      .then(
        () => 'finished',
        (error: unknown) => error,
      );
    await waitFor(() => chunksSent >= 8, 'chunks sent to C', 10_000);
    await c.replica.kill();
    assert.ok(chunksSent < data.length / CHUNK, 'the upload was over before C was killed');
    assert.notEqual(await within(upload, 5000, 'the upload to C ending'), 'finished');
    c.close();

    assert.deepEqual(await filesOf(a, moduleId), [], 'A lists a file of the interrupted upload');
    const missing = await download(a, moduleId, '2.0.0');
    assert.equal(missing.status, 404, await missing.text());

    await a.app.uploadModuleFile(uploadStream(moduleId, '2.0.0', data), bearer(a.ownerToken));
    assert.deepEqual(await filesOf(a, moduleId), [`2.0.0 ${PLATFORM}`]);
    const res = await download(a, moduleId, '2.0.0');
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data));
  });

  it('a replica SIGKILLed mid-push stores each Log batch whole or not at all', async () => {
    const c = await clientsFor(await set!.start('c-logs'), set!.init);
    others.push(c);
    const m = await machine('Storming Rover');
    const run = randomBytes(4).toString('hex');
    /** Every batch sent, by marker, and whether C acknowledged it. */
    const batches = new Map<string, boolean>();
    /** How long each acknowledged push took, and how many pushes have started. */
    const durations: number[] = [];
    let started = 0;
    let failures = 0;
    // Staggered, so that when C is killed the batches in flight are at different stages.
    const pusher = async (worker: number) => {
      await sleep(worker * 30);
      for (let n = 0; ; n++) {
        const marker = `m${run}w${worker}b${n}z`;
        const logs = Array.from({ length: LOG_BATCH }, (_, i) => entry(`${marker} entry ${i}`));
        batches.set(marker, false);
        started++;
        const at = Date.now();
        try {
          await c.robot.log({ id: m.partId, logs }, bearer(m.token));
        } catch {
          failures++;
          return;
        }
        durations.push(Date.now() - at);
        batches.set(marker, true);
      }
    };
    const pushers = Promise.all([0, 1, 2].map(pusher));
    try {
      await waitFor(() => durations.length >= 4, 'batches stored through C', 10_000);
      // Killed some way into a push, when C is most likely storing its entries.
      const typical = [...durations].sort((x, y) => x - y)[durations.length >> 1]!;
      const before = started;
      await waitFor(() => started > before, 'the next push', 5000);
      await sleep(typical * 0.6);
      await c.replica.kill();
      await within(pushers, 5000, 'the pushes to C ending');
    } finally {
      await c.replica.kill();
      c.close();
    }
    assert.equal(failures, 3, 'every pusher had a batch in flight when C was killed');

    /** Stored entries of one batch, read through A a page (at most 100) at a time. */
    const stored = async (marker: string) => {
      let count = 0;
      let pageToken = '';
      for (let pages = 0; ; pages++) {
        assert.ok(pages <= LOG_BATCH / 100 + 1, `paging ${marker} does not end`);
        const page = await a.admin.getRobotPartLogs(m.partId, marker, undefined, pageToken);
        count += page.logs.length;
        if (page.nextPageToken === '') return count;
        pageToken = page.nextPageToken;
      }
    };
    for (const [marker, acknowledged] of batches) {
      const count = await stored(marker);
      if (acknowledged) assert.equal(count, LOG_BATCH, `acknowledged batch ${marker}`);
      else assert.ok(count === 0 || count === LOG_BATCH, `batch ${marker}: ${count} of ${LOG_BATCH} stored`);
    }
  });
});
