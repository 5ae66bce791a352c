import type { Kysely } from 'kysely';

/** Fragments with their revisions and tags, and which parts and fragments use which fragments. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('fragments')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fragments_organization').on('fragments').column('organization_id').execute();

  await db.schema
    .createTable('fragment_revisions')
    .addColumn('fragment_id', 'varchar(64)', (c) =>
      c.notNull().references('fragments.id').onDelete('cascade'),
    )
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('editor_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('editor_id', 'varchar(320)', (c) => c.notNull())
    .addPrimaryKeyConstraint('fragment_revisions_pk', ['fragment_id', 'revision'])
    .execute();

  await db.schema
    .createTable('fragment_tags')
    .addColumn('fragment_id', 'varchar(64)', (c) =>
      c.notNull().references('fragments.id').onDelete('cascade'),
    )
    .addColumn('tag', 'varchar(64)', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('fragment_tags_pk', ['fragment_id', 'tag'])
    .execute();

  // One row per direct use: a part's config or a fragment's config lists the fragment.
  await db.schema
    .createTable('fragment_uses')
    .addColumn('user_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('fragment_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('fragment_uses_pk', ['user_type', 'user_id', 'fragment_id'])
    .execute();
  await db.schema.createIndex('fragment_uses_fragment').on('fragment_uses').column('fragment_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['fragment_uses', 'fragment_tags', 'fragment_revisions', 'fragments']) {
    await db.schema.dropTable(table).execute();
  }
}
