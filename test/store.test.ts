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
  sqliteFileIn,
  type OpenDatabase,
} from '../src/store/database.js';
import { createRepositories } from '../src/store/index.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';

/** An organization row named after its id. */
const orgRow = (id: string, createdAt = nowIso()) => ({
  id,
  name: id,
  public_namespace: null,
  region: '',
  cid: null,
  metadata: '{}',
  created_at: createdAt,
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
    await migrate(open.db);
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
    await migrate(open.db);
    const org = {
      id: 'org-1',
      name: 'One',
      public_namespace: null,
      region: '',
      cid: null,
      metadata: '{}',
      created_at: nowIso(),
    };
    await repos.organizations.create(open.db, org);
    await migrate(open.db);
    assert.deepEqual(await repos.organizations.findById(open.db, 'org-1'), org);
  });

  it('reports unique violations the same way on both dialects', async () => {
    const now = nowIso();
    await repos.users.create(open.db, {
      id: 'u-1',
      email: 'dup@example.com',
      password_hash: null,
      created_at: now,
    });
    const error = await repos.users
      .create(open.db, { id: 'u-2', email: 'dup@example.com', password_hash: null, created_at: now })
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
        await repos.organizations.create(trx, {
          id: 'org-tx',
          name: 'Tx',
          public_namespace: null,
          region: '',
          cid: null,
          metadata: '{}',
          created_at: now,
        });
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
          await repos.organizations.create(trx, orgRow('org-after-read'));
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
      await repos.organizations.create(open.db, orgRow(id, t(seconds)));
    }
    const loc = (id: string, org: string, s: number) => ({
      id,
      organization_id: org,
      name: id,
      parent_location_id: null,
      region: '',
      metadata: '{}',
      created_at: t(s),
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
  });
});
