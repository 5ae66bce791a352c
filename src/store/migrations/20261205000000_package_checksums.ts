import type { Kysely } from 'kysely';

/**
 * Package downloads carry the file's CRC-32C (viam-server checks it). It is computed at upload;
 * files uploaded before this migration get theirs at their first download.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('module_files').addColumn('crc32c', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('module_files').dropColumn('crc32c').execute();
}
