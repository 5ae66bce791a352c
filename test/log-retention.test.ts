import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createPromiseClient, type PromiseClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { AppClient } from '@viamrobotics/sdk';
import { AuthService } from '../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../src/rpc/service-descriptors.generated.js';
import { forEachDialect } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Retention runs in the background: a pass a second after start and then every second here,
 * keeping at most 50 entries per part and nothing older than an hour. Entries are pushed by the
 * part over native gRPC and read back by the owner.
 */

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
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
    const transport = createGrpcTransport({ baseUrl: t.url, httpVersion: '2' });
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
    // Keeper: 10 recent entries and 5 from two hours ago (expired).
    await robot.log(
      {
        id: keeper.id,
        logs: [
          ...Array.from({ length: 5 }, (_, i) => entry(`stale ${i} needle-old`, now - 2 * HOUR_US + i)),
          ...Array.from({ length: 10 }, (_, i) => entry(`fresh ${i} needle-keep`, now - 1000 + i)),
        ],
      },
      bearer(keeper.token),
    );
    // Chatty: 130 recent entries in batches, more than it may keep.
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
      assert.deepEqual(
        await messagesOf(keeper.id),
        Array.from({ length: 10 }, (_, i) => `fresh ${9 - i} needle-keep`),
      );
      assert.deepEqual(
        await messagesOf(chatty.id),
        Array.from({ length: MAX_PER_PART }, (_, i) => `chatty ${129 - i}`),
      );
    });

    // Search agrees with what is stored, once the index has caught up as well as before.
    assert.deepEqual(await messagesOf(keeper.id, 'needle-old'), []);
    assert.equal((await messagesOf(keeper.id, 'NEEDLE-KEEP')).length, 10);
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
    assert.equal((await messagesOf(keeper.id)).length, 11);
  });
});
