import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type { ApiKeyRecord } from './records.js';
import type { ApiKeyRow } from './schema.js';

/** API keys. Values are never stored, only their hashes. */
export class ApiKeyRepository {
  constructor(private readonly changes: ChangeTracker) {}

  async create(db: Db, key: ApiKeyRecord): Promise<void> {
    await db.insertInto('api_keys').values(apiKeyRow(key)).execute();
  }

  async findById(db: Db, id: string): Promise<ApiKeyRecord | undefined> {
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toApiKeyRecord(row);
  }

  async listForOrganization(db: Db, organizationId: string): Promise<ApiKeyRecord[]> {
    const rows = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toApiKeyRecord);
  }

  async listByIds(db: Db, ids: readonly string[]): Promise<ApiKeyRecord[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toApiKeyRecord);
  }

  async setHash(db: Db, id: string, keyHash: string): Promise<void> {
    await db.updateTable('api_keys').set({ key_hash: keyHash }).where('id', '=', id).execute();
    await this.changes.changed(db, `api-key:${id}`);
  }

  async rename(db: Db, id: string, name: string): Promise<void> {
    await db.updateTable('api_keys').set({ name }).where('id', '=', id).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('api_keys').where('id', '=', id).execute();
    await this.changes.changed(db, `api-key:${id}`);
  }

  async deleteForOrganization(db: Db, organizationId: string): Promise<void> {
    await db.deleteFrom('api_keys').where('organization_id', '=', organizationId).execute();
  }
}

const toApiKeyRecord = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  keyHash: row.key_hash,
  createdAt: row.created_at,
});

const apiKeyRow = (key: ApiKeyRecord): ApiKeyRow => ({
  id: key.id,
  organization_id: key.organizationId,
  name: key.name,
  key_hash: key.keyHash,
  created_at: key.createdAt,
});
