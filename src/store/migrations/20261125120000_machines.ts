import { SqliteAdapter, type Kysely } from 'kysely';

/** Machines (robots), their parts, part secrets, part history and machine logs. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;

  await db.schema
    .createTable('robots')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('location_id', 'varchar(64)', (c) => c.notNull().references('locations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('robots_location_name', ['location_id', 'name'])
    .execute();

  await db.schema
    .createTable('robot_parts')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('robot_id', 'varchar(64)', (c) => c.notNull().references('robots.id').onDelete('cascade'))
    // Kept beside the machine's own location so names and dns names can be unique per location in SQL.
    .addColumn('location_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('dns_name', 'varchar(63)', (c) => c.notNull())
    .addColumn('main_part', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('restart_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_access', 'varchar(32)')
    .addColumn('agent_info', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('robot_parts_location_name', ['location_id', 'name'])
    .addUniqueConstraint('robot_parts_location_dns_name', ['location_id', 'dns_name'])
    .execute();
  await db.schema.createIndex('robot_parts_robot').on('robot_parts').column('robot_id').execute();

  await db.schema
    .createTable('part_secrets')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('part_id', 'varchar(64)', (c) => c.notNull().references('robot_parts.id').onDelete('cascade'))
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('part_secrets_part').on('part_secrets').column('part_id').execute();

  await db.schema
    .createTable('part_history')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('part_id', 'varchar(64)', (c) => c.notNull().references('robot_parts.id').onDelete('cascade'))
    .addColumn('robot_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('old_part', 'text', (c) => c.notNull())
    .addColumn('edited_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('editor_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('editor_id', 'varchar(320)', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('part_history_part')
    .on('part_history')
    .columns(['part_id', 'edited_at'])
    .execute();

  await db.schema
    .createTable('part_logs')
    .addColumn('seq', sqlite ? 'integer' : 'bigserial', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn('part_id', 'varchar(64)', (c) => c.notNull().references('robot_parts.id').onDelete('cascade'))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('level', 'varchar(16)', (c) => c.notNull())
    .addColumn('time', 'varchar(32)', (c) => c.notNull())
    .addColumn('logger_name', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('caller', 'text')
    .addColumn('stack', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('part_logs_part_time')
    .on('part_logs')
    .columns(['part_id', 'time', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['part_logs', 'part_history', 'part_secrets', 'robot_parts', 'robots']) {
    await db.schema.dropTable(table).execute();
  }
}
