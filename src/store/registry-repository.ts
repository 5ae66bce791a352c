import type { Db } from './db.js';
import type { ModuleFileRow, ModuleVersionRow, RegistryItemRow } from './schema.js';

export type RegistryItemChanges = Partial<
  Pick<
    RegistryItemRow,
    | 'organization_id'
    | 'name'
    | 'type'
    | 'visibility'
    | 'description'
    | 'url'
    | 'models'
    | 'entrypoint'
    | 'first_run'
    | 'markdown_description'
    | 'updated_at'
  >
>;

/** Which items a listing starts from, before the filters that need versions and files. */
export interface RegistryItemQuery {
  /** Every item of this organization, whatever its visibility. */
  organizationId: string | undefined;
  /** Also every public (listed) item of any organization. */
  includePublic: boolean;
  /** Only these types; empty: all. */
  types: readonly string[];
  /** Only these visibilities; empty: all. */
  visibilities: readonly string[];
}

/** Registry items, module versions and the records of uploaded module files. */
export class RegistryRepository {
  async create(db: Db, item: RegistryItemRow): Promise<void> {
    await db.insertInto('registry_items').values(item).execute();
  }

  /** Inserts a new private item with nothing but its name and type; returns its row. */
  async createPrivate(
    db: Db,
    item: { id: string; organizationId: string; name: string; type: string; now: string },
  ): Promise<RegistryItemRow> {
    const row: RegistryItemRow = {
      id: item.id,
      organization_id: item.organizationId,
      name: item.name,
      type: item.type,
      visibility: 'private',
      description: '',
      url: '',
      models: '[]',
      entrypoint: '',
      first_run: null,
      markdown_description: null,
      created_at: item.now,
      updated_at: item.now,
    };
    await this.create(db, row);
    return row;
  }

  findById(db: Db, id: string): Promise<RegistryItemRow | undefined> {
    return db.selectFrom('registry_items').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByName(db: Db, organizationId: string, name: string): Promise<RegistryItemRow | undefined> {
    return db
      .selectFrom('registry_items')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Locks the item's row until the transaction ends (see RobotRepository.lock). */
  async lock(db: Db, id: string): Promise<void> {
    await db
      .updateTable('registry_items')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .execute();
  }

  async update(db: Db, id: string, changes: RegistryItemChanges): Promise<void> {
    if (Object.keys(changes).length === 0) return;
    await db.updateTable('registry_items').set(changes).where('id', '=', id).execute();
  }

  /** Deletes the item with its versions and file records (not the blobs). */
  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('registry_items').where('id', '=', id).execute();
  }

  async countForOrganization(db: Db, organizationId: string): Promise<number> {
    const row = await db
      .selectFrom('registry_items')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('organization_id', '=', organizationId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Items of the organization and (optionally) public ones, in no particular order. */
  list(db: Db, query: RegistryItemQuery): Promise<RegistryItemRow[]> {
    const { organizationId, includePublic, types, visibilities } = query;
    if (organizationId === undefined && !includePublic) return Promise.resolve([]);
    let q = db.selectFrom('registry_items').selectAll();
    q = q.where((eb) => {
      const from = [];
      if (organizationId !== undefined) from.push(eb('organization_id', '=', organizationId));
      if (includePublic) from.push(eb('visibility', '=', 'public'));
      return eb.or(from);
    });
    if (types.length > 0) q = q.where('type', 'in', [...types]);
    if (visibilities.length > 0) q = q.where('visibility', 'in', [...visibilities]);
    return q.execute();
  }

  findVersion(db: Db, itemId: string, version: string): Promise<ModuleVersionRow | undefined> {
    return db
      .selectFrom('module_versions')
      .selectAll()
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  async addVersion(db: Db, version: ModuleVersionRow): Promise<void> {
    await db.insertInto('module_versions').values(version).execute();
  }

  /** The versions of these items, in no particular order (callers sort by semver). */
  async listVersions(db: Db, itemIds: readonly string[]): Promise<ModuleVersionRow[]> {
    if (itemIds.length === 0) return [];
    return db
      .selectFrom('module_versions')
      .selectAll()
      .where('item_id', 'in', [...itemIds])
      .execute();
  }

  async findFile(
    db: Db,
    itemId: string,
    version: string,
    platform: string,
  ): Promise<ModuleFileRow | undefined> {
    const row = await db
      .selectFrom('module_files')
      .selectAll()
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .where('platform', '=', platform)
      .executeTakeFirst();
    return row && fileRow(row);
  }

  async findFileById(db: Db, id: string): Promise<ModuleFileRow | undefined> {
    const row = await db.selectFrom('module_files').selectAll().where('id', '=', id).executeTakeFirst();
    return row && fileRow(row);
  }

  /** Records the CRC-32C of a file uploaded before checksums were kept. */
  async setFileCrc32c(db: Db, id: string, crc32c: number): Promise<void> {
    await db.updateTable('module_files').set({ crc32c }).where('id', '=', id).execute();
  }

  /** Deletes a version with its file records; returns the ids of the files (their blobs' keys). */
  async deleteVersion(db: Db, itemId: string, version: string): Promise<string[]> {
    const files = await db
      .deleteFrom('module_files')
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .returning('id')
      .execute();
    await db
      .deleteFrom('module_versions')
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .execute();
    return files.map((f) => f.id);
  }

  async addFile(db: Db, file: ModuleFileRow): Promise<void> {
    await db.insertInto('module_files').values(file).execute();
  }

  /** The files of these items, in no particular order. */
  async listFiles(db: Db, itemIds: readonly string[]): Promise<ModuleFileRow[]> {
    if (itemIds.length === 0) return [];
    const rows = await db
      .selectFrom('module_files')
      .selectAll()
      .where('item_id', 'in', [...itemIds])
      .execute();
    return rows.map(fileRow);
  }
}

/** PostgreSQL returns bigint columns as strings. */
const fileRow = (row: ModuleFileRow): ModuleFileRow => ({
  ...row,
  size_bytes: Number(row.size_bytes),
  crc32c: row.crc32c === null ? null : Number(row.crc32c),
});
