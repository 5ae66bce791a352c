import { DomainError, notFound, permissionDenied } from '../domain/errors.js';
import type { Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';
import type { AuthorizationRow, LocationRow, ResourceType, RoleName } from '../store/schema.js';
import { ROLE_PERMISSIONS, type Permission } from './permissions.js';
import type { FleetPrincipal, Principal } from './principal.js';

/** A resource that roles can be held on. */
export interface ResourceRef {
  type: ResourceType;
  id: string;
}

/**
 * Where a resource sits: itself and every scope above it whose roles reach it. A location
 * shared with other organizations is reached by their organization-level roles too.
 */
export interface ResourceScope {
  resource: ResourceRef;
  /** The organization that owns the resource. */
  organizationId: string;
  /** The resource and its ancestors, nearest first, ending with its organization. */
  chain: ResourceRef[];
  /** Organizations the resource is shared with, besides its own. */
  sharedWith: string[];
}

/** What a principal may do on one resource. */
export interface Access {
  scope: ResourceScope;
  roles: Set<RoleName>;
  permissions: Set<Permission>;
}

const NOT_FOUND_MESSAGE: Record<ResourceType, string> = {
  organization: 'organization not found',
  location: 'location not found',
  robot: 'machine not found',
};

/**
 * The one authorization path. Every service asks it before reading or writing. An object the
 * caller holds no role on is reported as not found, so existence never leaks across tenants; a
 * visible object without the permission is PERMISSION_DENIED.
 */
export class Authorizer {
  constructor(private readonly repos: Repositories) {}

  /** The principal's grants (users and keys alike are identities). */
  grantsOf(db: Db, principal: FleetPrincipal): Promise<AuthorizationRow[]> {
    return this.repos.authorizations.listForIdentity(db, principal.id);
  }

  /** Where the resource sits, or undefined if it does not exist. */
  async scopeOf(db: Db, resource: ResourceRef): Promise<ResourceScope | undefined> {
    switch (resource.type) {
      case 'organization': {
        const org = await this.repos.organizations.findById(db, resource.id);
        if (!org) return undefined;
        return { resource, organizationId: org.id, chain: [resource], sharedWith: [] };
      }
      case 'location': {
        const location = await this.repos.locations.findById(db, resource.id);
        if (!location) return undefined;
        return this.locationScope(db, location);
      }
      case 'robot': {
        const robot = await this.repos.robots.findById(db, resource.id);
        if (!robot) return undefined;
        const location = await this.repos.locations.findById(db, robot.location_id);
        if (!location) return undefined;
        const scope = await this.locationScope(db, location);
        return { ...scope, resource, chain: [resource, ...scope.chain] };
      }
    }
  }

  /** The scope of a location row already loaded. */
  async locationScope(db: Db, location: LocationRow): Promise<ResourceScope> {
    const chain: ResourceRef[] = [{ type: 'location', id: location.id }];
    let parentId = location.parent_location_id;
    while (parentId) {
      chain.push({ type: 'location', id: parentId });
      const parent = await this.repos.locations.findById(db, parentId);
      parentId = parent?.parent_location_id ?? null;
    }
    chain.push({ type: 'organization', id: location.organization_id });
    // A share of any ancestor reaches this location too.
    const sharedWith = new Set<string>();
    for (const ref of chain) {
      if (ref.type !== 'location') continue;
      for (const org of await this.repos.locations.listShares(db, ref.id)) sharedWith.add(org);
    }
    sharedWith.delete(location.organization_id);
    return {
      resource: { type: 'location', id: location.id },
      organizationId: location.organization_id,
      chain,
      sharedWith: [...sharedWith],
    };
  }

  /** The roles a set of grants gives on a scope. */
  rolesOn(grants: readonly AuthorizationRow[], scope: ResourceScope): Set<RoleName> {
    const roles = new Set<RoleName>();
    for (const grant of grants) {
      const reaches =
        scope.chain.some((ref) => ref.type === grant.resource_type && ref.id === grant.resource_id) ||
        (grant.resource_type === 'organization' && scope.sharedWith.includes(grant.resource_id));
      if (reaches) roles.add(grant.role);
    }
    return roles;
  }

  /**
   * Whether the grants make an organization visible: any role inside it (on the organization,
   * one of its locations or machines) lets the holder see the organization itself.
   */
  seesOrganization(grants: readonly AuthorizationRow[], organizationId: string): boolean {
    return grants.some((g) => g.organization_id === organizationId);
  }

  /**
   * The principal's access to a resource; NOT_FOUND if it does not exist or is invisible to them.
   * `hiddenAs` names the object the caller asked about when it is reached through this resource
   * (a part through its machine, a key through its organization), so the answer is the same as
   * for an id that does not exist.
   */
  async access(db: Db, principal: FleetPrincipal, resource: ResourceRef, hiddenAs?: string): Promise<Access> {
    const hidden = () => notFound(hiddenAs ?? NOT_FOUND_MESSAGE[resource.type]);
    const scope = await this.scopeOf(db, resource);
    if (!scope) throw hidden();
    const grants = await this.grantsOf(db, principal);
    const roles = this.rolesOn(grants, scope);
    const permissions = new Set<Permission>();
    for (const role of roles) for (const p of ROLE_PERMISSIONS[role]) permissions.add(p);
    if (resource.type === 'organization' && this.seesOrganization(grants, resource.id)) {
      permissions.add('read_organization');
    }
    if (permissions.size === 0) throw hidden();
    return { scope, roles, permissions };
  }

  /** The principal's access, which must include `permission`; else NOT_FOUND or PERMISSION_DENIED. */
  async require(
    db: Db,
    principal: FleetPrincipal,
    resource: ResourceRef,
    permission: Permission,
    hiddenAs?: string,
  ): Promise<Access> {
    const access = await this.access(db, principal, resource, hiddenAs);
    if (!access.permissions.has(permission)) {
      throw permissionDenied(`missing permission ${permission} on ${resource.type} ${resource.id}`);
    }
    return access;
  }

  /**
   * Like require, for an object the caller has already been shown (a public fragment, say):
   * lacking a role is then PERMISSION_DENIED, never NOT_FOUND.
   */
  async requireOnVisible(
    db: Db,
    principal: FleetPrincipal,
    resource: ResourceRef,
    permission: Permission,
  ): Promise<Access> {
    try {
      return await this.require(db, principal, resource, permission);
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'not_found') {
        throw permissionDenied(`missing permission ${permission} on ${resource.type} ${resource.id}`);
      }
      throw error;
    }
  }

  /**
   * Whether the caller belongs inside the organization: a user or key holding any role in it,
   * or a machine part of one of its locations.
   */
  async isInsideOrganization(db: Db, principal: Principal, organizationId: string): Promise<boolean> {
    if (principal.kind === 'robot-part') {
      const part = await this.repos.parts.findById(db, principal.id);
      const location = part && (await this.repos.locations.findById(db, part.location_id));
      return location?.organization_id === organizationId;
    }
    return this.seesOrganization(await this.grantsOf(db, principal), organizationId);
  }

  /** Ids of the organizations the principal can see. */
  async visibleOrganizationIds(db: Db, principal: FleetPrincipal): Promise<string[]> {
    const grants = await this.grantsOf(db, principal);
    return [...new Set(grants.map((g) => g.organization_id))];
  }

  /**
   * Filters locations listed for an organization to those the principal can see: all of them
   * with a role on the organization, else the subtrees of the locations it holds roles on.
   */
  async visibleLocations(
    db: Db,
    principal: FleetPrincipal,
    organizationId: string,
    locations: readonly LocationRow[],
  ): Promise<LocationRow[]> {
    const grants = await this.grantsOf(db, principal);
    if (grants.some((g) => g.resource_type === 'organization' && g.resource_id === organizationId)) {
      return [...locations];
    }
    const visible: LocationRow[] = [];
    for (const location of locations) {
      const scope = await this.locationScope(db, location);
      if (this.rolesOn(grants, scope).size > 0) visible.push(location);
    }
    return visible;
  }
}
