import type { ChangeTracker } from './change-tracker.js';
import type { Db } from './db.js';
import type {
  FragmentRecord,
  FragmentRevisionRecord,
  FragmentTagRecord,
  FragmentUseRecord,
  JsonObject,
} from './records.js';
import type {
  FragmentRevisionRow,
  FragmentRow,
  FragmentTagRow,
  FragmentUseRow,
  FragmentVisibility,
} from './schema.js';

/** What a part or fragment uses, as `setUses` takes it: the user is given apart. */
export type FragmentUse = Omit<FragmentUseRecord, 'userType' | 'userId'>;

const parseConfig = (text: string) => JSON.parse(text) as JsonObject;

function toFragment(row: FragmentRow): FragmentRecord {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    visibility: row.visibility,
    revision: row.revision,
    config: parseConfig(row.config),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function fragmentRow(fragment: FragmentRecord): FragmentRow {
  return {
    id: fragment.id,
    organization_id: fragment.organizationId,
    name: fragment.name,
    visibility: fragment.visibility,
    revision: fragment.revision,
    config: JSON.stringify(fragment.config),
    created_at: fragment.createdAt,
    updated_at: fragment.updatedAt,
  };
}

function toRevision(row: FragmentRevisionRow): FragmentRevisionRecord {
  return {
    fragmentId: row.fragment_id,
    revision: row.revision,
    name: row.name,
    visibility: row.visibility,
    config: parseConfig(row.config),
    createdAt: row.created_at,
    editorType: row.editor_type,
    editorId: row.editor_id,
  };
}

function revisionRow(revision: FragmentRevisionRecord): FragmentRevisionRow {
  return {
    fragment_id: revision.fragmentId,
    revision: revision.revision,
    name: revision.name,
    visibility: revision.visibility,
    config: JSON.stringify(revision.config),
    created_at: revision.createdAt,
    editor_type: revision.editorType,
    editor_id: revision.editorId,
  };
}

function toTag(row: FragmentTagRow): FragmentTagRecord {
  return { fragmentId: row.fragment_id, tag: row.tag, revision: row.revision };
}

function tagRow(tag: FragmentTagRecord): FragmentTagRow {
  return { fragment_id: tag.fragmentId, tag: tag.tag, revision: tag.revision };
}

function toUse(row: FragmentUseRow): FragmentUseRecord {
  return {
    userType: row.user_type,
    userId: row.user_id,
    fragmentId: row.fragment_id,
    version: row.version,
  };
}

function useRow(use: FragmentUseRecord): FragmentUseRow {
  return {
    user_type: use.userType,
    user_id: use.userId,
    fragment_id: use.fragmentId,
    version: use.version,
  };
}

/** Fragments, their revisions and tags, and the record of who uses which fragment. */
export class FragmentRepository {
  constructor(private readonly changes: ChangeTracker) {}

  /** Saves a new fragment and its first revision; returns the fragment as stored. */
  async create(db: Db, fragment: FragmentRecord, first: FragmentRevisionRecord): Promise<FragmentRecord> {
    const row = fragmentRow(fragment);
    await db.insertInto('fragments').values(row).execute();
    await db.insertInto('fragment_revisions').values(revisionRow(first)).execute();
    return toFragment(row);
  }

  async findById(db: Db, id: string): Promise<FragmentRecord | undefined> {
    const row = await db.selectFrom('fragments').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toFragment(row);
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
  async listForOrganization(
    db: Db,
    organizationId: string,
    visibilities: readonly FragmentVisibility[],
  ): Promise<FragmentRecord[]> {
    if (visibilities.length === 0) return [];
    const rows = await db
      .selectFrom('fragments')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('visibility', 'in', [...visibilities])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toFragment);
  }

  async listByIds(db: Db, ids: readonly string[]): Promise<FragmentRecord[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('fragments')
      .selectAll()
      .where('id', 'in', [...ids])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toFragment);
  }

  /** Saves a new revision and makes it the latest. */
  async addRevision(db: Db, revision: FragmentRevisionRecord): Promise<void> {
    const row = revisionRow(revision);
    await db.insertInto('fragment_revisions').values(row).execute();
    await db
      .updateTable('fragments')
      .set({
        name: row.name,
        visibility: row.visibility,
        config: row.config,
        revision: row.revision,
        updated_at: row.created_at,
      })
      .where('id', '=', row.fragment_id)
      .execute();
    await this.changes.changed(db, `fragment:${revision.fragmentId}`);
  }

  async findRevision(
    db: Db,
    fragmentId: string,
    revision: number,
  ): Promise<FragmentRevisionRecord | undefined> {
    const row = await db
      .selectFrom('fragment_revisions')
      .selectAll()
      .where('fragment_id', '=', fragmentId)
      .where('revision', '=', revision)
      .executeTakeFirst();
    return row && toRevision(row);
  }

  /** Revisions whose config mentions this text (a fragment id), for a closer look by the caller. */
  async listRevisionsMentioning(db: Db, text: string): Promise<FragmentRevisionRecord[]> {
    const rows = await db
      .selectFrom('fragment_revisions')
      .selectAll()
      .where('config', 'like', `%${text.replace(/[%_\\]/g, '')}%`)
      .execute();
    return rows.map(toRevision);
  }

  /** Revisions below `before` (all when undefined), newest first, at most `limit`. */
  async listRevisions(
    db: Db,
    fragmentId: string,
    before: number | undefined,
    limit: number,
  ): Promise<FragmentRevisionRecord[]> {
    let query = db.selectFrom('fragment_revisions').selectAll().where('fragment_id', '=', fragmentId);
    if (before !== undefined) query = query.where('revision', '<', before);
    const rows = await query.orderBy('revision', 'desc').limit(limit).execute();
    return rows.map(toRevision);
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('fragments').where('id', '=', id).execute();
    await db
      .deleteFrom('fragment_uses')
      .where('user_type', '=', 'fragment')
      .where('user_id', '=', id)
      .execute();
    await this.changes.changed(db, `fragment:${id}`);
  }

  async listTags(db: Db, fragmentId: string): Promise<FragmentTagRecord[]> {
    const rows = await db
      .selectFrom('fragment_tags')
      .selectAll()
      .where('fragment_id', '=', fragmentId)
      .orderBy('tag')
      .execute();
    return rows.map(toTag);
  }

  async setTag(db: Db, tag: FragmentTagRecord): Promise<void> {
    await db
      .insertInto('fragment_tags')
      .values(tagRow(tag))
      .onConflict((oc) => oc.columns(['fragment_id', 'tag']).doUpdateSet({ revision: tag.revision }))
      .execute();
    await this.changes.changed(db, `fragment:${tag.fragmentId}`);
  }

  async deleteTag(db: Db, fragmentId: string, tag: string): Promise<number> {
    const result = await db
      .deleteFrom('fragment_tags')
      .where('fragment_id', '=', fragmentId)
      .where('tag', '=', tag)
      .executeTakeFirst();
    await this.changes.changed(db, `fragment:${fragmentId}`);
    return Number(result.numDeletedRows);
  }

  /** Replaces what one part or fragment uses. */
  async setUses(
    db: Db,
    userType: FragmentUseRecord['userType'],
    userId: string,
    uses: readonly FragmentUse[],
  ): Promise<void> {
    await db
      .deleteFrom('fragment_uses')
      .where('user_type', '=', userType)
      .where('user_id', '=', userId)
      .execute();
    if (uses.length === 0) return;
    await db
      .insertInto('fragment_uses')
      .values(uses.map((u) => useRow({ ...u, userType, userId })))
      .execute();
  }

  /** Forgets what these parts (or fragments) use, when they are deleted. */
  async deleteUsesBy(
    db: Db,
    userType: FragmentUseRecord['userType'],
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
  async listUsesOf(db: Db, fragmentId: string): Promise<FragmentUseRecord[]> {
    const rows = await db
      .selectFrom('fragment_uses')
      .selectAll()
      .where('fragment_id', '=', fragmentId)
      .execute();
    return rows.map(toUse);
  }

  /** What one part or fragment uses directly. */
  async listUsesBy(
    db: Db,
    userType: FragmentUseRecord['userType'],
    userIds: readonly string[],
  ): Promise<FragmentUseRecord[]> {
    if (userIds.length === 0) return [];
    const rows = await db
      .selectFrom('fragment_uses')
      .selectAll()
      .where('user_type', '=', userType)
      .where('user_id', 'in', [...userIds])
      .execute();
    return rows.map(toUse);
  }
}
