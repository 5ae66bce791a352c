import type { Permission } from '../authz/permissions.js';
import type { FleetPrincipal, Principal } from '../authz/principal.js';
import { notFound } from '../domain/errors.js';
import { parseItemId } from '../domain/registry.js';
import type { Db } from '../store/db.js';
import type { OrganizationRow, RegistryItemRow } from '../store/schema.js';
import type { ServiceDeps } from './context.js';

/** An item together with the organization that owns it. */
export interface OwnedItem {
  item: RegistryItemRow;
  organization: OrganizationRow;
}

/**
 * Who may see and change registry items. Public and public-unlisted items can be read by any
 * authenticated caller; a private one only with a role inside its organization (and by that
 * organization's machines, for downloads). An item the caller may not read is not found.
 * Changing an item needs owner on its organization.
 */
export class RegistryAccess {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * The item an id names: `<organization id>:<name>` first, then `<namespace>:<name>`, so an
   * organization's id can't be shadowed by another organization's namespace.
   */
  async find(db: Db, rawId: string, field: string): Promise<OwnedItem | undefined> {
    const { prefix, name } = parseItemId(rawId, field);
    const { organizations, registry } = this.deps.repos;
    const organization =
      (await organizations.findById(db, prefix)) ?? (await organizations.findByNamespace(db, prefix));
    if (!organization) return undefined;
    const item = await registry.findByName(db, organization.id, name);
    return item && { item, organization };
  }

  /** Whether the caller (a user, key or machine part) may read the item. */
  async canRead(db: Db, principal: Principal, item: RegistryItemRow): Promise<boolean> {
    if (item.visibility !== 'private') return true;
    return this.deps.authz.isInsideOrganization(db, principal, item.organization_id);
  }

  /** The item, if the caller may read it; NOT_FOUND otherwise (missing and hidden alike). */
  async requireReadable(db: Db, principal: Principal, rawId: string, field: string): Promise<OwnedItem> {
    const found = await this.find(db, rawId, field);
    if (!found || !(await this.canRead(db, principal, found.item))) {
      throw notFound(`registry item ${rawId} not found`);
    }
    return found;
  }

  /**
   * The item, locked for the rest of the transaction, if the caller owns its organization:
   * NOT_FOUND when it can't read it, PERMISSION_DENIED when it can but may not change it.
   */
  async requireWritable(
    trx: Db,
    principal: FleetPrincipal,
    rawId: string,
    field: string,
  ): Promise<OwnedItem> {
    const found = await this.requireReadable(trx, principal, rawId, field);
    await this.requireOwner(trx, principal, found.organization.id, writePermissionFor(found.item.visibility));
    await this.deps.repos.registry.lock(trx, found.item.id);
    const item = await this.deps.repos.registry.findById(trx, found.item.id);
    if (!item) throw notFound(`registry item ${rawId} not found`);
    return { item, organization: found.organization };
  }

  /** Owner on the organization (seen through a readable item): PERMISSION_DENIED otherwise. */
  async requireOwner(db: Db, principal: FleetPrincipal, organizationId: string, permission: Permission) {
    await this.deps.authz.requireOnVisible(
      db,
      principal,
      { type: 'organization', id: organizationId },
      permission,
    );
  }

  /** The organization for a listing or a new item; NOT_FOUND if the caller sees none of it. */
  async requireOrganization(
    db: Db,
    principal: FleetPrincipal,
    organizationId: string,
    permission: Permission,
  ) {
    await this.deps.authz.require(db, principal, { type: 'organization', id: organizationId }, permission);
  }
}

/** Owners hold both; the table keeps public and private registry writes apart for CheckPermissions. */
export const writePermissionFor = (visibility: string): Permission =>
  visibility === 'private' ? 'write_private_registry_item' : 'write_public_registry_item';
