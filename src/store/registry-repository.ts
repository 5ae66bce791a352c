import type { ChangeTracker } from './change-tracker.js';
import type { ModuleModel, RegistryItemType, RegistryVisibility } from '../domain/registry.js';
import type { Db } from './db.js';
import type { ItemFileRecord, ItemVersionRecord, RegistryItemRecord } from './records.js';
import type { ModuleFileRow, ModuleVersionRow, RegistryItemRow } from './schema.js';

/**
 * Changes to an item. A key left out keeps its column; `firstRun` or `markdownDescription`
 * present but undefined clears it.
 */
export type RegistryItemChanges = Partial<
  Pick<
    RegistryItemRecord,
    | 'organizationId'
    | 'name'
    | 'type'
    | 'visibility'
    | 'description'
    | 'url'
    | 'models'
    | 'entrypoint'
    | 'firstRun'
    | 'markdownDescription'
    | 'updatedAt'
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
  constructor(private readonly changes: ChangeTracker) {}

  async create(db: Db, item: RegistryItemRecord): Promise<void> {
    await db.insertInto('registry_items').values(registryItemRow(item)).execute();
    await this.changes.changed(db, 'registry');
  }

  /** Inserts a new private item with nothing but its name and type; returns it. */
  async createPrivate(
    db: Db,
    item: { id: string; organizationId: string; name: string; type: RegistryItemType; now: string },
  ): Promise<RegistryItemRecord> {
    const record: RegistryItemRecord = {
      id: item.id,
      organizationId: item.organizationId,
      name: item.name,
      type: item.type,
      visibility: 'private',
      description: '',
      url: '',
      models: [],
      entrypoint: '',
      firstRun: undefined,
      markdownDescription: undefined,
      createdAt: item.now,
      updatedAt: item.now,
    };
    await this.create(db, record);
    return record;
  }

  async findById(db: Db, id: string): Promise<RegistryItemRecord | undefined> {
    const row = await db.selectFrom('registry_items').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRegistryItemRecord(row);
  }

  async findByName(db: Db, organizationId: string, name: string): Promise<RegistryItemRecord | undefined> {
    const row = await db
      .selectFrom('registry_items')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toRegistryItemRecord(row);
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
    const row = registryItemRow(changes);
    if (Object.keys(row).length === 0) return;
    await db.updateTable('registry_items').set(row).where('id', '=', id).execute();
    await this.changes.changed(db, 'registry');
  }

  /** Deletes the item with its versions and file records (not the blobs). */
  async delete(db: Db, id: string): Promise<void> {
    await db.deleteFrom('registry_items').where('id', '=', id).execute();
    await this.changes.changed(db, 'registry');
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
  async list(db: Db, query: RegistryItemQuery): Promise<RegistryItemRecord[]> {
    const { organizationId, includePublic, types, visibilities } = query;
    if (organizationId === undefined && !includePublic) return [];
    let q = db.selectFrom('registry_items').selectAll();
    q = q.where((eb) => {
      const from = [];
      if (organizationId !== undefined) from.push(eb('organization_id', '=', organizationId));
      if (includePublic) from.push(eb('visibility', '=', 'public'));
      return eb.or(from);
    });
    if (types.length > 0) q = q.where('type', 'in', [...types]);
    if (visibilities.length > 0) q = q.where('visibility', 'in', [...visibilities]);
    return (await q.execute()).map(toRegistryItemRecord);
  }

  async findVersion(db: Db, itemId: string, version: string): Promise<ItemVersionRecord | undefined> {
    const row = await db
      .selectFrom('module_versions')
      .selectAll()
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && toItemVersionRecord(row);
  }

  async addVersion(db: Db, version: ItemVersionRecord): Promise<void> {
    await db.insertInto('module_versions').values(itemVersionRow(version)).execute();
    await this.changes.changed(db, 'registry');
  }

  /** The versions of these items, in no particular order (callers sort by semver). */
  async listVersions(db: Db, itemIds: readonly string[]): Promise<ItemVersionRecord[]> {
    if (itemIds.length === 0) return [];
    const rows = await db
      .selectFrom('module_versions')
      .selectAll()
      .where('item_id', 'in', [...itemIds])
      .execute();
    return rows.map(toItemVersionRecord);
  }

  async findFile(
    db: Db,
    itemId: string,
    version: string,
    platform: string,
  ): Promise<ItemFileRecord | undefined> {
    const row = await db
      .selectFrom('module_files')
      .selectAll()
      .where('item_id', '=', itemId)
      .where('version', '=', version)
      .where('platform', '=', platform)
      .executeTakeFirst();
    return row && toItemFileRecord(row);
  }

  async findFileById(db: Db, id: string): Promise<ItemFileRecord | undefined> {
    const row = await db.selectFrom('module_files').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toItemFileRecord(row);
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
    await this.changes.changed(db, 'registry');
    return files.map((f) => f.id);
  }

  async addFile(db: Db, file: ItemFileRecord): Promise<void> {
    await db.insertInto('module_files').values(itemFileRow(file)).execute();
    await this.changes.changed(db, 'registry');
  }

  /** The files of these items, in no particular order. */
  async listFiles(db: Db, itemIds: readonly string[]): Promise<ItemFileRecord[]> {
    if (itemIds.length === 0) return [];
    const rows = await db
      .selectFrom('module_files')
      .selectAll()
      .where('item_id', 'in', [...itemIds])
      .execute();
    return rows.map(toItemFileRecord);
  }
}

const toRegistryItemRecord = (row: RegistryItemRow): RegistryItemRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  type: row.type as RegistryItemType,
  visibility: row.visibility as RegistryVisibility,
  description: row.description,
  url: row.url,
  models: JSON.parse(row.models) as ModuleModel[],
  entrypoint: row.entrypoint,
  firstRun: row.first_run ?? undefined,
  markdownDescription: row.markdown_description ?? undefined,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** An item's columns: every one for a whole item, only those changed for changes. */
function registryItemRow(item: RegistryItemRecord): RegistryItemRow;
function registryItemRow(changes: RegistryItemChanges): Partial<RegistryItemRow>;
function registryItemRow(item: Partial<RegistryItemRecord>): Partial<RegistryItemRow> {
  const row: Partial<RegistryItemRow> = {};
  if (item.id !== undefined) row.id = item.id;
  if (item.organizationId !== undefined) row.organization_id = item.organizationId;
  if (item.name !== undefined) row.name = item.name;
  if (item.type !== undefined) row.type = item.type;
  if (item.visibility !== undefined) row.visibility = item.visibility;
  if (item.description !== undefined) row.description = item.description;
  if (item.url !== undefined) row.url = item.url;
  if (item.models !== undefined) row.models = JSON.stringify(item.models);
  if (item.entrypoint !== undefined) row.entrypoint = item.entrypoint;
  if ('firstRun' in item) row.first_run = item.firstRun ?? null;
  if ('markdownDescription' in item) row.markdown_description = item.markdownDescription ?? null;
  if (item.createdAt !== undefined) row.created_at = item.createdAt;
  if (item.updatedAt !== undefined) row.updated_at = item.updatedAt;
  return row;
}

const toItemVersionRecord = (row: ModuleVersionRow): ItemVersionRecord => ({
  itemId: row.item_id,
  version: row.version,
  models: JSON.parse(row.models) as ModuleModel[],
  entrypoint: row.entrypoint,
  firstRun: row.first_run ?? undefined,
  createdAt: row.created_at,
});

const itemVersionRow = (version: ItemVersionRecord): ModuleVersionRow => ({
  item_id: version.itemId,
  version: version.version,
  models: JSON.stringify(version.models),
  entrypoint: version.entrypoint,
  first_run: version.firstRun ?? null,
  created_at: version.createdAt,
});

/** PostgreSQL returns bigint columns as strings. */
const toItemFileRecord = (row: ModuleFileRow): ItemFileRecord => ({
  id: row.id,
  itemId: row.item_id,
  version: row.version,
  platform: row.platform,
  platformTags: JSON.parse(row.platform_tags) as string[],
  sizeBytes: Number(row.size_bytes),
  sha256: row.sha256,
  crc32c: row.crc32c === null ? undefined : Number(row.crc32c),
  uploadedAt: row.uploaded_at,
});

const itemFileRow = (file: ItemFileRecord): ModuleFileRow => ({
  id: file.id,
  item_id: file.itemId,
  version: file.version,
  platform: file.platform,
  platform_tags: JSON.stringify(file.platformTags),
  size_bytes: file.sizeBytes,
  sha256: file.sha256,
  crc32c: file.crc32c ?? null,
  uploaded_at: file.uploadedAt,
});
