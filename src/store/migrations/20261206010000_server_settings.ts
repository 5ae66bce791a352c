import type { Kysely } from 'kysely';

/**
 * Facts about the installation, one row each: first the fingerprint of the server keys it was
 * initialized with, which every replica checks its own keys against at start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('server_settings')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('server_settings').execute();
}
