import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Blobs kept in the database (the PostgreSQL blob store): one row per upload and its bytes as
 * fixed-size chunk rows. Created on both dialects so the schema stays the same; the bytes are
 * `bytea` on PostgreSQL and `blob` on SQLite. Uncommitted uploads (`key` null) are indexed by age
 * for the sweep that removes abandoned ones.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('blobs')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.unique())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('chunk_size', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('committed_at', 'varchar(32)')
    .execute();
  await db.schema
    .createIndex('blobs_uncommitted_created')
    .on('blobs')
    .column('created_at')
    .where(sql.ref('key'), 'is', null)
    .execute();

  await db.schema
    .createTable('blob_chunks')
    .addColumn('blob_id', 'varchar(64)', (c) => c.notNull().references('blobs.id').onDelete('cascade'))
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('data', postgres ? 'bytea' : 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_chunks_pk', ['blob_id', 'n'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['blob_chunks', 'blobs']) {
    await db.schema.dropTable(table).execute();
  }
}
