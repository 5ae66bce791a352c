import type { Kysely } from 'kysely';

/** Users, organizations, locations (with shares and secrets), API keys and role grants. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('email', 'varchar(320)', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('organizations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('public_namespace', 'varchar(64)', (c) => c.unique())
    .addColumn('region', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('cid', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('locations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('parent_location_id', 'varchar(64)', (c) => c.references('locations.id'))
    .addColumn('region', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('locations_organization').on('locations').column('organization_id').execute();
  await db.schema.createIndex('locations_parent').on('locations').column('parent_location_id').execute();

  await db.schema
    .createTable('location_shares')
    .addColumn('location_id', 'varchar(64)', (c) =>
      c.notNull().references('locations.id').onDelete('cascade'),
    )
    .addColumn('organization_id', 'varchar(64)', (c) =>
      c.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('location_shares_pk', ['location_id', 'organization_id'])
    .execute();
  await db.schema
    .createIndex('location_shares_organization')
    .on('location_shares')
    .column('organization_id')
    .execute();

  await db.schema
    .createTable('location_secrets')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('location_id', 'varchar(64)', (c) =>
      c.notNull().references('locations.id').onDelete('cascade'),
    )
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('location_secrets_location')
    .on('location_secrets')
    .column('location_id')
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'varchar(128)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('api_keys_organization').on('api_keys').column('organization_id').execute();

  await db.schema
    .createTable('authorizations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
    .addColumn('identity_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('identity_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('resource_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('authorizations_unique_grant', [
      'identity_id',
      'resource_type',
      'resource_id',
      'role',
    ])
    .execute();
  await db.schema.createIndex('authorizations_identity').on('authorizations').column('identity_id').execute();
  await db.schema
    .createIndex('authorizations_resource')
    .on('authorizations')
    .columns(['resource_type', 'resource_id'])
    .execute();
  await db.schema
    .createIndex('authorizations_organization')
    .on('authorizations')
    .column('organization_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'authorizations',
    'api_keys',
    'location_secrets',
    'location_shares',
    'locations',
    'organizations',
    'users',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
