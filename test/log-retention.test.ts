import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import type { AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import type { LogCursor } from '../src/domain/log-query.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { enforceRetention, type RetentionOps } from '../src/store/log-retention.js';
import { bearer, grpcTransport } from './support/clients.js';
import { forEachDialect } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Retention runs in the background: a pass a second after start and then every second here,
 * keeping at most 50 entries per part and nothing older than an hour. Entries are pushed by the
 * part over native gRPC and read back by the owner.
 */

const MAX_PER_PART = 50;
const HOUR_US = 3600 * 1_000_000;

/** A log entry at `timeUs` (microseconds since the epoch). */
const entry = (message: string, timeUs: number) => ({
  host: 'rover',
  level: 'info',
  loggerName: 'rdk',
  message,
  stack: '',
  fields: [],
  time: { seconds: BigInt(Math.floor(timeUs / 1_000_000)), nanos: (timeUs % 1_000_000) * 1000 },
});

/** Entries at the first and the last microsecond of Timestamp's range (years 1 and 9999). */
const firstEver = (message: string) => ({
  ...entry(message, 0),
  time: { seconds: -62_135_596_800n, nanos: 0 },
});
const lastEver = (message: string) => ({
  ...entry(message, 0),
  time: { seconds: 253_402_300_799n, nanos: 999_999_000 },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachDialect('log retention', (newDatabase) => {
  let t: TestServer;
  let admin: AppClient;
  let robot: PromiseClient<typeof RobotService>;
  let app: PromiseClient<typeof AppService>;
  let adminToken: string;
  const parts: { id: string; token: string }[] = [];

  /** Every stored message of a part, newest first, read through all pages. */
  async function messagesOf(partId: string, filter?: string): Promise<string[]> {
    const out: string[] = [];
    let pageToken = '';
    do {
      const page = await app.getRobotPartLogs({ id: partId, filter, pageToken }, bearer(adminToken));
      out.push(...page.logs.map((l) => l.message));
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** Polls until `check` passes, for at most `ms`. */
  async function eventually(check: () => Promise<void>, ms = 8000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  }

  before(async () => {
    t = await startTestServer(await newDatabase(), {
      FLOTILLA_LOG_MAX_ENTRIES_PER_PART: String(MAX_PER_PART),
      FLOTILLA_LOG_MAX_AGE: '1h',
      FLOTILLA_LOG_RETENTION_INTERVAL: '1',
    });
    admin = (await t.clientForKey(t.admin.apiKeyId, t.admin.apiKey)).appClient;
    const transport = grpcTransport(t.url);
    robot = createPromiseClient(RobotService, transport);
    app = createPromiseClient(AppService, transport);
    const auth = createPromiseClient(AuthService, transport);
    adminToken = (
      await auth.authenticate({
        entity: t.admin.apiKeyId,
        credentials: { type: 'api-key', payload: t.admin.apiKey },
      })
    ).accessToken;
    const location = await admin.createLocation(t.admin.organizationId, 'Yard');
    assert.ok(location);
    for (const name of ['Keeper', 'Chatty']) {
      const machineId = await admin.newRobot(location.id, name);
      const part = (await admin.getRobotParts(machineId))[0];
      const secret = (await admin.getRobotPart(part?.id ?? '')).part?.secrets[0]?.secret;
      assert.ok(part && secret);
      const { accessToken } = await auth.authenticate({
        entity: part.id,
        credentials: { type: 'robot-secret', payload: secret },
      });
      parts.push({ id: part.id, token: accessToken });
    }
  });
  after(() => t.stop());

  it('drops entries past the maximum age and the oldest beyond the count per part; the rest, and search, stay right', async () => {
    const [keeper, chatty] = parts;
    assert.ok(keeper && chatty);
    const now = Date.now() * 1000;
    // Keeper: 10 recent entries, one in the year 9999 (kept: not old), and 5 from two hours ago
    // and one from the year 1 (expired).
    await robot.log(
      {
        id: keeper.id,
        logs: [
          firstEver('year 1 needle-old'),
          ...Array.from({ length: 5 }, (_, i) => entry(`stale ${i} needle-old`, now - 2 * HOUR_US + i)),
          ...Array.from({ length: 10 }, (_, i) => entry(`fresh ${i} needle-keep`, now - 1000 + i)),
          lastEver('year 9999 needle-keep'),
        ],
      },
      bearer(keeper.token),
    );
    // Chatty: one entry from the year 1 (expired), then 130 recent entries in batches, more than
    // it may keep.
    await robot.log({ id: chatty.id, logs: [firstEver('chatty year 1')] }, bearer(chatty.token));
    for (let b = 0; b < 13; b++) {
      await robot.log(
        {
          id: chatty.id,
          logs: Array.from({ length: 10 }, (_, i) =>
            entry(`chatty ${b * 10 + i}`, now - 100_000 + b * 10 + i),
          ),
        },
        bearer(chatty.token),
      );
    }

    await eventually(async () => {
      assert.deepEqual(await messagesOf(keeper.id), [
        'year 9999 needle-keep',
        ...Array.from({ length: 10 }, (_, i) => `fresh ${9 - i} needle-keep`),
      ]);
      assert.deepEqual(
        await messagesOf(chatty.id),
        Array.from({ length: MAX_PER_PART }, (_, i) => `chatty ${129 - i}`),
      );
    });

    // Search agrees with what is stored, once the index has caught up as well as before.
    assert.deepEqual(await messagesOf(keeper.id, 'needle-old'), []);
    assert.equal((await messagesOf(keeper.id, 'NEEDLE-KEEP')).length, 11);
    // 'chatty 12' and 'chatty 120'-'129' contain it; only the latter are kept.
    assert.deepEqual(
      await messagesOf(chatty.id, 'TTY 12'),
      Array.from({ length: 10 }, (_, i) => `chatty ${129 - i}`),
    );

    // Entries pushed after the pass are indexed and found like any other.
    await robot.log(
      { id: keeper.id, logs: [entry('after retention needle-new', Date.now() * 1000)] },
      bearer(keeper.token),
    );
    await sleep(1500);
    assert.deepEqual(await messagesOf(keeper.id, 'needle-new'), ['after retention needle-new']);
    assert.equal((await messagesOf(keeper.id)).length, 12);
  });
});

it('the age cutoff is exact to the microsecond; a maximum age reaching back before the year 1 expires nothing', async () => {
  const through: LogCursor[] = [];
  const ops: RetentionOps = {
    partIds: () => ['p'],
    firstBeyond: () => undefined,
    deleteThrough: (_partId, cursor) => {
      through.push(cursor);
      return 0;
    },
  };
  const pass = (maxAgeSeconds: number) =>
    enforceRetention(
      ops,
      { maxAgeSeconds, maxEntriesPerPart: 10, intervalMs: 1000 },
      1_764_000_000_123_456,
      () => Promise.resolve(),
    );
  await pass(3600);
  assert.deepEqual(through, [
    { timeUs: 1_764_000_000_123_456n - 3_600_000_001n, seq: Number.MAX_SAFE_INTEGER },
  ]);
  through.length = 0;
  await pass(10_000 * 366 * 86_400);
  await pass(Number('9'.repeat(400)));
  assert.deepEqual(through, []);
});
