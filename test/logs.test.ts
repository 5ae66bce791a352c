import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { after, before, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, ConnectError, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { appApi, type AppClient, type commonApi } from '@viamrobotics/sdk';
import SQLite from 'better-sqlite3';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { sqliteFileIn } from '../src/store/database.js';
import { searchFileFor } from '../src/store/sqlite-log-search.js';
import { bearer, grpcTransport, grpcWebTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { expectCode } from './support/expect.js';
import { organizationRole } from './support/roles.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Machine logs (issue 6) end to end: parts push with RobotService.Log over native gRPC, as
 * viam-server does; the owner reads pages with the SDK (and with a native client where the SDK
 * hides a field: limit, errors_only, start/end) and follows them with TailRobotPartLogs.
 */

type WireEntry = PartialMessage<commonApi.LogEntry>;
type Rpc<S extends typeof AppService | typeof RobotService | typeof AuthService> = PromiseClient<S>;

/** A whole second an hour ago, in microseconds: every test's times are offsets from it. */
const BASE_US = (Math.floor(Date.now() / 1000) - 3600) * 1_000_000;

const tsOf = (us: number) => ({
  seconds: BigInt(Math.floor(us / 1_000_000)),
  nanos: (us % 1_000_000) * 1000,
});
const usOf = (ts: { seconds: bigint; nanos: number } | undefined) =>
  ts ? Number(ts.seconds) * 1_000_000 + ts.nanos / 1000 : Number.NaN;

/** A pushed entry; `timeUs` undefined sends none (the server stamps it). */
const line = (message: string, timeUs: number | undefined, level = 'info'): WireEntry => ({
  host: 'rover.lan',
  level,
  ...(timeUs === undefined ? {} : { time: tsOf(timeUs) }),
  loggerName: 'rdk.test',
  message,
  stack: '',
  fields: [],
});

const messagesOf = (logs: readonly { message: string }[]) => logs.map((l) => l.message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every 10 ms; fails with `what` after `timeoutMs`. */
async function waitUntil(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Rejects after `ms` unless `promise` settles first. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A live native tail: the batches received after the first (empty) message, and how it ended. */
interface NativeTail {
  batches: commonApi.LogEntry[][];
  /** Resolves once iteration stops: undefined when the stream ended cleanly, else the error. */
  ended: Promise<unknown>;
  abort(): void;
  messages(): string[][];
}

/** Opens a tail and waits for its first message, which must be an empty batch. */
async function openTail(
  app: Rpc<typeof AppService>,
  token: string,
  req: PartialMessage<appApi.TailRobotPartLogsRequest>,
): Promise<NativeTail> {
  const controller = new AbortController();
  const stream = app.tailRobotPartLogs(req, { ...bearer(token), signal: controller.signal });
  const iterator = stream[Symbol.asyncIterator]();
  const first = await within(iterator.next(), 5000, 'the first tail message');
  assert.equal(first.done, false, 'the tail ended before its first message');
  assert.deepEqual(messagesOf(first.value.logs), []);
  const batches: commonApi.LogEntry[][] = [];
  const ended = (async () => {
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) batches.push(r.value.logs);
  })().then(
    () => undefined,
    (error: unknown) => error ?? new Error('rejected without a reason'),
  );
  return { batches, ended, abort: () => controller.abort(), messages: () => batches.map(messagesOf) };
}

/** A tail read by a raw HTTP/2 client that stops reading after the first message. */
interface StalledTail {
  /** Reads on to the end: the batches (messages) after the first, and the trailers' grpc-status. */
  resume(): Promise<{ batches: string[][]; status: string | undefined; message: string | undefined }>;
  /** Drops the connection (cleanup when a test fails before resuming). */
  destroy(): void;
}

/**
 * Opens TailRobotPartLogs over plain node:http2 and pauses the stream once the first (empty)
 * message is in, so that HTTP/2 flow control pushes back on the server: a Connect client
 * would keep reading into memory whether iterated or not.
 */
async function openStalledTail(url: string, token: string, partId: string): Promise<StalledTail> {
  const session = http2.connect(url);
  session.on('error', () => {});
  const body = new appApi.TailRobotPartLogsRequest({ id: partId, errorsOnly: false }).toBinary();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  const stream = session.request({
    ':method': 'POST',
    ':path': `/${AppService.typeName}/${AppService.methods.tailRobotPartLogs.name}`,
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  });
  stream.end(frame);
  let received = Buffer.alloc(0);
  let trailers: http2.IncomingHttpHeaders = {};
  let headers: http2.IncomingHttpHeaders = {};
  stream.on('response', (h) => {
    headers = h;
  });
  stream.on('trailers', (h) => {
    trailers = h;
  });
  const closed = new Promise<void>((resolve) => stream.on('close', resolve));
  await within(
    new Promise<void>((resolve, reject) => {
      let paused = false;
      stream.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (!paused && received.length >= 5) {
          paused = true;
          stream.pause();
          resolve();
        }
      });
      stream.once('error', reject);
    }),
    5000,
    'the stalled tail’s first message',
  );
  /** Splits the gRPC length-prefixed frames received so far. */
  const frames = () => {
    const out: Buffer[] = [];
    for (let at = 0; at + 5 <= received.length;) {
      const length = received.readUInt32BE(at + 1);
      out.push(received.subarray(at + 5, at + 5 + length));
      at += 5 + length;
    }
    return out;
  };
  const [first] = frames();
  assert.ok(first, 'no first message');
  assert.deepEqual(appApi.TailRobotPartLogsResponse.fromBinary(first).logs, []);
  return {
    destroy: () => session.destroy(),
    async resume() {
      stream.resume();
      await closed;
      session.close();
      const grpcStatus = trailers['grpc-status'] ?? headers['grpc-status'];
      const grpcMessage = trailers['grpc-message'] ?? headers['grpc-message'];
      return {
        batches: frames()
          .slice(1)
          .map((f) => messagesOf(appApi.TailRobotPartLogsResponse.fromBinary(f).logs)),
        status: Array.isArray(grpcStatus) ? grpcStatus[0] : grpcStatus,
        message: Array.isArray(grpcMessage) ? grpcMessage[0] : grpcMessage,
      };
    },
  };
}

/** What a server under test offers the tests: clients and helpers bound to it. */
interface Harness {
  t: TestServer;
  admin: AppClient;
  robot: Rpc<typeof RobotService>;
  app: Rpc<typeof AppService>;
  auth: Rpc<typeof AuthService>;
  ownerToken: string;
  locationId: string;
  machineId: string;
}

/** A part that pushes its own logs. */
interface Part {
  id: string;
  token: string;
  push(logs: WireEntry[]): Promise<unknown>;
}

async function harness(database: TestDatabase, env: Record<string, string> = {}): Promise<Harness> {
  const t = await startTestServer(database, env);
  try {
    const admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const transport = grpcTransport(t.url);
    const robot = createPromiseClient(RobotService, transport);
    const app = createPromiseClient(AppService, transport);
    const auth = createPromiseClient(AuthService, transport);
    const ownerToken = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    const location = await admin.createLocation(t.admin.organizationId, 'Log Yard');
    assert.ok(location);
    const machineId = await admin.newRobot(location.id, 'Logger');
    return { t, admin, robot, app, auth, ownerToken, locationId: location.id, machineId };
  } catch (error) {
    await t.stop();
    throw error;
  }
}

/** Logs a part in with its secret (AuthService over native gRPC). */
async function partFor(h: Harness, id: string, robot = h.robot): Promise<Part> {
  const secret = (await h.admin.getRobotPart(id)).part?.secrets[0]?.secret ?? '';
  assert.notEqual(secret, '', `part ${id} has no secret`);
  const token = (
    await h.auth.authenticate({ entity: id, credentials: { type: 'robot-secret', payload: secret } })
  ).accessToken;
  return { id, token, push: (logs) => robot.log({ id, logs }, bearer(token)) };
}

/** A new part of the harness's machine, logged in. */
async function newPart(h: Harness, name: string): Promise<Part> {
  return partFor(h, await h.admin.newRobotPart(h.machineId, name));
}

forEachDialect('machine logs: Log, GetRobotPartLogs, TailRobotPartLogs', (newDatabase, dialect) => {
  let h: Harness;
  /** The machine's main part. */
  let main: Part;

  /** Every entry of a part, newest first, read a page at a time with the SDK. */
  const readAll = async (id: string, filter?: string, levels?: string[]) => {
    const all: commonApi.LogEntry[] = [];
    let token = '';
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100, 'paging does not end');
      const page = await h.admin.getRobotPartLogs(id, filter, levels, token);
      all.push(...page.logs);
      if (page.nextPageToken === '') return all;
      token = page.nextPageToken;
    }
  };
  const nativePage = (req: PartialMessage<appApi.GetRobotPartLogsRequest>, token = h.ownerToken) =>
    h.app.getRobotPartLogs(req, bearer(token));

  before(async () => {
    h = await harness(await newDatabase());
    const mainId = (await h.admin.getRobotParts(h.machineId)).find((p) => p.mainPart)?.id;
    assert.ok(mainId);
    main = await partFor(h, mainId);
  });
  after(() => h.t.stop());

  it('Log then read: newest first, same-time entries in reverse arrival, every field round-trips', async () => {
    const at = (s: number) => BASE_US + s * 1_000_000;
    const full: WireEntry = {
      host: 'rover-one.lan',
      level: 'WARN',
      time: { seconds: BigInt(at(1) / 1_000_000), nanos: 123_456_789 },
      loggerName: 'rdk.resource_manager',
      message: 'full entry',
      caller: structFromObject({ Defined: true, File: 'manager.go', Line: 42, Function: 'rdk.(*m).Do' }),
      stack: 'goroutine 1 [running]:\nmain.main()\n\t/src/main.go:12 +0x1d',
      fields: [
        structFromObject({ motor: 'left', rpm: 10.5 }),
        structFromObject({ nested: { a: [1, 'b', null] } }),
      ],
    };
    await main.push([line('t0 first', at(0), 'Info'), full, line('t2', at(2), 'ERROR')]);
    // The same time across calls and within a call: the later arrival reads as newer.
    await main.push([line('same A', at(3)), line('same B', at(3)), line('same C', at(3), 'debug')]);
    await main.push([line('same D', at(3))]);
    // An older entry arriving last still sorts by its time.
    await main.push([line('late but old', at(0) - 1)]);
    // No time: the server stamps it (so it is the newest).
    const sent = Date.now() * 1000;
    await main.push([line('no time', undefined, 'dpanic')]);
    const received = Date.now() * 1000;

    const logs = (await h.admin.getRobotPartLogs(main.id)).logs;
    assert.deepEqual(messagesOf(logs), [
      'no time',
      'same D',
      'same C',
      'same B',
      'same A',
      't2',
      'full entry',
      't0 first',
      'late but old',
    ]);
    assert.deepEqual(
      logs.map((l) => l.level),
      ['dpanic', 'info', 'debug', 'info', 'info', 'error', 'warn', 'info', 'info'],
    );
    const stamped = usOf(logs[0]?.time);
    assert.ok(
      stamped >= sent - 1000 && stamped <= received + 1000,
      `server time ${stamped} not in [${sent}, ${received}]`,
    );

    const got = logs[6];
    assert.ok(got);
    assert.equal(got.host, 'rover-one.lan');
    assert.equal(got.level, 'warn');
    assert.equal(got.loggerName, 'rdk.resource_manager');
    assert.equal(got.time?.seconds, BigInt(at(1) / 1_000_000));
    assert.equal(got.time?.nanos, 123_456_000, 'time must be kept to the microsecond');
    assert.deepEqual(got.caller?.toJson(), {
      Defined: true,
      File: 'manager.go',
      Line: 42,
      Function: 'rdk.(*m).Do',
    });
    assert.equal(got.stack, full.stack);
    assert.deepEqual(
      got.fields.map((f) => f.toJson()),
      [{ motor: 'left', rpm: 10.5 }, { nested: { a: [1, 'b', null] } }],
    );
    // An entry without caller or fields reads back without them.
    const plain = logs[5];
    assert.equal(plain?.caller, undefined);
    assert.deepEqual(plain?.fields, []);
    assert.equal(usOf(plain?.time), at(2));
    assert.equal(usOf(logs.at(-1)?.time), at(0) - 1);
  });

  it('paging: 250 entries in pages of 100/100/50 while newer ones arrive; no gap, no duplicate', async () => {
    const part = await newPart(h, 'pager');
    // Groups of 7 share a time, so a page boundary falls inside a group.
    const timeOf = (i: number) => BASE_US + Math.floor(i / 7) * 1000;
    await part.push(Array.from({ length: 250 }, (_, i) => line(`page ${i}`, timeOf(i))));
    const expected = Array.from({ length: 250 }, (_, i) => `page ${249 - i}`);

    const p1 = await h.admin.getRobotPartLogs(part.id, undefined, undefined, undefined);
    assert.deepEqual(messagesOf(p1.logs), expected.slice(0, 100));
    assert.notEqual(p1.nextPageToken, '');
    // Newer entries, and one with exactly the time of the page's last entry (arriving later, so newer).
    await part.push([line('newer 1', BASE_US + 3_600_000_000), line('same as boundary', timeOf(150))]);
    await part.push([line('newer 2', BASE_US + 3_600_000_001)]);

    const p2 = await h.admin.getRobotPartLogs(part.id, undefined, undefined, p1.nextPageToken);
    assert.deepEqual(messagesOf(p2.logs), expected.slice(100, 200));
    assert.notEqual(p2.nextPageToken, '');
    await part.push([line('newer 3', BASE_US + 3_600_000_002), line('same as boundary 2', timeOf(50))]);

    const p3 = await h.admin.getRobotPartLogs(part.id, undefined, undefined, p2.nextPageToken);
    assert.deepEqual(messagesOf(p3.logs), expected.slice(200));
    assert.equal(p3.logs.length, 50);
    assert.equal(p3.nextPageToken, '');
    assert.deepEqual(messagesOf([...p1.logs, ...p2.logs, ...p3.logs]), expected);

    // A fresh read sees everything, the late arrivals placed by (time, arrival).
    const all = messagesOf(await readAll(part.id));
    assert.equal(all.length, 255);
    assert.deepEqual(all.slice(0, 3), ['newer 3', 'newer 2', 'newer 1']);
    assert.equal(all.indexOf('same as boundary'), all.indexOf('page 154') + 1);
    assert.equal(all.indexOf('page 153'), all.indexOf('same as boundary') + 1);
    assert.equal(all.indexOf('same as boundary 2'), all.indexOf('page 56') + 1);
  });

  it('limit (native client): 10 gives 10 and a token, the rest exactly; 0, absent and 500 give 100; -1 and a garbage token are INVALID_ARGUMENT', async () => {
    const part = await newPart(h, 'limits');
    await part.push(Array.from({ length: 130 }, (_, i) => line(`lim ${i}`, BASE_US + i)));
    const newest = Array.from({ length: 130 }, (_, i) => `lim ${129 - i}`);

    const ten = await nativePage({ id: part.id, limit: 10n });
    assert.deepEqual(messagesOf(ten.logs), newest.slice(0, 10));
    assert.notEqual(ten.nextPageToken, '');
    const next = await nativePage({ id: part.id, limit: 10n, pageToken: ten.nextPageToken });
    assert.deepEqual(messagesOf(next.logs), newest.slice(10, 20));
    // A limit equal to what is left: the page is exact and the token says it was the last.
    const rest = await nativePage({
      id: part.id,
      limit: 30n,
      pageToken: (await nativePage({ id: part.id })).nextPageToken,
    });
    assert.deepEqual(messagesOf(rest.logs), newest.slice(100));
    assert.equal(rest.nextPageToken, '');

    for (const limit of [0n, undefined, 500n, 100n]) {
      const page = await nativePage({ id: part.id, ...(limit === undefined ? {} : { limit }) });
      assert.deepEqual(messagesOf(page.logs), newest.slice(0, 100), `limit ${String(limit)}`);
      assert.notEqual(page.nextPageToken, '', `limit ${String(limit)}`);
    }
    await expectCode(nativePage({ id: part.id, limit: -1n }), Code.InvalidArgument);
    await expectCode(nativePage({ id: part.id, filter: 'x'.repeat(1025) }), Code.InvalidArgument);
    for (const garbage of ['garbage', '!!!', Buffer.from('v1:abc:1').toString('base64url'), 'djE6MTIz']) {
      await expectCode(
        h.admin.getRobotPartLogs(part.id, undefined, undefined, garbage),
        Code.InvalidArgument,
      );
      await expectCode(nativePage({ id: part.id, pageToken: garbage }), Code.InvalidArgument);
    }
  });

  it('filter: case-insensitive substring, LIKE wildcards literal, short filters; indexed and fresh entries both found', async () => {
    const part = await newPart(h, 'filters');
    const old = [
      'Motor STALLED at 50% duty',
      'reached 500 units',
      'file a_b.txt',
      'file axb.txt',
      'path C:\\temp\\old',
      'path C:/temp/old',
      'nothing to see',
      'motor stalled (old)',
    ];
    await part.push(old.map((m, i) => line(m, BASE_US + i * 1_000_000)));
    // Long enough for the search worker to index them (on SQLite; PostgreSQL indexes at insert).
    await sleep(1500);
    if (dialect === 'sqlite') {
      const logs = new SQLite(sqliteFileIn(h.t.dataDir), { readonly: true, fileMustExist: true });
      const search = new SQLite(searchFileFor(sqliteFileIn(h.t.dataDir)), {
        readonly: true,
        fileMustExist: true,
      });
      try {
        const newest = logs.prepare('select max(seq) from part_logs').pluck().get() as number;
        await waitUntil(
          () =>
            (search.prepare('select indexed_through from search_state').pluck().get() as number) >= newest,
          'the search worker to index the first entries',
        );
      } finally {
        logs.close();
        search.close();
      }
    }
    const fresh = [
      'MOTOR Stalled at 50% again',
      'went 5000 rpm',
      'x_y a_b new',
      'aXb new',
      'C:\\temp\\new',
      'C:temp new',
      'quiet',
    ];
    await part.push(fresh.map((m, i) => line(m, BASE_US + 100_000_000 + i * 1_000_000)));

    const cases: [string, string[]][] = [
      ['stalled', ['MOTOR Stalled at 50% again', 'motor stalled (old)', 'Motor STALLED at 50% duty']],
      ['STALLED AT', ['MOTOR Stalled at 50% again', 'Motor STALLED at 50% duty']],
      ['50%', ['MOTOR Stalled at 50% again', 'Motor STALLED at 50% duty']],
      ['a_b', ['x_y a_b new', 'file a_b.txt']],
      ['A_B', ['x_y a_b new', 'file a_b.txt']],
      ['\\temp', ['C:\\temp\\new', 'path C:\\temp\\old']],
      ['c:\\TEMP\\', ['C:\\temp\\new', 'path C:\\temp\\old']],
      ['%', ['MOTOR Stalled at 50% again', 'Motor STALLED at 50% duty']],
      ['_', ['x_y a_b new', 'file a_b.txt']],
      ['\\', ['C:\\temp\\new', 'path C:\\temp\\old']],
      ['St', ['MOTOR Stalled at 50% again', 'motor stalled (old)', 'Motor STALLED at 50% duty']],
      [
        '50',
        ['went 5000 rpm', 'MOTOR Stalled at 50% again', 'reached 500 units', 'Motor STALLED at 50% duty'],
      ],
      ['x', ['aXb new', 'x_y a_b new', 'file axb.txt', 'file a_b.txt']],
      ['%%', []],
      ['no such text', []],
    ];
    for (const [filter, expected] of cases) {
      assert.deepEqual(
        messagesOf((await h.admin.getRobotPartLogs(part.id, filter)).logs),
        expected,
        `filter ${filter}`,
      );
    }
    // An empty filter is no filter.
    assert.equal((await h.admin.getRobotPartLogs(part.id, '')).logs.length, old.length + fresh.length);
  });

  it('filter with paging: 300 entries, 150 matching; pages 100 + 50 (SDK) and pages of 7 (native)', async () => {
    const part = await newPart(h, 'filter-pages');
    const message = (i: number) => (i % 2 === 0 ? `${i % 4 === 0 ? 'TICK' : 'tick'} ${i}` : `tock ${i}`);
    // Same-time pairs, so the keyset cursor matters inside the filtered sequence too.
    await part.push(
      Array.from({ length: 300 }, (_, i) => line(message(i), BASE_US + Math.floor(i / 2) * 10)),
    );
    const expected = Array.from({ length: 300 }, (_, i) => message(299 - i)).filter((m) => /tick/i.test(m));
    assert.equal(expected.length, 150);

    const p1 = await h.admin.getRobotPartLogs(part.id, 'Tick');
    assert.deepEqual(messagesOf(p1.logs), expected.slice(0, 100));
    assert.notEqual(p1.nextPageToken, '');
    await part.push([line('tick newest', BASE_US + 1_000_000_000)]);
    const p2 = await h.admin.getRobotPartLogs(part.id, 'Tick', undefined, p1.nextPageToken);
    assert.deepEqual(messagesOf(p2.logs), expected.slice(100));
    assert.equal(p2.nextPageToken, '');

    const seen: string[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 40; pages++) {
      const page = await nativePage({
        id: part.id,
        filter: 'tOcK',
        limit: 7n,
        ...(token ? { pageToken: token } : {}),
      });
      seen.push(...messagesOf(page.logs));
      if (page.nextPageToken === '') break;
      assert.equal(page.logs.length, 7);
      token = page.nextPageToken;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 150 }, (_, i) => `tock ${299 - 2 * i}`),
    );
  });

  it('filter folds ASCII letters only, the same for reads and tails', async () => {
    const part = await newPart(h, 'unicode');
    const tail = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false, filter: 'ärger' });
    try {
      const lines = ['Ärger im Motor', 'ärger klein', 'ÄRGER GROSS', 'kein Problem'];
      await part.push(lines.map((m, i) => line(m, BASE_US + i)));
      await waitUntil(() => tail.batches.length > 0, 'the tail to deliver');
      await sleep(100);
      const tailed = tail.messages().flat();
      assert.deepEqual(tailed, ['ärger klein']);
      assert.deepEqual(messagesOf((await h.admin.getRobotPartLogs(part.id, 'ärger')).logs), tailed);
      assert.deepEqual(messagesOf((await h.admin.getRobotPartLogs(part.id, 'Ärger')).logs), [
        'ÄRGER GROSS',
        'Ärger im Motor',
      ]);
    } finally {
      tail.abort();
      await tail.ended;
    }
  });

  it('levels (SDK) and errors_only, start inclusive / end exclusive (native)', async () => {
    const part = await newPart(h, 'levels');
    const sent = ['DEBUG', 'Info', 'warn', 'ERROR', 'dPanic', 'PANIC', 'fatal'];
    await part.push(
      sent.map((level, i) => line(`lvl ${level.toLowerCase()}`, BASE_US + i * 1_000_000, level)),
    );
    assert.deepEqual(
      (await h.admin.getRobotPartLogs(part.id)).logs.map((l) => l.level),
      ['fatal', 'panic', 'dpanic', 'error', 'warn', 'info', 'debug'],
    );
    const sdkLevels = async (levels: string[]) =>
      messagesOf((await h.admin.getRobotPartLogs(part.id, undefined, levels)).logs);
    assert.deepEqual(await sdkLevels(['error', 'warn']), ['lvl error', 'lvl warn']);
    assert.deepEqual(await sdkLevels(['WARN', 'Debug']), ['lvl warn', 'lvl debug']);
    assert.deepEqual(await sdkLevels([]), messagesOf((await h.admin.getRobotPartLogs(part.id)).logs));
    await expectCode(
      h.admin.getRobotPartLogs(part.id, undefined, ['error', 'verbose']),
      Code.InvalidArgument,
    );
    await expectCode(h.admin.getRobotPartLogs(part.id, undefined, ['']), Code.InvalidArgument);

    const native = async (req: PartialMessage<appApi.GetRobotPartLogsRequest>) =>
      messagesOf((await nativePage({ id: part.id, ...req })).logs);
    assert.deepEqual(await native({ errorsOnly: true }), [
      'lvl fatal',
      'lvl panic',
      'lvl dpanic',
      'lvl error',
    ]);
    assert.deepEqual(await native({ errorsOnly: false }), await sdkLevels([]));
    assert.deepEqual(await native({ errorsOnly: true, levels: ['warn', 'error', 'fatal'] }), [
      'lvl fatal',
      'lvl error',
    ]);
    const none = await nativePage({ id: part.id, errorsOnly: true, levels: ['info', 'debug'] });
    assert.deepEqual(messagesOf(none.logs), []);
    assert.equal(none.nextPageToken, '');

    // Time bounds, to the microsecond.
    const bounded = await newPart(h, 'bounds');
    const offsets: [string, number][] = [
      ['a', 999_999],
      ['b', 1_000_000],
      ['h', 1_500_122],
      ['g', 1_500_123],
      ['c', 2_000_000],
      ['j', 2_700_455],
      ['i', 2_700_456],
      ['d', 2_999_999],
      ['e', 3_000_000],
      ['f', 4_000_000],
    ];
    await bounded.push(offsets.map(([m, off]) => line(m, BASE_US + off)));
    const between = async (start: number | undefined, end: number | undefined) =>
      messagesOf(
        (
          await nativePage({
            id: bounded.id,
            ...(start === undefined ? {} : { start: tsOf(BASE_US + start) }),
            ...(end === undefined ? {} : { end: tsOf(BASE_US + end) }),
          })
        ).logs,
      );
    assert.deepEqual(await between(1_000_000, 3_000_000), ['d', 'i', 'j', 'c', 'g', 'h', 'b']);
    assert.deepEqual(await between(1_500_123, 2_700_456), ['j', 'c', 'g']);
    assert.deepEqual(await between(3_000_000, undefined), ['f', 'e']);
    assert.deepEqual(await between(undefined, 1_000_000), ['a']);
    assert.deepEqual(await between(2_000_000, 2_000_000), []);
    assert.deepEqual(await between(2_000_000, 2_000_001), ['c']);
  });

  it('times over the whole Timestamp range (years 1 to 9999) are exact through Log, pages, start/end, filters and tails', async () => {
    const part = await newPart(h, 'far-times');
    /** A Timestamp for microseconds since the epoch (a bigint: beyond 2^53 a number is not exact). */
    const tsOfUs = (us: bigint) => {
      const seconds = us / 1_000_000n - (us % 1_000_000n < 0n ? 1n : 0n);
      return { seconds, nanos: Number(us - seconds * 1_000_000n) * 1000 };
    };
    const usOfTs = (ts: { seconds: bigint; nanos: number } | undefined) =>
      ts ? ts.seconds * 1_000_000n + BigInt(ts.nanos / 1000) : undefined;
    const far = (message: string, us: bigint): WireEntry => ({ ...line(message, 0), time: tsOfUs(us) });
    // Oldest first: the range's first microseconds, a time before 1685 and one just past -2^53 µs,
    // then just past 2^53 µs, times after 2255 (two sharing one, either side of a page boundary),
    // and the range's last microsecond.
    const times: [string, bigint][] = [
      ['year 1 start', -62_135_596_800_000_000n],
      ['year 1 plus one', -62_135_596_799_999_999n],
      ['year 1600', -11_676_096_000_000_000n + 123_457n],
      ['past -2^53', -9_007_199_254_740_993n],
      ['past 2^53', 9_007_199_254_740_993n],
      ['year 3000 a', 32_503_680_000_654_321n],
      ['year 3000 b', 32_503_680_000_654_321n],
      ['year 5000', 95_617_584_000_000_001n],
      ['year 9999 end', 253_402_300_799_999_999n],
    ];
    const tail = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false });
    try {
      await part.push(times.map(([m, us]) => far(m, us)));
      await waitUntil(() => tail.batches.length === 1, 'the far times on the tail');
      assert.deepEqual(
        tail.batches[0]?.map((l) => [l.message, usOfTs(l.time)]),
        times,
        'tailed exactly',
      );
    } finally {
      tail.abort();
      await tail.ended;
    }
    const newestFirst = [...times].reverse();
    // Pages of two: each token carries a far time, to the microsecond.
    const paged: [string, bigint | undefined][] = [];
    let pageToken = '';
    do {
      const page = await nativePage({ id: part.id, limit: 2n, pageToken });
      paged.push(...page.logs.map((l): [string, bigint | undefined] => [l.message, usOfTs(l.time)]));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.deepEqual(paged, newestFirst);
    // Start (inclusive) and end (exclusive), to the microsecond, anywhere in the range.
    const between = async (start: bigint | undefined, end: bigint | undefined, filter?: string) =>
      messagesOf(
        (
          await nativePage({
            id: part.id,
            filter,
            ...(start === undefined ? {} : { start: tsOfUs(start) }),
            ...(end === undefined ? {} : { end: tsOfUs(end) }),
          })
        ).logs,
      );
    assert.deepEqual(await between(-62_135_596_800_000_000n, -62_135_596_799_999_999n), ['year 1 start']);
    assert.deepEqual(await between(-62_135_596_799_999_999n, -9_007_199_254_740_993n), [
      'year 1600',
      'year 1 plus one',
    ]);
    assert.deepEqual(await between(-9_007_199_254_740_993n, 9_007_199_254_740_994n), [
      'past 2^53',
      'past -2^53',
    ]);
    assert.deepEqual(await between(9_007_199_254_740_994n, 32_503_680_000_654_321n), []);
    assert.deepEqual(await between(32_503_680_000_654_321n, 32_503_680_000_654_322n, 'YEAR 3000'), [
      'year 3000 b',
      'year 3000 a',
    ]);
    assert.deepEqual(await between(95_617_584_000_000_002n, undefined), ['year 9999 end']);
    assert.deepEqual(await between(95_617_584_000_000_001n, 253_402_300_799_999_999n), ['year 5000']);
    assert.deepEqual(await between(253_402_300_799_999_999n, undefined), ['year 9999 end']);

    // Connect JSON carries the same times as RFC 3339 text.
    const json = await fetch(`${h.t.url}/viam.app.v1.RobotService/Log`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${part.token}` },
      body: JSON.stringify({
        id: part.id,
        logs: [
          { level: 'info', message: 'json first', time: '0001-01-01T00:00:00.000001Z' },
          { level: 'info', message: 'json last', time: '9999-12-31T23:59:59.999999Z' },
        ],
      }),
    });
    assert.equal(json.status, 200, await json.text());
    const fromJson = (await nativePage({ id: part.id, filter: 'json' })).logs;
    assert.deepEqual(
      fromJson.map((l) => [l.message, usOfTs(l.time)]),
      [
        ['json last', 253_402_300_799_999_999n],
        ['json first', -62_135_596_799_999_999n],
      ],
    );
  });

  it('Log: a batch with one bad level, or 1001 entries, is INVALID_ARGUMENT and stores (and tails) nothing; 1000 is accepted', async () => {
    const part = await newPart(h, 'refusals');
    await part.push([line('kept 0', BASE_US), line('kept 1', BASE_US + 1)]);
    const tail = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false });
    try {
      await expectCode(
        part.push([
          line('bad-batch 0', BASE_US + 10, 'info'),
          line('bad-batch 1', BASE_US + 11, 'WARN'),
          line('bad-batch 2', BASE_US + 12, 'verbose'),
          line('bad-batch 3', BASE_US + 13, 'error'),
        ]),
        Code.InvalidArgument,
      );
      await expectCode(part.push([line('bad-batch 4', BASE_US + 14, '')]), Code.InvalidArgument);
      const oversized = Array.from({ length: 1001 }, (_, i) => line(`oversized ${i}`, BASE_US + 100 + i));
      await expectCode(part.push(oversized), Code.InvalidArgument);
      assert.deepEqual(messagesOf(await readAll(part.id)), ['kept 1', 'kept 0']);

      await part.push(Array.from({ length: 1000 }, (_, i) => line(`bulk ${i}`, BASE_US + 5000)));
      const all = messagesOf(await readAll(part.id));
      assert.deepEqual(all, [
        ...Array.from({ length: 1000 }, (_, i) => `bulk ${999 - i}`),
        'kept 1',
        'kept 0',
      ]);

      await waitUntil(() => tail.batches.length > 0, 'the accepted batch on the tail');
      await sleep(100);
      assert.equal(tail.batches.length, 1, 'only the accepted call reaches the tail, as one message');
      assert.deepEqual(
        tail.messages()[0],
        Array.from({ length: 1000 }, (_, i) => `bulk ${i}`),
      );
    } finally {
      tail.abort();
      await tail.ended;
    }
  });

  it('Log over gRPC-web and Connect JSON (curl) stores the same entries as over gRPC; a bad level is refused there too', async () => {
    const part = await newPart(h, 'other-wires');
    const caller = { defined: true, file: 'main.go', line: 7 };
    const webRobot = createPromiseClient(RobotService, grpcWebTransport(h.t.url));
    await webRobot.log(
      {
        id: part.id,
        logs: [{ ...line('over grpc-web', BASE_US + 1, 'WARN'), caller: structFromObject(caller) }],
      },
      bearer(part.token),
    );
    const postLog = (logs: unknown[]) =>
      fetch(`${h.t.url}/viam.app.v1.RobotService/Log`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${part.token}` },
        body: JSON.stringify({ id: part.id, logs }),
      });
    const json = {
      host: 'rover.lan',
      level: 'Error',
      // A millisecond after the gRPC-web entry, with microseconds: '…T..:..:..mmm789Z'.
      time: new Date(BASE_US / 1000 + 1).toISOString().replace('Z', '789Z'),
      loggerName: 'rdk.test',
      message: 'over connect json',
      caller,
      fields: [{ attempt: 2 }],
    };
    const ok = await postLog([json]);
    assert.equal(ok.status, 200, await ok.text());
    const refused = await postLog([{ ...json, level: 'loud', message: 'refused json' }]);
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { code: string }).code, 'invalid_argument');

    const [fromJson, fromWeb] = await readAll(part.id);
    assert.equal((await readAll(part.id)).length, 2);
    assert.ok(fromJson && fromWeb);
    assert.deepEqual(
      [fromJson.message, fromJson.level, fromJson.caller?.toJson(), fromJson.fields.map((f) => f.toJson())],
      ['over connect json', 'error', caller, [{ attempt: 2 }]],
    );
    assert.equal(
      Number(fromJson.time?.seconds) * 1_000_000 + (fromJson.time?.nanos ?? 0) / 1000,
      BASE_US + 1000 + 789,
    );
    assert.deepEqual(
      [fromWeb.message, fromWeb.level, fromWeb.caller?.toJson()],
      ['over grpc-web', 'warn', caller],
    );
  });

  it('access: an operator is PERMISSION_DENIED, another organization and an unknown part are NOT_FOUND, a part token is refused', async () => {
    await main.push([line('secret sauce', BASE_US)]);
    const org = h.t.admin.organizationId;
    const keyToken = async (id: string, key: string) =>
      (await h.auth.authenticate({ entity: id, credentials: { type: 'api-key', payload: key } })).accessToken;
    const opKey = await h.admin.createKey([organizationRole('operator', org)], 'logs-operator');
    const operator = (await h.t.clientForKey(opKey.id, opKey.key)).appClient;
    const operatorToken = await keyToken(opKey.id, opKey.key);
    // The operator does see the part; reading its logs is what it may not do.
    assert.equal((await operator.getRobotPart(main.id)).part?.id, main.id);

    const orgB = await h.admin.createOrganization('Org B');
    assert.ok(orgB);
    const bKey = await h.admin.createKey([organizationRole('owner', orgB.id)], 'b-owner');
    const bOwner = (await h.t.clientForKey(bKey.id, bKey.key)).appClient;
    const bToken = await keyToken(bKey.id, bKey.key);

    const tailOf = (id: string, token: string) => openTail(h.app, token, { id, errorsOnly: false });
    const refusals: [string, string, AppClient | undefined, string, Code][] = [
      ['operator', main.id, operator, operatorToken, Code.PermissionDenied],
      ['other org owner', main.id, bOwner, bToken, Code.NotFound],
      ['owner, unknown part', randomUUID(), h.admin, h.ownerToken, Code.NotFound],
      ['part token', main.id, undefined, main.token, Code.PermissionDenied],
    ];
    const refused = async (who: string, call: Promise<unknown>, code: Code) => {
      try {
        await expectCode(within(call, 5000, `${who} to be refused`), code);
      } catch (error) {
        throw new Error(`${who}: ${(error as Error).message}`);
      }
    };
    for (const [who, id, sdk, token, code] of refusals) {
      if (sdk) {
        await refused(`${who} (SDK GetRobotPartLogs)`, sdk.getRobotPartLogs(id), code);
        await refused(
          `${who} (SDK TailRobotPartLogs)`,
          sdk.tailRobotPartLogs(id, [], undefined, false),
          code,
        );
      }
      await refused(`${who} (GetRobotPartLogs)`, nativePage({ id }, token), code);
      await refused(`${who} (TailRobotPartLogs)`, tailOf(id, token), code);
    }
    // The same part, read by its owner, is fine.
    assert.ok(messagesOf((await h.admin.getRobotPartLogs(main.id)).logs).includes('secret sauce'));
  });

  it('tail (native): exactly what is pushed after it opens, one message per call; errors_only, filter; isolation; cancel', async () => {
    const part = await newPart(h, 'tailed');
    const other = await newPart(h, 'untailed');
    // Pushed just before the tails open: none of it may show up on them.
    await part.push([line('before the tail 1', BASE_US), line('before the tail 2', BASE_US + 1, 'error')]);
    await other.push([line('other before', BASE_US)]);
    const a = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false });
    const b = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false });
    const errors = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: true });
    const needle = await openTail(h.app, h.ownerToken, { id: part.id, errorsOnly: false, filter: 'NEEDLE' });
    const elsewhere = await openTail(h.app, h.ownerToken, { id: other.id, errorsOnly: false });
    const tails = [a, b, errors, needle, elsewhere];
    try {
      const rich: WireEntry = {
        host: 'rover.lan',
        level: 'WARN',
        time: { seconds: BigInt(BASE_US / 1_000_000 + 20), nanos: 987_654_321 },
        loggerName: 'rdk.tail',
        message: 'two a',
        caller: structFromObject({ File: 'tail.go', Line: 7 }),
        stack: 'stack here',
        fields: [structFromObject({ k: 'v' })],
      };
      await part.push([
        line('one a', BASE_US + 10_000_000),
        line('one b needle', BASE_US + 11_000_000, 'error'),
      ]);
      await part.push([rich]);
      await part.push([
        line('three a', BASE_US + 30_000_000, 'fatal'),
        line('three NeEdLe b', BASE_US + 31_000_000, 'debug'),
        line('three c', BASE_US + 32_000_000, 'DPANIC'),
      ]);
      await waitUntil(
        () =>
          a.batches.length >= 3 &&
          b.batches.length >= 3 &&
          errors.batches.length >= 2 &&
          needle.batches.length >= 2,
        'the three calls on the tails',
      );
      await sleep(150);
      const everything = [['one a', 'one b needle'], ['two a'], ['three a', 'three NeEdLe b', 'three c']];
      assert.deepEqual(a.messages(), everything);
      assert.deepEqual(b.messages(), everything);
      assert.deepEqual(errors.messages(), [['one b needle'], ['three a', 'three c']]);
      assert.deepEqual(needle.messages(), [['one b needle'], ['three NeEdLe b']]);
      assert.deepEqual(elsewhere.messages(), []);

      const got = a.batches[1]?.[0];
      assert.ok(got);
      assert.equal(got.level, 'warn');
      assert.equal(got.host, 'rover.lan');
      assert.equal(got.loggerName, 'rdk.tail');
      assert.equal(got.time?.seconds, BigInt(BASE_US / 1_000_000 + 20));
      assert.equal(got.time?.nanos, 987_654_000);
      assert.deepEqual(got.caller?.toJson(), { File: 'tail.go', Line: 7 });
      assert.equal(got.stack, 'stack here');
      assert.deepEqual(
        got.fields.map((f) => f.toJson()),
        [{ k: 'v' }],
      );
      assert.deepEqual(
        a.batches[2]?.map((l) => l.level),
        ['fatal', 'debug', 'dpanic'],
      );

      // Cancel one tail: it ends on the client; Log still works; the others keep receiving.
      a.abort();
      const aEnd = await within(a.ended, 3000, 'the cancelled tail to end');
      if (aEnd !== undefined) assert.equal(ConnectError.from(aEnd).code, Code.Canceled);
      await part.push([line('four NEEDLE', BASE_US + 40_000_000, 'error')]);
      await other.push([line('other after', BASE_US + 40_000_000)]);
      await waitUntil(
        () =>
          b.batches.length >= 4 &&
          errors.batches.length >= 3 &&
          needle.batches.length >= 3 &&
          elsewhere.batches.length >= 1,
        'the tails after the cancel',
      );
      await sleep(100);
      assert.deepEqual(b.messages(), [...everything, ['four NEEDLE']]);
      assert.deepEqual(errors.messages().at(-1), ['four NEEDLE']);
      assert.deepEqual(needle.messages().at(-1), ['four NEEDLE']);
      assert.deepEqual(elsewhere.messages(), [['other after']]);
      assert.equal(a.batches.length, 3, 'the cancelled tail received nothing more');
      assert.equal(messagesOf((await h.admin.getRobotPartLogs(part.id)).logs)[0], 'four NEEDLE');
    } finally {
      for (const tail of tails) tail.abort();
      await Promise.all(tails.map((tail) => tail.ended));
    }
  });

  it('tail (SDK): entries reach the queue; the promise resolves when the server shuts down', async () => {
    const s = await harness(await newDatabase());
    let stopped = false;
    try {
      const part = await newPart(s, 'sdk-tail');
      await part.push([line('sdk-tail before', BASE_US)]);
      const queue: commonApi.LogEntry[] = [];
      const outcome = s.admin.tailRobotPartLogs(part.id, queue, 'SDK-TAIL', false).then(
        () => 'resolved',
        (error: unknown) => error,
      );
      // The SDK hides the first (empty) message: push markers until one comes through.
      const deadline = Date.now() + 5000;
      for (let n = 0; !queue.some((l) => l.message.startsWith('sdk-tail marker')); n++) {
        assert.ok(Date.now() < deadline, 'no marker reached the SDK tail within 5 s');
        await part.push([line(`sdk-tail marker ${n}`, BASE_US + 1000 + n)]);
        await sleep(50);
      }
      await part.push([
        line('sdk-tail known 1', BASE_US + 10_000_000, 'Error'),
        line('unrelated', BASE_US + 10_000_001),
        line('SDK-TAIL known 2', BASE_US + 10_000_002, 'debug'),
      ]);
      await part.push([line('sdk-tail known 3', BASE_US + 10_000_003)]);
      const known = () => queue.filter((l) => !l.message.startsWith('sdk-tail marker'));
      await waitUntil(() => known().length >= 3, 'the known entries in the SDK queue');
      await sleep(100);
      assert.deepEqual(messagesOf(known()), ['sdk-tail known 1', 'SDK-TAIL known 2', 'sdk-tail known 3']);
      assert.deepEqual(
        known().map((l) => l.level),
        ['error', 'debug', 'info'],
      );
      assert.ok(!queue.some((l) => l.message === 'sdk-tail before'));

      const closing = Date.now();
      await within(s.t.server.close(), 5000, 'server close with an SDK tail open');
      assert.ok(Date.now() - closing < 5000);
      assert.equal(await within(outcome, 3000, 'the SDK tail promise to settle'), 'resolved');
      await s.t.stop();
      stopped = true;
    } finally {
      if (!stopped) await s.t.stop();
    }
  });

  it('slow tail: with FLOTILLA_LOG_TAIL_BUFFER=50 it ends RESOURCE_EXHAUSTED; ingestion and a prompt tail are unaffected', async () => {
    const s = await harness(await newDatabase(), { FLOTILLA_LOG_TAIL_BUFFER: '50' });
    let slow: StalledTail | undefined;
    let promptTail: NativeTail | undefined;
    try {
      const own = (t: TestServer) => createPromiseClient(AppService, grpcTransport(t.url));
      // Each on a connection of its own, as separate clients would be.
      const pusher = createPromiseClient(RobotService, grpcTransport(s.t.url));
      const part = await partFor(s, await s.admin.newRobotPart(s.machineId, 'chatty'), pusher);
      const prompt = await openTail(own(s.t), s.ownerToken, { id: part.id, errorsOnly: false });
      promptTail = prompt;

      slow = await openStalledTail(s.t.url, s.ownerToken, part.id);
      // ~1 KB per entry: 1000 entries (~1 MB) far exceed the HTTP/2 window plus 50 entries.
      const calls = 100;
      const perCall = 10;
      const pad = 'x'.repeat(1000);
      const sequence = Array.from({ length: calls * perCall }, (_, i) => `chatty ${i} ${pad}`);
      let pushMs = 0;
      let slowest = 0;
      for (let c = 0; c < calls; c++) {
        const callStart = Date.now();
        await part.push(
          sequence.slice(c * perCall, (c + 1) * perCall).map((m, i) => line(m, BASE_US + c * perCall + i)),
        );
        const took = Date.now() - callStart;
        slowest = Math.max(slowest, took);
        pushMs += took;
        // The prompt client keeps up by definition: it has each batch before the next is pushed
        // (on a busy machine an in-process reader could otherwise fall 5 batches behind too).
        await waitUntil(() => prompt.batches.length > c, `the prompt tail to get batch ${c}`);
      }
      assert.ok(slowest < 2000, `a Log call took ${slowest} ms while a tail was stalled`);
      assert.ok(pushMs < 20_000, `pushing took ${pushMs} ms`);

      await waitUntil(
        () => prompt.batches.flat().length >= sequence.length,
        'the prompt tail to get everything',
        15_000,
      );
      await sleep(100);
      assert.deepEqual(prompt.messages().flat(), sequence);
      assert.equal(prompt.batches.length, calls);
      assert.equal(await Promise.race([prompt.ended, sleep(0).then(() => 'open')]), 'open');

      // Now read the stalled stream: what was already in flight, then RESOURCE_EXHAUSTED.
      const {
        batches: slowBatches,
        status,
        message,
      } = await within(slow.resume(), 5000, 'the stalled tail to end');
      const slowGot = slowBatches.flat();
      assert.equal(
        status,
        String(Code.ResourceExhausted),
        `the stalled tail ended with grpc-status ${status}: ${message}`,
      );
      assert.ok(slowGot.length < sequence.length, 'the stalled tail got everything');
      assert.deepEqual(slowGot, sequence.slice(0, slowGot.length), 'the stalled tail got a prefix, in order');

      // Logs are all stored regardless.
      assert.equal((await s.admin.getRobotPartLogs(part.id)).logs[0]?.message, sequence.at(-1));
    } finally {
      slow?.destroy();
      promptTail?.abort();
      await s.t.stop();
    }
  });

  it('shutdown: an open native tail ends cleanly and close() completes promptly', async () => {
    const s = await harness(await newDatabase());
    try {
      const part = await newPart(s, 'closing');
      const tail = await openTail(s.app, s.ownerToken, { id: part.id, errorsOnly: false });
      const idle = await openTail(s.app, s.ownerToken, { id: part.id, errorsOnly: true });
      await part.push([line('last words', BASE_US)]);
      await waitUntil(() => tail.batches.length === 1, 'the entry on the tail');
      const closing = Date.now();
      await within(s.t.server.close(), 5000, 'server close with tails open');
      const took = Date.now() - closing;
      assert.ok(took < 5000, `close took ${took} ms`);
      assert.equal(await within(tail.ended, 2000, 'the tail to end'), undefined);
      assert.equal(await within(idle.ended, 2000, 'the idle tail to end'), undefined);
      assert.deepEqual(tail.messages(), [['last words']]);
      assert.deepEqual(idle.messages(), []);
    } finally {
      await s.t.stop();
    }
  });
});
