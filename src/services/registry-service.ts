import type { FleetPrincipal } from '../authz/principal.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { ModuleFile, ModuleVersion, RegistryItem } from '../domain/models.js';
import {
  boundedField,
  itemIdOf,
  MAX_DESCRIPTION_LENGTH,
  MAX_ENTRYPOINT_LENGTH,
  MAX_MARKDOWN_LENGTH,
  requireDocsUrl,
  requireItemName,
  requireModels,
  type ModuleModel,
  type RegistryItemStatus,
  type RegistryItemType,
  type RegistryVisibility,
} from '../domain/registry.js';
import { compareSemVer } from '../domain/semver.js';
import { requireId, requireNamespace } from '../domain/validation.js';
import type { BlobStore } from '../store/blob-store.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { RegistryItemChanges } from '../store/registry-repository.js';
import type { ModuleFileRow, OrganizationRow, RegistryItemRow } from '../store/schema.js';
import type { ServiceDeps } from './context.js';
import { RegistryAccess, writePermissionFor, type OwnedItem } from './registry-access.js';

/** What UpdateModule sets: everything at once, as the SDK always sends every field. */
export interface ModuleUpdate {
  visibility: RegistryVisibility | undefined;
  url: string;
  description: string;
  models: ModuleModel[];
  entrypoint: string;
  firstRun: string | undefined;
  markdownDescription: string | undefined;
}

/** What UpdateRegistryItem sets; `module` only for modules. */
export interface RegistryItemUpdate {
  type: RegistryItemType | undefined;
  description: string;
  visibility: RegistryVisibility | undefined;
  url: string | undefined;
  markdownDescription: string | undefined;
  module: { models: ModuleModel[]; entrypoint: string } | undefined;
}

/** The filters of ListRegistryItems; an empty list means no filter. */
export interface RegistryItemFilter {
  organizationId: string | undefined;
  types: RegistryItemType[];
  visibilities: RegistryVisibility[];
  platforms: string[];
  statuses: RegistryItemStatus[];
  searchTerm: string;
  publicNamespaces: string[];
}

const parseModels = (json: string) => JSON.parse(json) as ModuleModel[];

/** The registry: items of every type, and modules with their versions. Files: ModuleFileService. */
export class RegistryService {
  private readonly access: RegistryAccess;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
  ) {
    this.access = new RegistryAccess(deps);
  }

  /** The page that describes a module, which its download paths extend. */
  moduleUrl(itemId: string): string {
    return `${this.deps.settings.publicUrl}/modules/${itemId}`;
  }

  async createItem(
    principal: FleetPrincipal,
    organizationId: string,
    rawName: string,
    type: RegistryItemType | undefined,
  ): Promise<RegistryItem> {
    const orgId = requireId(organizationId, 'organization_id');
    const name = requireItemName(rawName, 'name');
    if (!type) throw invalidArgument('type must be set (module, ml_model, ...)');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.access.requireOrganization(trx, principal, orgId, 'write_private_registry_item');
      let row: RegistryItemRow;
      try {
        row = await this.deps.repos.registry.createPrivate(trx, {
          id: newId(),
          organizationId: orgId,
          name,
          type,
          now: nowIso(),
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw alreadyExists(`the organization already has an item named ${name}`);
        throw error;
      }
      return (await this.views(trx, [row]))[0] as RegistryItem;
    });
  }

  async getItem(principal: FleetPrincipal, itemId: string): Promise<RegistryItem> {
    const { item } = await this.access.requireReadable(this.deps.db, principal, itemId, 'item_id');
    return (await this.views(this.deps.db, [item]))[0] as RegistryItem;
  }

  async updateItem(principal: FleetPrincipal, itemId: string, update: RegistryItemUpdate): Promise<void> {
    if (!update.type) throw invalidArgument('type must be set (module, ml_model, ...)');
    if (!update.visibility)
      throw invalidArgument('visibility must be set (private, public or public_unlisted)');
    const changes: RegistryItemChanges = {
      type: update.type,
      visibility: update.visibility,
      description: boundedField(update.description, 'description', MAX_DESCRIPTION_LENGTH),
    };
    if (update.url !== undefined) changes.url = requireDocsUrl(update.url);
    if (update.markdownDescription !== undefined) {
      changes.markdown_description = boundedField(
        update.markdownDescription,
        'markdown_description',
        MAX_MARKDOWN_LENGTH,
      );
    }
    if (update.module) {
      if (update.type !== 'module') throw invalidArgument('module metadata is only for items of type module');
      changes.models = JSON.stringify(requireModels(update.module.models));
      changes.entrypoint = boundedField(update.module.entrypoint, 'entrypoint', MAX_ENTRYPOINT_LENGTH);
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const owned = await this.access.requireWritable(trx, principal, itemId, 'item_id');
      await this.checkVisibility(trx, principal, owned, update.visibility ?? 'private');
      if (update.type !== owned.item.type && (await this.hasFiles(trx, owned.item.id))) {
        throw failedPrecondition(`the item has uploaded files, so it stays a ${owned.item.type}`);
      }
      await this.deps.repos.registry.update(trx, owned.item.id, { ...changes, updated_at: nowIso() });
    });
  }

  async listItems(principal: FleetPrincipal, filter: RegistryItemFilter): Promise<RegistryItem[]> {
    const { db } = this.deps;
    const orgId = filter.organizationId || undefined;
    if (orgId !== undefined) await this.access.requireOrganization(db, principal, orgId, 'read_organization');
    const namespaces = filter.publicNamespaces.map((ns) => requireNamespace(ns));
    const rows = await this.deps.repos.registry.list(db, {
      organizationId: orgId,
      includePublic: true,
      types: filter.types,
      visibilities: filter.visibilities,
    });
    const term = filter.searchTerm.toLowerCase();
    const items = await this.views(db, rows);
    return items.filter(
      (item) =>
        (namespaces.length === 0 || namespaces.includes(item.publicNamespace)) &&
        (filter.statuses.length === 0 || filter.statuses.includes(item.status)) &&
        (filter.platforms.length === 0 ||
          item.versions.some((v) =>
            v.files.some((f) => f.platform === 'any' || filter.platforms.includes(f.platform)),
          )) &&
        (term === '' ||
          item.name.toLowerCase().includes(term) ||
          item.description.toLowerCase().includes(term)),
    );
  }

  /** Deletes an item with its versions and files. */
  async deleteItem(principal: FleetPrincipal, itemId: string): Promise<void> {
    const fileIds = await this.deps.db.transaction().execute(async (trx) => {
      const owned = await this.access.requireWritable(trx, principal, itemId, 'item_id');
      const files = await this.deps.repos.registry.listFiles(trx, [owned.item.id]);
      await this.deps.repos.registry.delete(trx, owned.item.id);
      return files.map((f) => f.id);
    });
    // The records are gone: the blobs are unreachable now, so their removal can't be seen half done.
    for (const id of fileIds) await this.blobs.delete(id);
  }

  async renameItem(principal: FleetPrincipal, itemId: string, rawName: string): Promise<RegistryItem> {
    const name = requireItemName(rawName, 'new_name');
    return this.deps.db.transaction().execute(async (trx) => {
      const owned = await this.access.requireWritable(trx, principal, itemId, 'item_id');
      await this.saveUnique(trx, owned.item.id, { name, updated_at: nowIso() }, name);
      return (await this.views(trx, [await this.reload(trx, owned.item.id)]))[0] as RegistryItem;
    });
  }

  /** Moves an item to the organization holding `namespace`, which the caller must own too. */
  async transferItem(principal: FleetPrincipal, itemId: string, namespace: string): Promise<void> {
    const ns = requireNamespace(namespace);
    await this.deps.db.transaction().execute(async (trx) => {
      const owned = await this.access.requireWritable(trx, principal, itemId, 'item_id');
      const target = await this.deps.repos.organizations.findByNamespace(trx, ns);
      if (!target) throw notFound(`no organization has the public namespace ${ns}`);
      if (target.id === owned.organization.id) {
        throw invalidArgument(`the item already belongs to the organization with namespace ${ns}`);
      }
      // The namespace is public, so its organization is known to exist: not owning it is a denial.
      await this.access.requireOwner(trx, principal, target.id, writePermissionFor(owned.item.visibility));
      await this.saveUnique(
        trx,
        owned.item.id,
        { organization_id: target.id, updated_at: nowIso() },
        owned.item.name,
      );
    });
  }

  async createModule(
    principal: FleetPrincipal,
    organizationId: string,
    name: string,
  ): Promise<{ moduleId: string; url: string }> {
    const item = await this.createItem(principal, organizationId, name, 'module');
    return { moduleId: item.itemId, url: this.moduleUrl(item.itemId) };
  }

  /** Replaces a module's url, description, models, entrypoint and visibility; returns its URL. */
  async updateModule(principal: FleetPrincipal, moduleId: string, update: ModuleUpdate): Promise<string> {
    if (!update.visibility)
      throw invalidArgument('visibility must be set (private, public or public_unlisted)');
    const changes: RegistryItemChanges = {
      visibility: update.visibility,
      url: requireDocsUrl(update.url),
      description: boundedField(update.description, 'description', MAX_DESCRIPTION_LENGTH),
      models: JSON.stringify(requireModels(update.models)),
      entrypoint: boundedField(update.entrypoint, 'entrypoint', MAX_ENTRYPOINT_LENGTH),
      first_run:
        update.firstRun === undefined
          ? null
          : boundedField(update.firstRun, 'first_run', MAX_ENTRYPOINT_LENGTH),
      markdown_description:
        update.markdownDescription === undefined
          ? null
          : boundedField(update.markdownDescription, 'markdown_description', MAX_MARKDOWN_LENGTH),
    };
    return this.deps.db.transaction().execute(async (trx) => {
      const owned = requireModule(
        await this.access.requireWritable(trx, principal, moduleId, 'module_id'),
        moduleId,
      );
      await this.checkVisibility(trx, principal, owned, update.visibility ?? 'private');
      await this.deps.repos.registry.update(trx, owned.item.id, { ...changes, updated_at: nowIso() });
      return this.moduleUrl(itemIdOf(owned.organization, owned.item.name));
    });
  }

  async getModule(principal: FleetPrincipal, moduleId: string): Promise<RegistryItem> {
    const { db } = this.deps;
    const owned = requireModule(
      await this.access.requireReadable(db, principal, moduleId, 'module_id'),
      moduleId,
    );
    return (await this.views(db, [owned.item]))[0] as RegistryItem;
  }

  /** The organization's modules (when given), and every public module. */
  async listModules(principal: FleetPrincipal, organizationId: string | undefined): Promise<RegistryItem[]> {
    const { db } = this.deps;
    const orgId = organizationId || undefined;
    if (orgId !== undefined) await this.access.requireOrganization(db, principal, orgId, 'read_organization');
    const rows = await this.deps.repos.registry.list(db, {
      organizationId: orgId,
      includePublic: true,
      types: ['module'],
      visibilities: [],
    });
    return this.views(db, rows);
  }

  /**
   * Items as the API shows them, with their organization's namespace, versions and files, by
   * name then organization.
   */
  async views(db: Db, rows: readonly RegistryItemRow[]): Promise<RegistryItem[]> {
    const { repos } = this.deps;
    const ids = rows.map((r) => r.id);
    const orgs = new Map<string, OrganizationRow>();
    for (const org of await repos.organizations.listByIds(db, [
      ...new Set(rows.map((r) => r.organization_id)),
    ])) {
      orgs.set(org.id, org);
    }
    const files = new Map<string, ModuleFileRow[]>();
    // Sorted here, not in SQL: a PostgreSQL collation could order `linux/arm/v7` and `linux/arm64` differently.
    const fileRows = (await repos.registry.listFiles(db, ids)).sort((a, b) =>
      byCodePoint(a.platform, b.platform),
    );
    for (const file of fileRows) {
      const key = `${file.item_id} ${file.version}`;
      files.set(key, [...(files.get(key) ?? []), file]);
    }
    const versions = new Map<string, ModuleVersion[]>();
    for (const v of await repos.registry.listVersions(db, ids)) {
      const version: ModuleVersion = {
        version: v.version,
        models: parseModels(v.models),
        entrypoint: v.entrypoint,
        firstRun: v.first_run ?? undefined,
        files: (files.get(`${v.item_id} ${v.version}`) ?? []).map(toModuleFile),
      };
      versions.set(v.item_id, [...(versions.get(v.item_id) ?? []), version]);
    }
    const ordered = [...rows].sort(
      (a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.organization_id, b.organization_id),
    );
    return ordered.map((row) => {
      const org = orgs.get(row.organization_id);
      const own = (versions.get(row.id) ?? []).sort((a, b) => compareSemVer(a.version, b.version));
      return {
        itemId: itemIdOf(org ?? { id: row.organization_id, public_namespace: null }, row.name),
        organizationId: row.organization_id,
        publicNamespace: org?.public_namespace ?? '',
        name: row.name,
        type: row.type as RegistryItemType,
        visibility: row.visibility as RegistryVisibility,
        status: own.some((v) => v.files.length > 0) ? 'published' : 'in_development',
        url: row.url,
        description: row.description,
        models: parseModels(row.models),
        entrypoint: row.entrypoint,
        firstRun: row.first_run ?? undefined,
        markdownDescription: row.markdown_description ?? undefined,
        versions: own,
        createdAt: new Date(row.created_at),
        updatedAt: new Date(row.updated_at),
      };
    });
  }

  /** A public item needs its organization's namespace; making an item public needs the public write. */
  private async checkVisibility(
    trx: Db,
    principal: FleetPrincipal,
    owned: OwnedItem,
    visibility: RegistryVisibility,
  ): Promise<void> {
    if (visibility === 'public' && !owned.organization.public_namespace) {
      throw failedPrecondition('a public item needs its organization to have a public namespace');
    }
    await this.access.requireOwner(trx, principal, owned.organization.id, writePermissionFor(visibility));
  }

  private async hasFiles(db: Db, itemId: string): Promise<boolean> {
    return (await this.deps.repos.registry.listFiles(db, [itemId])).length > 0;
  }

  private async saveUnique(db: Db, id: string, changes: RegistryItemChanges, name: string): Promise<void> {
    try {
      await this.deps.repos.registry.update(db, id, changes);
    } catch (error) {
      if (isUniqueViolation(error)) throw alreadyExists(`the organization already has an item named ${name}`);
      throw error;
    }
  }

  private async reload(db: Db, id: string): Promise<RegistryItemRow> {
    const row = await this.deps.repos.registry.findById(db, id);
    if (!row) throw notFound('registry item not found');
    return row;
  }
}

/** The item, if it is a module: other items are not found as modules. */
export function requireModule(owned: OwnedItem, moduleId: string): OwnedItem {
  if (owned.item.type !== 'module') throw notFound(`module ${moduleId} not found (the item is not a module)`);
  return owned;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const toModuleFile = (f: ModuleFileRow): ModuleFile => ({
  platform: f.platform,
  sizeBytes: f.size_bytes,
  sha256: f.sha256,
  uploadedAt: new Date(f.uploaded_at),
});
