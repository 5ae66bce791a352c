import type { Kysely } from 'kysely';

/**
 * Machine alerts (a part config's `triggers`): each organization's webhook signing secret, each
 * watched part's online state, when each notification last fired, and the outbox of deliveries
 * with their attempts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('organization_webhook_secrets')
    .addColumn('organization_id', 'varchar(64)', (c) =>
      c.primaryKey().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('part_alert_states')
    .addColumn('part_id', 'varchar(64)', (c) =>
      c.primaryKey().references('robot_parts.id').onDelete('cascade'),
    )
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('changed_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('alert_throttles')
    .addColumn('part_id', 'varchar(64)', (c) => c.notNull().references('robot_parts.id').onDelete('cascade'))
    .addColumn('trigger_name', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('last_fired_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('alert_throttles_pk', ['part_id', 'trigger_name', 'channel'])
    .execute();

  await db.schema
    .createTable('alert_deliveries')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('part_id', 'varchar(64)', (c) => c.notNull().references('robot_parts.id').onDelete('cascade'))
    .addColumn('event_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('trigger_name', 'text', (c) => c.notNull())
    .addColumn('notification_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('next_attempt_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('give_up_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'varchar(32)')
    .addColumn('finished_at', 'varchar(32)')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema
    .createIndex('alert_deliveries_due')
    .on('alert_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('alert_deliveries_part')
    .on('alert_deliveries')
    .columns(['part_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('alert_attempts')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('delivery_id', 'varchar(64)', (c) =>
      c.notNull().references('alert_deliveries.id').onDelete('cascade'),
    )
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('attempted_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('alert_attempts_delivery')
    .on('alert_attempts')
    .columns(['delivery_id', 'attempt'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('alert_attempts').execute();
  await db.schema.dropTable('alert_deliveries').execute();
  await db.schema.dropTable('alert_throttles').execute();
  await db.schema.dropTable('part_alert_states').execute();
  await db.schema.dropTable('organization_webhook_secrets').execute();
}
