import { SqliteAdapter, type Kysely } from 'kysely';

/**
 * The audit log: one row per accepted change (`seq` orders them), and one row per resource an
 * event touched, so events can be found by resource id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('audit_events')
    .addColumn('seq', sqlite ? 'integer' : 'bigserial', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn('id', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('organization_id', 'varchar(64)')
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('principal_kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('principal_id', 'varchar(320)', (c) => c.notNull())
    .addColumn('principal_name', 'text', (c) => c.notNull())
    .addColumn('service', 'varchar(128)', (c) => c.notNull())
    .addColumn('method', 'varchar(128)', (c) => c.notNull())
    .addColumn('resources', 'text', (c) => c.notNull())
    .addColumn('changes', 'text')
    .execute();
  await db.schema
    .createIndex('audit_events_organization')
    .on('audit_events')
    .columns(['organization_id', 'seq'])
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
  await db.schema
    .createTable('audit_event_resources')
    .addColumn('event_seq', 'bigint', (c) => c.notNull().references('audit_events.seq').onDelete('cascade'))
    .addColumn('resource_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(320)', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_event_resources_pk', ['event_seq', 'resource_type', 'resource_id'])
    .execute();
  await db.schema
    .createIndex('audit_event_resources_id')
    .on('audit_event_resources')
    .columns(['resource_id', 'event_seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_event_resources').execute();
  await db.schema.dropTable('audit_events').execute();
}
