import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { databaseTarget, migrate, openDatabase, type OpenDatabase } from '../src/store/database.js';
import { migrations } from '../src/store/migrations/index.js';
import { forEachDialect, type TestDatabase } from './support/databases.js';

/*
 * Logs stored before times became microseconds (ISO strings in `time`) keep their times: the
 * migration converts them, to the millisecond they were stored with.
 */
forEachDialect('log time migration', (newDatabase, dialect) => {
  let database: TestDatabase;
  let open: OpenDatabase;
  let dataDir: string;

  before(async () => {
    database = await newDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'flotilla-log-migration-'));
    open = openDatabase(databaseTarget(dataDir, database.databaseUrl));
  });
  after(async () => {
    await open.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('converts ISO log times to microseconds and keeps every row', async () => {
    const migrator = new Migrator({
      db: open.db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
    });
    const { error } = await migrator.migrateTo('20261126000000_invites');
    assert.equal(error, undefined);
    // Only the log rows matter here: their part need not exist.
    if (dialect === 'sqlite') await sql`pragma foreign_keys = off`.execute(open.db);
    else await sql`alter table part_logs drop constraint part_logs_part_id_fkey`.execute(open.db);
    for (const [i, time] of ['2026-11-20T10:11:12.345Z', '1999-12-31T23:59:59.999Z'].entries()) {
      await sql`insert into part_logs (part_id, host, level, time, logger_name, message, caller, stack, fields)
                values ('p', 'h', 'info', ${time}, 'l', ${`m${i}`}, null, '', '[]')`.execute(open.db);
    }
    await migrate(open);
    // Read as text, so the comparison is exact whatever the driver makes of a 64-bit integer.
    const rows = await sql<{ message: string; time_us: string }>`
      select message, cast(time_us as text) as time_us from part_logs order by seq`.execute(open.db);
    assert.deepEqual(
      rows.rows.map((r) => [r.message, BigInt(r.time_us)]),
      [
        ['m0', BigInt(Date.parse('2026-11-20T10:11:12.345Z')) * 1000n],
        ['m1', BigInt(Date.parse('1999-12-31T23:59:59.999Z')) * 1000n],
      ],
    );
  });
});
