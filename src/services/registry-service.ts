import type { Authorized, OwnedItem } from '../authz/authorizer.js';
import { writePermissionFor } from '../authz/permissions.js';
import type { FleetPrincipal } from '../authz/principal.js';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
} from '../domain/errors.js';
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
import type { ItemFileRecord, OrganizationRecord, RegistryItemRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';

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

/** The registry: items of every type, and modules with their versions. Files: ModuleFileService. */
export class RegistryService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
  ) {}

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
      await this.deps.authz.require(
        trx,
        principal,
        { type: 'organization', id: orgId },
        'write_private_registry_item',
      );
      let item: RegistryItemRecord;
      try {
        item = await this.deps.repos.registry.createPrivate(trx, {
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
      return (await this.views(trx, [item]))[0] as RegistryItem;
    });
  }

  async getItem(principal: FleetPrincipal, itemId: string): Promise<RegistryItem> {
    const { record } = await this.deps.authz.require(
      this.deps.db,
      principal,
      { type: 'registry-item', id: itemId, field: 'item_id' },
      'read_packages',
    );
    const { item } = record;
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
      changes.markdownDescription = boundedField(
        update.markdownDescription,
        'markdown_description',
        MAX_MARKDOWN_LENGTH,
      );
    }
    if (update.module) {
      if (update.type !== 'module') throw invalidArgument('module metadata is only for items of type module');
      changes.models = requireModels(update.module.models);
      changes.entrypoint = boundedField(update.module.entrypoint, 'entrypoint', MAX_ENTRYPOINT_LENGTH);
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const access = await this.writable(trx, principal, itemId, 'item_id');
      const owned = access.record;
      this.checkVisibility(access, update.visibility ?? 'private');
      if (update.type !== owned.item.type && (await this.hasFiles(trx, owned.item.id))) {
        throw failedPrecondition(`the item has uploaded files, so it stays a ${owned.item.type}`);
      }
      await this.deps.repos.registry.update(trx, owned.item.id, { ...changes, updatedAt: nowIso() });
    });
  }

  async listItems(principal: FleetPrincipal, filter: RegistryItemFilter): Promise<RegistryItem[]> {
    const { db } = this.deps;
    const orgId = filter.organizationId || undefined;
    if (orgId !== undefined)
      await this.deps.authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const namespaces = filter.publicNamespaces.map((ns) => requireNamespace(ns));
    const records = await this.deps.repos.registry.list(db, {
      organizationId: orgId,
      includePublic: true,
      types: filter.types,
      visibilities: filter.visibilities,
    });
    const term = filter.searchTerm.toLowerCase();
    const items = await this.views(db, records);
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
      const access = await this.writable(trx, principal, itemId, 'item_id');
      const owned = access.record;
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
      const access = await this.writable(trx, principal, itemId, 'item_id');
      const owned = access.record;
      await this.saveUnique(trx, owned.item.id, { name, updatedAt: nowIso() }, name);
      return (await this.views(trx, [await this.reload(trx, owned.item.id)]))[0] as RegistryItem;
    });
  }

  /** Moves an item to the organization holding `namespace`, which the caller must own too. */
  async transferItem(principal: FleetPrincipal, itemId: string, namespace: string): Promise<void> {
    const ns = requireNamespace(namespace);
    await this.deps.db.transaction().execute(async (trx) => {
      const access = await this.writable(trx, principal, itemId, 'item_id');
      const owned = access.record;
      const target = await this.deps.repos.organizations.findByNamespace(trx, ns);
      if (!target) throw notFound(`no organization has the public namespace ${ns}`);
      if (target.id === owned.organization.id) {
        throw invalidArgument(`the item already belongs to the organization with namespace ${ns}`);
      }
      // The namespace is public, so its organization is known to exist: not owning it is a denial.
      if (!(await this.deps.authz.isOwnerOf(trx, principal, { type: 'organization', id: target.id }))) {
        throw permissionDenied(
          `missing permission ${writePermissionFor(owned.item.visibility)} on organization ${target.id}`,
        );
      }
      await this.saveUnique(
        trx,
        owned.item.id,
        { organizationId: target.id, updatedAt: nowIso() },
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
      models: requireModels(update.models),
      entrypoint: boundedField(update.entrypoint, 'entrypoint', MAX_ENTRYPOINT_LENGTH),
      // Present even when undefined: UpdateModule clears what the request leaves unset.
      firstRun:
        update.firstRun === undefined
          ? undefined
          : boundedField(update.firstRun, 'first_run', MAX_ENTRYPOINT_LENGTH),
      markdownDescription:
        update.markdownDescription === undefined
          ? undefined
          : boundedField(update.markdownDescription, 'markdown_description', MAX_MARKDOWN_LENGTH),
    };
    return this.deps.db.transaction().execute(async (trx) => {
      const access = await this.writable(trx, principal, moduleId, 'module_id');
      const owned = requireModule(access.record, moduleId);
      this.checkVisibility(access, update.visibility ?? 'private');
      await this.deps.repos.registry.update(trx, owned.item.id, { ...changes, updatedAt: nowIso() });
      return this.moduleUrl(itemIdOf(owned.organization, owned.item.name));
    });
  }

  async getModule(principal: FleetPrincipal, moduleId: string): Promise<RegistryItem> {
    const { db } = this.deps;
    const owned = requireModule(
      (
        await this.deps.authz.require(
          db,
          principal,
          { type: 'registry-item', id: moduleId, field: 'module_id' },
          'read_packages',
        )
      ).record,
      moduleId,
    );
    return (await this.views(db, [owned.item]))[0] as RegistryItem;
  }

  /** The organization's modules (when given), and every public module. */
  async listModules(principal: FleetPrincipal, organizationId: string | undefined): Promise<RegistryItem[]> {
    const { db } = this.deps;
    const orgId = organizationId || undefined;
    if (orgId !== undefined)
      await this.deps.authz.require(db, principal, { type: 'organization', id: orgId }, 'read_organization');
    const items = await this.deps.repos.registry.list(db, {
      organizationId: orgId,
      includePublic: true,
      types: ['module'],
      visibilities: [],
    });
    return this.views(db, items);
  }

  /**
   * Items as the API shows them, with their organization's namespace, versions and files, by
   * name then organization.
   */
  async views(db: Db, items: readonly RegistryItemRecord[]): Promise<RegistryItem[]> {
    const { repos } = this.deps;
    const ids = items.map((i) => i.id);
    const orgs = new Map<string, OrganizationRecord>();
    for (const org of await repos.organizations.listByIds(db, [
      ...new Set(items.map((i) => i.organizationId)),
    ])) {
      orgs.set(org.id, org);
    }
    const files = new Map<string, ItemFileRecord[]>();
    // Sorted here, not in SQL: a PostgreSQL collation could order `linux/arm/v7` and `linux/arm64` differently.
    const fileRecords = (await repos.registry.listFiles(db, ids)).sort((a, b) =>
      byCodePoint(a.platform, b.platform),
    );
    for (const file of fileRecords) {
      const key = `${file.itemId} ${file.version}`;
      files.set(key, [...(files.get(key) ?? []), file]);
    }
    const versions = new Map<string, ModuleVersion[]>();
    for (const v of await repos.registry.listVersions(db, ids)) {
      const version: ModuleVersion = {
        version: v.version,
        models: v.models,
        entrypoint: v.entrypoint,
        firstRun: v.firstRun,
        files: (files.get(`${v.itemId} ${v.version}`) ?? []).map(toModuleFile),
      };
      versions.set(v.itemId, [...(versions.get(v.itemId) ?? []), version]);
    }
    const ordered = [...items].sort(
      (a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.organizationId, b.organizationId),
    );
    return ordered.map((item) => {
      const org = orgs.get(item.organizationId);
      const own = (versions.get(item.id) ?? []).sort((a, b) => compareSemVer(a.version, b.version));
      return {
        itemId: itemIdOf(org ?? { id: item.organizationId, publicNamespace: undefined }, item.name),
        organizationId: item.organizationId,
        publicNamespace: org?.publicNamespace ?? '',
        name: item.name,
        type: item.type,
        visibility: item.visibility,
        status: own.some((v) => v.files.length > 0) ? 'published' : 'in_development',
        url: item.url,
        description: item.description,
        models: item.models,
        entrypoint: item.entrypoint,
        firstRun: item.firstRun,
        markdownDescription: item.markdownDescription,
        versions: own,
        createdAt: new Date(item.createdAt),
        updatedAt: new Date(item.updatedAt),
      };
    });
  }

  /** A public item needs its organization's namespace; making an item public needs the public write. */
  private checkVisibility(access: Authorized<'registry-item'>, visibility: RegistryVisibility): void {
    const { organization } = access.record;
    if (visibility === 'public' && !organization.publicNamespace) {
      throw failedPrecondition('a public item needs its organization to have a public namespace');
    }
    const permission = writePermissionFor(visibility);
    if (!access.permissions.has(permission)) {
      throw permissionDenied(`missing permission ${permission} on organization ${organization.id}`);
    }
  }

  /** The item locked for this transaction, if the caller may change it. */
  private writable(trx: Db, principal: FleetPrincipal, id: string, field: string) {
    return this.deps.authz.require(
      trx,
      principal,
      { type: 'registry-item', id, field },
      (owned) => writePermissionFor(owned.item.visibility),
      { lock: true },
    );
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

  private async reload(db: Db, id: string): Promise<RegistryItemRecord> {
    const item = await this.deps.repos.registry.findById(db, id);
    if (!item) throw notFound('registry item not found');
    return item;
  }
}

/** The item, if it is a module: other items are not found as modules. */
export function requireModule(owned: OwnedItem, moduleId: string): OwnedItem {
  if (owned.item.type !== 'module') throw notFound(`module ${moduleId} not found (the item is not a module)`);
  return owned;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const toModuleFile = (f: ItemFileRecord): ModuleFile => ({
  platform: f.platform,
  sizeBytes: f.sizeBytes,
  sha256: f.sha256,
  uploadedAt: new Date(f.uploadedAt),
});
