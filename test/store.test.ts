import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { isUniqueViolation, nowIso } from '../src/store/db.js';
import SQLite from 'better-sqlite3';
import {
  databaseTarget,
  isReachable,
  migrate,
  openDatabase,
  openPartLogStore,
  sqliteFileIn,
  type OpenDatabase,
} from '../src/store/database.js';
import { PostgresNotifications } from '../src/store/postgres-notifications.js';
import { LOGS_CHANNEL } from '../src/store/postgres-part-log-store.js';
import { createRepositories } from '../src/store/index.js';
import type { LocationRecord, OrganizationRecord, PartRecord } from '../src/store/records.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';

/** An organization record named after its id. */
const orgRecord = (id: string, createdAt = nowIso()): OrganizationRecord => ({
  id,
  name: id,
  publicNamespace: undefined,
  region: '',
  cid: undefined,
  createdAt,
});

forEachDialect('store', (newDatabase, dialect) => {
  let database: TestDatabase;
  let open: OpenDatabase;
  let dataDir: string;
  const repos = createRepositories();

  before(async () => {
    database = await newDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'flotilla-store-'));
    open = openDatabase(databaseTarget(dataDir, database.databaseUrl));
    await migrate(open);
  });
  after(async () => {
    await open.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`opens the ${dialect} dialect and is reachable`, async () => {
    assert.equal(open.dialect, dialect);
    assert.equal(await isReachable(open.db), true);
  });

  it('runs migrations idempotently', async () => {
    await migrate(open);
    const org: OrganizationRecord = {
      id: 'org-1',
      name: 'One',
      publicNamespace: undefined,
      region: '',
      cid: undefined,
      createdAt: nowIso(),
    };
    await repos.organizations.create(open.db, org);
    await migrate(open);
    assert.deepEqual(await repos.organizations.findById(open.db, 'org-1'), org);
  });

  it('reports unique violations the same way on both dialects', async () => {
    const now = nowIso();
    await repos.users.create(open.db, {
      id: 'u-1',
      email: 'dup@example.com',
      passwordHash: undefined,
      createdAt: now,
    });
    const error = await repos.users
      .create(open.db, { id: 'u-2', email: 'dup@example.com', passwordHash: undefined, createdAt: now })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error, 'a duplicate email must be refused');
    assert.equal(isUniqueViolation(error), true);
    assert.equal(isUniqueViolation(new Error('other')), false);
  });

  it('rolls a failed transaction back completely', async () => {
    const now = nowIso();
    await assert.rejects(
      open.db.transaction().execute(async (trx) => {
        await repos.organizations.create(trx, { ...orgRecord('org-tx', now), name: 'Tx' });
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal(await repos.organizations.findById(open.db, 'org-tx'), undefined);
  });

  // SQLite only: one file that several connections write to.
  const sqliteOnly = dialect === 'sqlite' ? it : () => undefined;
  void sqliteOnly(
    'a transaction that reads, then writes, is not broken by another connection writing in between',
    async () => {
      // Another connection to the same file, as the log writer thread has; it never waits.
      const other = new SQLite(sqliteFileIn(dataDir));
      other.pragma('busy_timeout = 0');
      let otherWrote = false;
      try {
        await open.db.transaction().execute(async (trx) => {
          await repos.organizations.findById(trx, 'org-1');
          try {
            other.prepare('update organizations set region = region').run();
            otherWrote = true;
          } catch (error) {
            assert.equal((error as { code?: string }).code, 'SQLITE_BUSY');
          }
          await repos.organizations.create(trx, orgRecord('org-after-read'));
        });
      } finally {
        other.close();
      }
      assert.equal(otherWrote, false, 'the transaction holds the write lock from its start');
      assert.equal((await repos.organizations.findById(open.db, 'org-after-read'))?.id, 'org-after-read');
    },
  );

  it('lists an organization’s own and shared locations in creation order', async () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    for (const [id, seconds] of [
      ['org-a', 1],
      ['org-b', 2],
    ] as const) {
      await repos.organizations.create(open.db, orgRecord(id, t(seconds)));
    }
    const loc = (id: string, org: string, s: number): LocationRecord => ({
      id,
      organizationId: org,
      name: id,
      parentLocationId: undefined,
      region: '',
      createdAt: t(s),
    });
    await repos.locations.create(open.db, loc('loca000001', 'org-a', 3));
    await repos.locations.create(open.db, loc('locb000001', 'org-b', 4));
    await repos.locations.create(open.db, loc('loca000002', 'org-a', 5));
    await repos.locations.addShare(open.db, 'locb000001', 'org-a', t(6));
    const listed = await repos.locations.listForOrganization(open.db, 'org-a');
    assert.deepEqual(
      listed.map((l) => l.id),
      ['loca000001', 'locb000001', 'loca000002'],
    );
    assert.deepEqual(await repos.locations.listShares(open.db, 'locb000001'), ['org-a']);
    assert.equal(await repos.locations.countInOrganization(open.db, 'org-a'), 2);

    // A present `parentLocationId` moves the location (undefined: to the root); an absent one keeps it.
    await repos.locations.update(open.db, 'loca000002', { parentLocationId: 'loca000001' });
    await repos.locations.update(open.db, 'loca000002', { name: 'renamed' });
    assert.equal((await repos.locations.findById(open.db, 'loca000002'))?.parentLocationId, 'loca000001');
    await repos.locations.update(open.db, 'loca000002', { parentLocationId: undefined });
    const moved = await repos.locations.findById(open.db, 'loca000002');
    assert.deepEqual(moved, { ...loc('loca000002', 'org-a', 5), name: 'renamed' });
  });

  it('maps parts, their secrets, history and metadata to records and back', async () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 2, 0, 0, s)).toISOString();
    await repos.organizations.create(open.db, orgRecord('org-parts', t(0)));
    await repos.locations.create(open.db, {
      id: 'locp000001',
      organizationId: 'org-parts',
      name: 'parts',
      parentLocationId: undefined,
      region: '',
      createdAt: t(1),
    });
    await repos.robots.create(open.db, {
      id: 'robot-p',
      locationId: 'locp000001',
      name: 'r',
      createdAt: t(2),
    });
    const part: PartRecord = {
      id: 'part-p',
      machineId: 'robot-p',
      locationId: 'locp000001',
      name: 'r-main',
      dnsName: 'r-main',
      mainPart: true,
      config: { components: [{ name: 'arm' }] },
      restartRequested: false,
      lastAccess: undefined,
      agentInfo: undefined,
      createdAt: t(3),
      updatedAt: t(3),
    };
    await repos.parts.create(open.db, part);
    assert.deepEqual(await repos.parts.findById(open.db, 'part-p'), part);
    await repos.parts.addSecret(open.db, {
      id: 'sec-p',
      ownerId: 'part-p',
      sealed: 'sealed',
      createdAt: t(4),
    });
    assert.deepEqual(await repos.parts.listSecrets(open.db, 'part-p'), [
      { id: 'sec-p', ownerId: 'part-p', sealed: 'sealed', createdAt: t(4) },
    ]);

    // Calls are written behind: reads see them at once, the row once flushed.
    repos.parts.recordAccess('part-p', t(5), { host: 'h', platform: 'linux/arm64' });
    await repos.parts.requestRestart(open.db, 'part-p');
    const seen = await repos.parts.findById(open.db, 'part-p');
    assert.ok(seen);
    assert.equal(seen.lastAccess, t(5));
    assert.deepEqual(seen.agentInfo, { host: 'h', platform: 'linux/arm64' });
    assert.equal(seen.restartRequested, true);
    const elsewhere = createRepositories();
    assert.equal((await elsewhere.parts.findById(open.db, 'part-p'))?.lastAccess, undefined);
    await repos.parts.flushAccess(open.db);
    const written = await elsewhere.parts.findById(open.db, 'part-p');
    assert.equal(written?.lastAccess, t(5));
    assert.deepEqual(written?.agentInfo, { host: 'h', platform: 'linux/arm64' });

    await repos.parts.update(open.db, 'part-p', { config: { services: [] }, updatedAt: t(6) });
    assert.deepEqual((await repos.parts.findById(open.db, 'part-p'))?.config, { services: [] });
    const old = seen;
    await repos.parts.addHistory(open.db, {
      id: 'hist-p',
      partId: 'part-p',
      machineId: 'robot-p',
      old,
      editedAt: t(6),
      editorType: 'user',
      editorId: 'someone@example.com',
    });
    // The snapshot keeps the row's shape, as every version has stored it.
    const stored = await open.db
      .selectFrom('part_history')
      .select('old_part')
      .where('id', '=', 'hist-p')
      .executeTakeFirstOrThrow();
    const snapshot = JSON.parse(stored.old_part) as Record<string, unknown>;
    assert.equal(snapshot.robot_id, 'robot-p');
    assert.equal(snapshot.main_part, 1);
    assert.equal(snapshot.restart_requested, 1);
    assert.equal(snapshot.config, JSON.stringify(old.config));
    assert.deepEqual(await repos.parts.listHistory(open.db, 'part-p'), [
      {
        id: 'hist-p',
        partId: 'part-p',
        machineId: 'robot-p',
        old,
        editedAt: t(6),
        editorType: 'user',
        editorId: 'someone@example.com',
      },
    ]);

    assert.deepEqual(await repos.metadata.get(open.db, 'part', 'part-p'), {});
    await repos.metadata.set(open.db, 'part', 'part-p', { a: [1, 'b'] });
    assert.deepEqual(await repos.metadata.get(open.db, 'part', 'part-p'), { a: [1, 'b'] });
    assert.equal(await repos.metadata.get(open.db, 'robot', 'no-such-robot'), undefined);
  });

  it('the log store stores a call for a part that exists and refuses one for a part that does not', async () => {
    const errors: string[] = [];
    const target = databaseTarget(dataDir, database.databaseUrl);
    const notifications =
      target.dialect === 'postgres'
        ? await PostgresNotifications.open(target.url, [LOGS_CHANNEL], (message) => errors.push(message))
        : undefined;
    const logs = openPartLogStore(
      target,
      open.db,
      notifications,
      { maxAgeSeconds: 86_400, maxEntriesPerPart: 1000, intervalMs: 60_000 },
      (message) => errors.push(message),
    );
    try {
      const entry = (message: string) => ({
        host: 'h',
        level: 'info' as const,
        timeUs: 1_700_000_000_000_000n,
        loggerName: 'l',
        message,
        caller: undefined,
        stack: '',
        fields: [],
      });
      assert.equal(await logs.append('part-p', [entry('kept 1'), entry('kept 2')]), true);
      assert.equal(await logs.append('part-p', []), true);
      assert.equal(await logs.append('no-such-part', [entry('dropped 1'), entry('dropped 2')]), false);
      assert.equal(await logs.append('no-such-part', []), false);
      const messages = await open.db.selectFrom('part_logs').select(['part_id', 'message']).execute();
      assert.deepEqual(messages.map((m) => `${m.part_id} ${m.message}`).sort(), [
        'part-p kept 1',
        'part-p kept 2',
      ]);
      if (logs.writeAccess) {
        // Batches bigger than one commit's slice: written in order, whole, before they resolve.
        const times = Array.from({ length: 1300 }, (_, i) =>
          new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        );
        const first = logs.writeAccess(times.slice(0, 700).map((at) => ['part-p', at, null]));
        const stored = logs.append('part-p', [entry('between')]);
        const second = logs.writeAccess([
          ...times.slice(700).map((at): [string, string, string | null] => ['part-p', at, null]),
          ['no-such-part', times[0]!, null],
        ]);
        await Promise.all([first, stored, second]);
        const part = await open.db
          .selectFrom('robot_parts')
          .select('last_access')
          .where('id', '=', 'part-p')
          .executeTakeFirstOrThrow();
        assert.equal(part.last_access, times.at(-1));
      }
      assert.deepEqual(errors, []);
    } finally {
      await logs.close();
      await notifications?.close();
    }
  });
});
