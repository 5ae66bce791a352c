import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type { OrganizationRecord } from './records.js';
import type { OrganizationRow } from './schema.js';

/** What an organization update may change; a field left undefined keeps its value. */
export type OrganizationChanges = Partial<
  Pick<OrganizationRecord, 'name' | 'publicNamespace' | 'region' | 'cid'>
>;

/** Row to record: the one place an organization row is read. */
const toOrganizationRecord = (row: OrganizationRow): OrganizationRecord => ({
  id: row.id,
  name: row.name,
  publicNamespace: row.public_namespace ?? undefined,
  region: row.region,
  cid: row.cid ?? undefined,
  createdAt: row.created_at,
});

/** Organizations: the tenants. */
export class OrganizationRepository {
  constructor(private readonly changes: ChangeTracker) {}

  /** Inserts an organization with an empty metadata document. */
  async create(db: Db, org: OrganizationRecord): Promise<void> {
    await db
      .insertInto('organizations')
      .values({
        id: org.id,
        name: org.name,
        public_namespace: org.publicNamespace ?? null,
        region: org.region,
        cid: org.cid ?? null,
        metadata: '{}',
        created_at: org.createdAt,
      })
      .execute();
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

  async findById(db: Db, id: string): Promise<OrganizationRecord | undefined> {
    const row = await db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toOrganizationRecord(row);
  }

  /** The organizations with these ids, ordered by creation then id. */
  async listByIds(db: Db, ids: readonly string[]): Promise<OrganizationRecord[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('organizations')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toOrganizationRecord);
  }

  async findByNamespace(db: Db, namespace: string): Promise<OrganizationRecord | undefined> {
    const row = await db
      .selectFrom('organizations')
      .selectAll()
      .where('public_namespace', '=', namespace)
      .executeTakeFirst();
    return row && toOrganizationRecord(row);
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
    const set: Partial<Pick<OrganizationRow, 'name' | 'public_namespace' | 'region' | 'cid'>> = {};
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.publicNamespace !== undefined) set.public_namespace = changes.publicNamespace;
    if (changes.region !== undefined) set.region = changes.region;
    if (changes.cid !== undefined) set.cid = changes.cid;
    if (Object.keys(set).length === 0) return;
    await db.updateTable('organizations').set(set).where('id', '=', id).execute();
    // A public namespace names registry modules: their resolution may change too.
    await this.changes.changed(db, `organization:${id}`, 'registry');
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('organizations').where('id', '=', id).execute();
    await this.changes.changed(db, `organization:${id}`);
  }
}
