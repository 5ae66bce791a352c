import type { Db } from './db.js';
import type { ApiKeyRow } from './schema.js';

/** API keys. Values are never stored, only their hashes. */
export class ApiKeyRepository {
  async create(db: Db, key: ApiKeyRow): Promise<void> {
    await db.insertInto('api_keys').values(key).execute();
  }

  findById(db: Db, id: string): Promise<ApiKeyRow | undefined> {
    return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listForOrganization(db: Db, organizationId: string): Promise<ApiKeyRow[]> {
    return db
      .selectFrom('api_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  listByIds(db: Db, ids: readonly string[]): Promise<ApiKeyRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async setHash(db: Db, id: string, keyHash: string): Promise<void> {
    await db.updateTable('api_keys').set({ key_hash: keyHash }).where('id', '=', id).execute();
  }

  async rename(db: Db, id: string, name: string): Promise<void> {
    await db.updateTable('api_keys').set({ name }).where('id', '=', id).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('api_keys').where('id', '=', id).execute();
  }

  async deleteForOrganization(db: Db, organizationId: string): Promise<void> {
    await db.deleteFrom('api_keys').where('organization_id', '=', organizationId).execute();
  }
}
