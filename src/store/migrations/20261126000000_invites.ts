import type { Kysely } from 'kysely';

/**
 * Pending organization invites. The accept-link token is stored twice: hashed (SHA-256) to find
 * the invite when the link is opened, and sealed with the server's secret-encryption key so that
 * `flotilla invite-link` can print the same link again later.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('organization_invites')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) =>
      c.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('email', 'varchar(320)', (c) => c.notNull())
    .addColumn('authorizations', 'text', (c) => c.notNull())
    .addColumn('send_email', 'integer', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('token_ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('organization_invites_org_email', ['organization_id', 'email'])
    .execute();
  await db.schema
    .createIndex('organization_invites_email')
    .on('organization_invites')
    .column('email')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('organization_invites').execute();
}
