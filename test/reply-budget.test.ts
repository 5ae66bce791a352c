import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PartialMessage } from '@bufbuild/protobuf';
import { Code, createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { appApi, type commonApi } from '@viamrobotics/sdk';
import { fitLogEntry, logEntryBytes } from '../src/domain/log-query.js';
import type { LogEntry } from '../src/domain/models.js';
import { MAX_REPLY_ENTRY_BYTES, REPLY_BUDGET_BYTES, structBytes } from '../src/domain/reply-budget.js';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { structFromObject } from '../src/rpc/wire-values.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';
import { storePartConfigDirectly } from './support/direct-writes.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Hardening: every reply stays within what gRPC clients accept by default (4 MiB). Log pages,
 * part history and fragment history are read through a native gRPC client that refuses
 * anything larger, as grpc-go, grpc-java and C-core do.
 */

const MiB = 1024 * 1024;
/** What gRPC C-core, grpc-go and grpc-java accept by default. */
const CLIENT_LIMIT = 4 * MiB;

const BASE_US = (Math.floor(Date.now() / 1000) - 3600) * 1_000_000;
const tsOf = (us: number) => ({
  seconds: BigInt(Math.floor(us / 1_000_000)),
  nanos: (us % 1_000_000) * 1000,
});

const entry = (message: string, timeUs: number, fields: Record<string, unknown>[] = []) => ({
  host: 'rover.lan',
  level: 'info',
  time: tsOf(timeUs),
  loggerName: 'rdk.test',
  message,
  stack: '',
  fields: fields.map(structFromObject),
});

/** A config that passes the server's checks and whose JSON is about `bytes` long. */
const bigConfig = (bytes: number, fill: string) => ({
  components: [
    {
      name: 'blob',
      api: 'rdk:component:generic',
      model: 'rdk:builtin:fake',
      attributes: { blob: fill.repeat(bytes) },
    },
  ],
});

describe('reply budget: sizes are upper bounds of the encoding', () => {
  it('a Struct is measured exactly, however it is built', () => {
    const values: Record<string, unknown>[] = [
      {},
      { a: 1, b: 'two', c: true, d: null, e: [], f: {} },
      { zeros: new Array<number>(5000).fill(0) },
      { nested: [[[[{ deep: [1, [2, [3, { x: 'ü€😀' }]]] }]]]] },
      { long: 'x'.repeat(300_000), ключ: 'значение', '😀': ['😀'.repeat(70_000)] },
    ];
    for (const value of values) {
      assert.equal(
        structBytes(value),
        structFromObject(value).toBinary().length,
        JSON.stringify(value).slice(0, 80),
      );
    }
  });

  it('a log entry is measured at least as large as it encodes, and cut down to fit', () => {
    const sample: LogEntry = {
      host: 'h',
      level: 'error',
      timeUs: BigInt(BASE_US),
      loggerName: 'l',
      message: 'é'.repeat(3 * MiB),
      caller: { File: 'x.go', Line: 1, blob: 'c'.repeat(100_000) },
      stack: 's'.repeat(300_000),
      fields: Array.from({ length: 5 }, (_, i) => ({ i, blob: 'f'.repeat(400_000) })),
    };
    const encoded = (e: LogEntry) =>
      new appApi.GetRobotPartLogsResponse({
        logs: [
          {
            ...e,
            time: tsOf(Number(e.timeUs)),
            ...(e.caller ? { caller: structFromObject(e.caller) } : {}),
            fields: e.fields.map(structFromObject),
          },
        ],
      }).toBinary().length;
    assert.ok(logEntryBytes(sample) >= encoded(sample));
    const { entry: cut, bytes } = fitLogEntry(sample, MAX_REPLY_ENTRY_BYTES);
    assert.ok(bytes <= MAX_REPLY_ENTRY_BYTES && encoded(cut) <= bytes, `${encoded(cut)} > ${bytes}`);
    assert.ok(
      /^é+… \[truncated by Flotilla: 6291456 bytes\]$/.test(cut.message),
      'the message is cut, with a marker',
    );
    assert.equal(cut.stack, sample.stack, 'a stack under 512 KiB is kept');
    assert.match(String(cut.caller?._truncated), /^caller of \d+ bytes omitted by Flotilla/);
    assert.equal(cut.fields.length, 3, 'two fields of 400 KB fit in 1 MiB, then a note');
    assert.match(String(cut.fields[2]?._truncated), /^3 of 5 fields \(\d+ bytes\) omitted by Flotilla/);
    const small = { ...sample, message: 'short', caller: undefined, stack: '', fields: [] };
    assert.equal(fitLogEntry(small, MAX_REPLY_ENTRY_BYTES).entry, small, 'an entry that fits is untouched');
  });
});

interface Harness {
  t: TestServer;
  database: TestDatabase;
  app: PromiseClient<typeof AppService>;
  /** The same service through a client that refuses replies over 4 MiB. */
  limited: PromiseClient<typeof AppService>;
  robot: PromiseClient<typeof RobotService>;
  auth: PromiseClient<typeof AuthService>;
  token: string;
  machineId: string;
}

async function harness(database: TestDatabase): Promise<Harness> {
  // Requests may be large here (a 5 MB log entry); replies must not be.
  const t = await startTestServer(database, { FLOTILLA_MAX_MESSAGE_BYTES: String(32 * MiB) });
  try {
    const transport = grpcTransport(t.url);
    const limitedTransport = grpcTransport(t.url, { readMaxBytes: CLIENT_LIMIT });
    const auth = createPromiseClient(AuthService, transport);
    const app = createPromiseClient(AppService, transport);
    const token = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    const location = await app.createLocation(
      { organizationId: t.admin.organizationId, name: 'Budget Yard' },
      bearer(token),
    );
    const machineId = (
      await app.newRobot({ location: location.location?.id ?? '', name: 'Big' }, bearer(token))
    ).id;
    return {
      t,
      database,
      app,
      limited: createPromiseClient(AppService, limitedTransport),
      robot: createPromiseClient(RobotService, transport),
      auth,
      token,
      machineId,
    };
  } catch (error) {
    await t.stop();
    throw error;
  }
}

forEachDialect('reply budget: replies stay under 4 MiB', (newDatabase) => {
  let h: Harness;

  before(async () => {
    h = await harness(await newDatabase());
  });
  after(() => h.t.stop());

  /** A new part of the machine, and a pusher of its logs (RobotService.Log with its token). */
  async function newPart(name: string) {
    const id = (await h.app.newRobotPart({ robotId: h.machineId, partName: name }, bearer(h.token))).partId;
    const secret = (await h.app.getRobotPart({ id }, bearer(h.token))).part?.secrets[0]?.secret ?? '';
    const partToken = (
      await h.auth.authenticate({ entity: id, credentials: { type: 'robot-secret', payload: secret } })
    ).accessToken;
    return {
      id,
      push: (logs: PartialMessage<commonApi.LogEntry>[]) => h.robot.log({ id, logs }, bearer(partToken)),
    };
  }

  /** Every page of a part's logs through the 4 MiB client, with each page's encoded size. */
  async function readPages(id: string) {
    const pages: { messages: string[]; logs: commonApi.LogEntry[]; bytes: number; token: string }[] = [];
    let pageToken = '';
    do {
      assert.ok(pages.length < 50, 'paging does not end');
      const page = await h.limited.getRobotPartLogs({ id, pageToken }, bearer(h.token));
      pages.push({
        logs: page.logs,
        messages: page.logs.map((l) => l.message),
        bytes: page.toBinary().length,
        token: page.nextPageToken,
      });
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return pages;
  }

  it('GetRobotPartLogs: 100 entries of ~45 KB page under 4 MiB, each exactly once, newest first', async () => {
    const part = await newPart('chatty');
    const messageOf = (i: number) => `${String(i).padStart(3, '0')} ${'x'.repeat(45_000)}`;
    for (let call = 0; call < 10; call++) {
      await part.push(
        Array.from({ length: 10 }, (_, k) => entry(messageOf(call * 10 + k), BASE_US + call * 10 + k)),
      );
    }
    const pages = await readPages(part.id);
    assert.ok(pages.length >= 2, `the 4.5 MB of entries came in ${pages.length} page(s)`);
    for (const [i, page] of pages.entries()) {
      assert.ok(page.bytes < CLIENT_LIMIT, `page ${i} is ${page.bytes} bytes`);
      assert.ok(page.bytes <= REPLY_BUDGET_BYTES + 4096, `page ${i} is ${page.bytes} bytes, over the budget`);
      assert.ok(page.messages.length > 0, `page ${i} is empty`);
    }
    assert.ok((pages[0]?.messages.length ?? 0) < 100, 'the first page stopped before the budget');
    assert.deepEqual(
      pages.flatMap((p) => p.messages),
      Array.from({ length: 100 }, (_, i) => messageOf(99 - i)),
      'all 100 entries, once each, newest first',
    );
  });

  it('GetRobotPartLogs: an entry larger than the budget comes back cut, with a visible marker', async () => {
    const part = await newPart('huge');
    const bigMessage = `start ${'m'.repeat(5_000_000 - 6)}`;
    const bigFields = Array.from({ length: 8 }, (_, i) => ({ i, blob: 'f'.repeat(600_000) }));
    await part.push([entry('before', BASE_US)]);
    await part.push([entry(bigMessage, BASE_US + 1)]);
    await part.push([entry('many fields', BASE_US + 2, bigFields)]);
    await part.push([entry('after', BASE_US + 3)]);
    const pages = await readPages(part.id);
    for (const [i, page] of pages.entries())
      assert.ok(page.bytes < CLIENT_LIMIT, `page ${i} is ${page.bytes} bytes`);
    const logs = pages.flatMap((p) => p.logs);
    assert.equal(logs.length, 4, 'every entry once');
    const [newest, withFields, withMessage, oldest] = logs;
    assert.equal(newest?.message, 'after');
    assert.equal(oldest?.message, 'before');

    assert.ok(withMessage);
    assert.ok(
      /^start m+… \[truncated by Flotilla: 5000000 bytes\]$/.test(withMessage.message),
      `not cut as expected: …${withMessage.message.slice(-80)}`,
    );
    assert.ok(withMessage.message.length > 3_000_000, 'most of the message is kept');

    assert.ok(withFields);
    assert.equal(withFields.message, 'many fields', 'a message that fits is kept');
    const fields = withFields.fields.map((f) => f.toJson()) as Record<string, unknown>[];
    assert.deepEqual(fields[0], bigFields[0], 'the fields that fit in 1 MiB are kept as they were');
    assert.equal(fields.length, 2);
    assert.match(String(fields[1]?._truncated), /^7 of 8 fields \(\d+ bytes\) omitted by Flotilla/);
  });

  it('GetRobotPartHistory: ~1 MiB configs, newest first, as many as fit under the budget', async () => {
    const id = (await h.app.newRobotPart({ robotId: h.machineId, partName: 'configured' }, bearer(h.token)))
      .partId;
    const fills = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    for (const fill of fills) {
      await h.app.updateRobotPart(
        { id, name: 'configured', robotConfig: structFromObject(bigConfig(1_000_000, fill)) },
        bearer(h.token),
      );
    }
    const reply = await h.limited.getRobotPartHistory({ id }, bearer(h.token));
    assert.ok(reply.toBinary().length <= REPLY_BUDGET_BYTES + 4096, `${reply.toBinary().length} bytes`);
    // Seven updates: the first entry holds the empty config, then a to f; each of those is ~1 MB.
    const blobs = reply.history.map((e) => {
      const config = e.old?.robotConfig?.toJson() as ReturnType<typeof bigConfig>;
      return config.components[0]?.attributes.blob.slice(0, 1);
    });
    assert.deepEqual(blobs, ['f', 'e', 'd'], 'the newest three fit; older entries are left out');
  });

  it('GetRobotPartHistory: an entry too large for any reply has its config replaced by a note', async () => {
    const id = (await h.app.newRobotPart({ robotId: h.machineId, partName: 'numbers' }, bearer(h.token)))
      .partId;
    // 700 KB of JSON (under the 1 MiB config limit) that encodes as a 3.85 MB Struct: over the
    // encoded limit, so saving it is refused, but a part stored earlier can hold it.
    const numbers = {
      components: [
        {
          name: 'n',
          api: 'rdk:component:generic',
          model: 'rdk:builtin:fake',
          attributes: { zeros: new Array<number>(350_000).fill(0) },
        },
      ],
    };
    const update = (robotConfig: Record<string, unknown>) =>
      h.app.updateRobotPart(
        { id, name: 'numbers', robotConfig: structFromObject(robotConfig) },
        bearer(h.token),
      );
    // Saving it today is refused (it would not fit a reply); an older version could have stored it.
    await assert.rejects(update(numbers), (e: Error & { code?: unknown }) => e.code === Code.InvalidArgument);
    await storePartConfigDirectly(h.database, h.t.dataDir, id, numbers);
    await update({});
    const reply = await h.limited.getRobotPartHistory({ id }, bearer(h.token));
    assert.ok(reply.toBinary().length < CLIENT_LIMIT);
    assert.equal(reply.history.length, 1, 'the one entry, cut, is returned');
    const config = reply.history[0]?.old?.robotConfig?.toJson() as Record<string, unknown>;
    assert.match(
      String(config._truncated),
      new RegExp(`^config of ${JSON.stringify(numbers).length} bytes omitted by Flotilla`),
    );
    assert.equal(reply.history[0]?.old?.name, 'numbers', 'the rest of the old part is kept');
  });

  it('GetFragmentHistory: pages stop before the budget and hand a next_page_token', async () => {
    const orgId = h.t.admin.organizationId;
    const created = await h.app.createFragment(
      { name: 'heavy', organizationId: orgId, config: structFromObject(bigConfig(1_000_000, '0')) },
      bearer(h.token),
    );
    const id = created.fragment?.id ?? '';
    const fills = ['1', '2', '3', '4', '5'];
    for (const fill of fills) {
      await h.app.updateFragment(
        { id, name: 'heavy', config: structFromObject(bigConfig(1_000_000, fill)) },
        bearer(h.token),
      );
    }
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      assert.ok(++pages < 20, 'paging does not end');
      const page = await h.limited.getFragmentHistory({ id, pageToken, pageLimit: 100n }, bearer(h.token));
      const bytes = page.toBinary().length;
      assert.ok(bytes <= REPLY_BUDGET_BYTES + 4096, `page ${pages} is ${bytes} bytes`);
      assert.ok(page.history.length > 0, `page ${pages} is empty`);
      for (const e of page.history) {
        const config = e.config?.toJson() as ReturnType<typeof bigConfig>;
        seen.push(`${e.revision}:${config.components[0]?.attributes.blob.slice(0, 1)}`);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    assert.ok(pages > 1, 'the ~10 MB of history took more than one page');
    assert.deepEqual(seen, ['5:4', '4:3', '3:2', '2:1', '1:0'], 'every old revision once, newest first');
  });
});
