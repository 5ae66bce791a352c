import type { Db } from './db.js';
import type { OrganizationRow } from './schema.js';

export type OrganizationChanges = Partial<
  Pick<OrganizationRow, 'name' | 'public_namespace' | 'region' | 'cid'>
>;

/** Organizations: the tenants. */
export class OrganizationRepository {
  async create(db: Db, org: OrganizationRow): Promise<void> {
    await db.insertInto('organizations').values(org).execute();
  }

  /**
   * Locks the organization's row until the transaction ends: changes to the shape of its
   * location tree (nesting depth, no cycles) take turns. See RobotRepository.lock.
   */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('organizations')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  findById(db: Db, id: string): Promise<OrganizationRow | undefined> {
    return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The organizations with these ids, ordered by creation then id. */
  async listByIds(db: Db, ids: readonly string[]): Promise<OrganizationRow[]> {
    if (ids.length === 0) return [];
    return db
      .selectFrom('organizations')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  findByNamespace(db: Db, namespace: string): Promise<OrganizationRow | undefined> {
    return db
      .selectFrom('organizations')
      .selectAll()
      .where('public_namespace', '=', namespace)
      .executeTakeFirst();
  }

  async namespaceTaken(db: Db, namespace: string): Promise<boolean> {
    const row = await db
      .selectFrom('organizations')
      .select('id')
      .where('public_namespace', '=', namespace)
      .executeTakeFirst();
    return row !== undefined;
  }

  async update(db: Db, id: string, changes: OrganizationChanges): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await db.updateTable('organizations').set(changes).where('id', '=', id).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('organizations').where('id', '=', id).execute();
  }
}
