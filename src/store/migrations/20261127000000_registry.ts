import type { Kysely } from 'kysely';

/** Registry items (modules and packages), module versions, and uploaded module files. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('registry_items')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('models', 'text', (c) => c.notNull())
    .addColumn('entrypoint', 'text', (c) => c.notNull())
    .addColumn('first_run', 'text')
    .addColumn('markdown_description', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('registry_items_organization_name', ['organization_id', 'name'])
    .execute();
  await db.schema
    .createIndex('registry_items_visibility')
    .on('registry_items')
    .column('visibility')
    .execute();

  await db.schema
    .createTable('module_versions')
    .addColumn('item_id', 'varchar(64)', (c) =>
      c.notNull().references('registry_items.id').onDelete('cascade'),
    )
    .addColumn('version', 'varchar(128)', (c) => c.notNull())
    .addColumn('models', 'text', (c) => c.notNull())
    .addColumn('entrypoint', 'text', (c) => c.notNull())
    .addColumn('first_run', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('module_versions_pk', ['item_id', 'version'])
    .execute();

  await db.schema
    .createTable('module_files')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('item_id', 'varchar(64)', (c) =>
      c.notNull().references('registry_items.id').onDelete('cascade'),
    )
    .addColumn('version', 'varchar(128)', (c) => c.notNull())
    .addColumn('platform', 'varchar(128)', (c) => c.notNull())
    .addColumn('platform_tags', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
    .addColumn('uploaded_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('module_files_item_version_platform', ['item_id', 'version', 'platform'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['module_files', 'module_versions', 'registry_items']) {
    await db.schema.dropTable(table).execute();
  }
}
