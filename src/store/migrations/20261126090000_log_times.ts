import { SqliteAdapter, sql, type Kysely } from 'kysely';

/**
 * Log times become integer microseconds since the epoch (`time_us`), keeping the precision
 * machines send and making range filters and keyset paging plain integer comparisons. Existing
 * rows are converted from their ISO strings. On PostgreSQL, message substring search gets a
 * `pg_trgm` GIN index (the extension is trusted: a database owner may create it). On SQLite the
 * search index lives in a file of its own, kept by the log-search worker (see
 * `sqlite-part-log-store.ts`), so no schema for it here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .alterTable('part_logs')
    .addColumn('time_us', sqlite ? 'integer' : 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await (
    sqlite
      ? sql`update part_logs set time_us = cast(round(unixepoch(time, 'subsec') * 1000) as integer) * 1000`
      : sql`update part_logs set time_us = (extract(epoch from time::timestamptz) * 1000000)::bigint`
  ).execute(db);
  await db.schema.dropIndex('part_logs_part_time').execute();
  await db.schema.alterTable('part_logs').dropColumn('time').execute();
  await db.schema
    .createIndex('part_logs_part_time')
    .on('part_logs')
    .columns(['part_id', 'time_us', 'seq'])
    .execute();
  if (!sqlite) {
    await sql`create extension if not exists pg_trgm`.execute(db);
    await sql`create index part_logs_message_trgm on part_logs using gin (message gin_trgm_ops)`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  if (!sqlite) await db.schema.dropIndex('part_logs_message_trgm').execute();
  await db.schema.alterTable('part_logs').addColumn('time', 'varchar(32)').execute();
  await (
    sqlite
      ? sql`update part_logs set time = strftime('%Y-%m-%dT%H:%M:%fZ', time_us / 1000000.0, 'unixepoch')`
      : sql`update part_logs set time = to_char(to_timestamp(time_us / 1000000.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
  ).execute(db);
  await db.schema.dropIndex('part_logs_part_time').execute();
  await db.schema.alterTable('part_logs').dropColumn('time_us').execute();
  await db.schema
    .createIndex('part_logs_part_time')
    .on('part_logs')
    .columns(['part_id', 'time', 'seq'])
    .execute();
}
