import type { Db } from './db.js';
import type {
  FragmentRevisionRow,
  FragmentRow,
  FragmentTagRow,
  FragmentUseRow,
  FragmentVisibility,
} from './schema.js';

/** Fragments, their revisions and tags, and the record of who uses which fragment. */
export class FragmentRepository {
  async create(db: Db, fragment: FragmentRow, first: FragmentRevisionRow): Promise<void> {
    await db.insertInto('fragments').values(fragment).execute();
    await db.insertInto('fragment_revisions').values(first).execute();
  }

  findById(db: Db, id: string): Promise<FragmentRow | undefined> {
    return db.selectFrom('fragments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Locks the fragment's row until the transaction ends (see RobotRepository.lock). */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('fragments')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  async countForOrganization(db: Db, organizationId: string): Promise<number> {
    const row = await db
      .selectFrom('fragments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('organization_id', '=', organizationId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Fragments of an organization with one of these visibilities, oldest first. */
  listForOrganization(
    db: Db,
    organizationId: string,
    visibilities: readonly FragmentVisibility[],
  ): Promise<FragmentRow[]> {
    if (visibilities.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('fragments')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('visibility', 'in', [...visibilities])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  listByIds(db: Db, ids: readonly string[]): Promise<FragmentRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('fragments')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  /** Saves a new revision and makes it the latest. */
  async addRevision(db: Db, revision: FragmentRevisionRow): Promise<void> {
    await db.insertInto('fragment_revisions').values(revision).execute();
    await db
      .updateTable('fragments')
      .set({
        name: revision.name,
        visibility: revision.visibility,
        config: revision.config,
        revision: revision.revision,
        updated_at: revision.created_at,
      })
      .where('id', '=', revision.fragment_id)
      .execute();
  }

  findRevision(db: Db, fragmentId: string, revision: number): Promise<FragmentRevisionRow | undefined> {
    return db
      .selectFrom('fragment_revisions')
      .selectAll()
      .where('fragment_id', '=', fragmentId)
      .where('revision', '=', revision)
      .executeTakeFirst();
  }

  /** Revisions whose config mentions this text (a fragment id), for a closer look by the caller. */
  listRevisionsMentioning(db: Db, text: string): Promise<FragmentRevisionRow[]> {
    return db
      .selectFrom('fragment_revisions')
      .selectAll()
      .where('config', 'like', `%${text.replace(/[%_\\]/g, '')}%`)
      .execute();
  }

  /** Revisions below `before` (all when undefined), newest first, at most `limit`. */
  listRevisions(
    db: Db,
    fragmentId: string,
    before: number | undefined,
    limit: number,
  ): Promise<FragmentRevisionRow[]> {
    let query = db.selectFrom('fragment_revisions').selectAll().where('fragment_id', '=', fragmentId);
    if (before !== undefined) query = query.where('revision', '<', before);
    return query.orderBy('revision', 'desc').limit(limit).execute();
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('fragments').where('id', '=', id).execute();
    await db
      .deleteFrom('fragment_uses')
      .where('user_type', '=', 'fragment')
      .where('user_id', '=', id)
      .execute();
  }

  listTags(db: Db, fragmentId: string): Promise<FragmentTagRow[]> {
    return db
      .selectFrom('fragment_tags')
      .selectAll()
      .where('fragment_id', '=', fragmentId)
      .orderBy('tag')
      .execute();
  }

  async setTag(db: Db, tag: FragmentTagRow): Promise<void> {
    await db
      .insertInto('fragment_tags')
      .values(tag)
      .onConflict((oc) => oc.columns(['fragment_id', 'tag']).doUpdateSet({ revision: tag.revision }))
      .execute();
  }

  async deleteTag(db: Db, fragmentId: string, tag: string): Promise<number> {
    const result = await db
      .deleteFrom('fragment_tags')
      .where('fragment_id', '=', fragmentId)
      .where('tag', '=', tag)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Replaces what one part or fragment uses. */
  async setUses(
    db: Db,
    userType: FragmentUseRow['user_type'],
    userId: string,
    uses: readonly Omit<FragmentUseRow, 'user_type' | 'user_id'>[],
  ): Promise<void> {
    await db
      .deleteFrom('fragment_uses')
      .where('user_type', '=', userType)
      .where('user_id', '=', userId)
      .execute();
    if (uses.length === 0) return;
    await db
      .insertInto('fragment_uses')
      .values(uses.map((u) => ({ ...u, user_type: userType, user_id: userId })))
      .execute();
  }

  /** Forgets what these parts (or fragments) use, when they are deleted. */
  async deleteUsesBy(
    db: Db,
    userType: FragmentUseRow['user_type'],
    userIds: readonly string[],
  ): Promise<void> {
    if (userIds.length === 0) return;
    await db
      .deleteFrom('fragment_uses')
      .where('user_type', '=', userType)
      .where('user_id', 'in', [...userIds])
      .execute();
  }

  /** Who uses a fragment directly. */
  listUsesOf(db: Db, fragmentId: string): Promise<FragmentUseRow[]> {
    return db.selectFrom('fragment_uses').selectAll().where('fragment_id', '=', fragmentId).execute();
  }

  /** What one part or fragment uses directly. */
  listUsesBy(
    db: Db,
    userType: FragmentUseRow['user_type'],
    userIds: readonly string[],
  ): Promise<FragmentUseRow[]> {
    if (userIds.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('fragment_uses')
      .selectAll()
      .where('user_type', '=', userType)
      .where('user_id', 'in', [...userIds])
      .execute();
  }
}
