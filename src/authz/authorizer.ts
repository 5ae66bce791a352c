import { DomainError, notFound, permissionDenied } from '../domain/errors.js';
import { parsePackageId } from '../domain/packages.js';
import { parseItemId } from '../domain/registry.js';
import type { ResourceType, RoleName } from '../domain/roles.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';
import type {
  ApiKeyRecord,
  FragmentRecord,
  InviteRecord,
  LocationRecord,
  MachineRecord,
  OrganizationRecord,
  PartRecord,
  RegistryItemRecord,
  RoleGrantRecord,
} from '../store/records.js';
import { ROLE_PERMISSIONS, type Permission } from './permissions.js';
import type { Principal } from './principal.js';

/** A resource that roles can be held on: an organization, a location or a machine. */
export interface HolderRef {
  type: ResourceType;
  id: string;
}

/**
 * Any resource a call can name. Parts, fragments, keys, registry items, packages and invites
 * hold no roles of their own: the authorizer reaches them through the holder above them.
 */
export type ResourceRef =
  | HolderRef
  | { type: 'part' | 'fragment' | 'api-key'; id: string }
  /** `<organization id or namespace>:<name>`; `field` names the request field in errors. */
  | { type: 'registry-item'; id: string; field?: string }
  /** `<organization id or namespace>/<name>`. */
  | { type: 'package'; id: string; field?: string }
  /** A pending invite, named by its organization and the invitee's email. */
  | { type: 'invite'; organizationId: string; email: string };

/** A registry item together with the organization that owns it. */
export interface OwnedItem {
  item: RegistryItemRecord;
  organization: OrganizationRecord;
}

/** What the authorizer loads for each kind of resource. */
export interface ResourceRecords {
  organization: OrganizationRecord;
  location: LocationRecord;
  robot: MachineRecord;
  part: PartRecord;
  fragment: FragmentRecord;
  'api-key': ApiKeyRecord;
  'registry-item': OwnedItem;
  package: OwnedItem;
  invite: InviteRecord;
}

/**
 * Where a holder sits: itself and every scope above it whose roles reach it. A location shared
 * with other organizations is reached by their organization-level roles too.
 */
export interface ResourceScope {
  resource: HolderRef;
  /** The organization that owns the resource. */
  organizationId: string;
  /** The resource and its ancestors, nearest first, ending with its organization. */
  chain: HolderRef[];
  /** Organizations the resource is shared with, besides its own. */
  sharedWith: string[];
}

/** What a principal may do on one resource. */
export interface Access {
  /** The scope of the resource's holder (the resource itself for holders). */
  scope: ResourceScope;
  roles: Set<RoleName>;
  permissions: Set<Permission>;
}

/** Access to a resource, with the resource as it was loaded (locked first if asked). */
export type Authorized<T extends ResourceRef['type']> = Access & { record: ResourceRecords[T] };

export interface AccessOptions {
  /**
   * Lock the resource (for a part, its machine) until the transaction ends, and load it again
   * once it is ours: writes to one object take turns.
   */
  lock?: boolean;
}

/** A permission, several that must all be held, or one that depends on the loaded resource. */
export type Required<T extends ResourceRef['type']> =
  Permission | readonly Permission[] | ((record: ResourceRecords[T]) => Permission);

/** What require checks, for any kind of resource. */
type Needed = Permission | readonly Permission[] | ((record: unknown) => Permission);

/** A resource found, the holder its roles come from, and how it answers when hidden. */
interface Located<T> {
  record: T;
  holder: HolderRef;
  /** Readable by every authenticated caller (public fragments and registry items). */
  isPublic: boolean;
}

const HOLDER_NOT_FOUND: Record<ResourceType, string> = {
  organization: 'organization not found',
  location: 'location not found',
  robot: 'machine not found',
};

/**
 * Permissions that seeing a resource grants, whoever holds no role on it: a public fragment or
 * registry item is readable by every caller, a private one by anyone inside its organization
 * (including, for registry items and packages, the organization's machines).
 */
const READ_BY_VISIBILITY: Partial<Record<ResourceRef['type'], Permission>> = {
  fragment: 'read_fragment',
  'registry-item': 'read_packages',
  package: 'read_packages',
};

/**
 * The one access path. Every service names the resource it acts on and the permission it needs;
 * the authorizer loads the resource, finds the holder whose roles reach it, and answers. Hidden
 * and missing resources give the same NOT_FOUND (same message), so existence never leaks across
 * tenants; a resource the caller can see without the permission is PERMISSION_DENIED.
 */
export class Authorizer {
  constructor(
    private readonly repos: Repositories,
    /** Told of each resource a caller was allowed to change (the audit log lists them). */
    private readonly audit?: AuditRecorder,
  ) {}

  /** The resource, if the caller holds `permission` on it; NOT_FOUND or PERMISSION_DENIED otherwise. */
  async require<T extends ResourceRef['type']>(
    db: Db,
    principal: Principal,
    ref: ResourceRef & { type: T },
    permission: Required<T>,
    options: AccessOptions = {},
  ): Promise<Authorized<T>> {
    const allowed = (await this.resolve(db, principal, ref, options, permission as Needed)) as Authorized<T>;
    if (this.audit) {
      const needed = typeof permission === 'function' ? [permission(allowed.record)] : [permission].flat();
      if (needed.some((p) => !p.startsWith('read_'))) {
        this.audit.noteAccess(allowed.scope.organizationId, auditResourceOf(ref));
      }
    }
    return allowed;
  }

  /** The caller's access to a resource it can see; NOT_FOUND if it is missing or hidden. */
  async access<T extends ResourceRef['type']>(
    db: Db,
    principal: Principal,
    ref: ResourceRef & { type: T },
    options: AccessOptions = {},
  ): Promise<Authorized<T>> {
    const seen = (await this.resolve(db, principal, ref, options, undefined)) as Authorized<T>;
    this.audit?.noteOrganization(seen.scope.organizationId);
    return seen;
  }

  /** Loads the resource, works out the caller's access, and checks `needed` when given. */
  private async resolve(
    db: Db,
    principal: Principal,
    ref: ResourceRef,
    options: AccessOptions,
    needed: Needed | undefined,
  ): Promise<Access & { record: unknown }> {
    const hidden = () => notFound(notFoundMessage(ref));
    if (ref.type === 'invite') {
      // Named through its organization, which answers first (permission included): whether an
      // invite exists is the business of those who may manage the organization's invites.
      const org = { type: 'organization', id: ref.organizationId } as const;
      const access = await this.resolve(db, principal, org, {}, needed);
      const invite = await this.repos.invites.findByEmail(db, ref.organizationId, ref.email);
      if (!invite) throw hidden();
      return { ...access, record: invite };
    }
    const located = await this.locate(db, ref, options.lock ?? false);
    if (!located) throw hidden();
    const scope = await this.scopeOf(db, located.holder);
    if (!scope) throw hidden();
    const grants = await this.grantsOf(db, principal);
    const roles = this.rolesOn(grants, scope);
    const permissions = new Set<Permission>();
    for (const role of roles) for (const p of ROLE_PERMISSIONS[role]) permissions.add(p);
    if (scope.resource.type === 'organization' && this.seesOrganization(grants, scope.organizationId)) {
      permissions.add('read_organization');
    }
    const readPermission = READ_BY_VISIBILITY[ref.type];
    if (
      readPermission &&
      (located.isPublic ||
        permissions.size > 0 ||
        (principal.kind === 'robot-part' && (await this.partIsIn(db, principal.id, scope.organizationId))))
    ) {
      permissions.add(readPermission);
    }
    if (permissions.size === 0) throw hidden();
    const wanted = typeof needed === 'function' ? [needed(located.record)] : needed ? [needed].flat() : [];
    for (const p of wanted) {
      if (!permissions.has(p)) {
        throw permissionDenied(`missing permission ${p} on ${scope.resource.type} ${scope.resource.id}`);
      }
    }
    return { scope, roles, permissions, record: located.record };
  }

  /** Like require, but undefined where require would say NOT_FOUND (for lists and lookups). */
  async find<T extends ResourceRef['type']>(
    db: Db,
    principal: Principal,
    ref: ResourceRef & { type: T },
    permission: Required<T>,
  ): Promise<Authorized<T> | undefined> {
    try {
      return await this.require(db, principal, ref, permission);
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'not_found') return undefined;
      throw error;
    }
  }

  /** Whether the caller holds owner on a holder (false if it does not exist). */
  async isOwnerOf(db: Db, principal: Principal, holder: HolderRef): Promise<boolean> {
    const scope = await this.scopeOf(db, holder);
    return scope !== undefined && this.rolesOn(await this.grantsOf(db, principal), scope).has('owner');
  }

  /** The principal's grants (users and keys alike are identities; parts hold none). */
  grantsOf(db: Db, principal: Principal): Promise<RoleGrantRecord[]> {
    if (principal.kind === 'robot-part') return Promise.resolve([]);
    return this.repos.authorizations.listForIdentity(db, principal.id);
  }

  /** Where a holder sits, or undefined if it does not exist. */
  async scopeOf(db: Db, holder: HolderRef): Promise<ResourceScope | undefined> {
    switch (holder.type) {
      case 'organization': {
        const org = await this.repos.organizations.findById(db, holder.id);
        if (!org) return undefined;
        return { resource: holder, organizationId: org.id, chain: [holder], sharedWith: [] };
      }
      case 'location':
        return this.locationScope(db, holder.id);
      case 'robot': {
        const robot = await this.repos.robots.findById(db, holder.id);
        const scope = robot && (await this.locationScope(db, robot.locationId));
        return scope && { ...scope, resource: holder, chain: [holder, ...scope.chain] };
      }
    }
  }

  /**
   * The scopes of machines already loaded, each location's scope read once however many of the
   * machines it holds (a listing of a location's machines costs two queries, not two per machine).
   */
  async scopesOfMachines(
    db: Db,
    machines: readonly { id: string; locationId: string }[],
  ): Promise<Map<string, ResourceScope>> {
    const locations = new Map<string, ResourceScope | undefined>();
    const scopes = new Map<string, ResourceScope>();
    for (const machine of machines) {
      if (!locations.has(machine.locationId)) {
        locations.set(machine.locationId, await this.locationScope(db, machine.locationId));
      }
      const scope = locations.get(machine.locationId);
      if (!scope) continue;
      const resource: HolderRef = { type: 'robot', id: machine.id };
      scopes.set(machine.id, { ...scope, resource, chain: [resource, ...scope.chain] });
    }
    return scopes;
  }

  /** The roles a set of grants gives on a scope. */
  rolesOn(grants: readonly RoleGrantRecord[], scope: ResourceScope): Set<RoleName> {
    const roles = new Set<RoleName>();
    for (const grant of grants) {
      const reaches =
        scope.chain.some((ref) => ref.type === grant.resourceType && ref.id === grant.resourceId) ||
        (grant.resourceType === 'organization' && scope.sharedWith.includes(grant.resourceId));
      if (reaches) roles.add(grant.role);
    }
    return roles;
  }

  /**
   * Whether the grants make an organization visible: any role inside it (on the organization,
   * one of its locations or machines) lets the holder see the organization itself.
   */
  seesOrganization(grants: readonly RoleGrantRecord[], organizationId: string): boolean {
    return grants.some((g) => g.organizationId === organizationId);
  }

  /**
   * Whether the caller belongs inside the organization: a user or key holding any role in it,
   * or a machine part of one of its locations.
   */
  async isInsideOrganization(db: Db, principal: Principal, organizationId: string): Promise<boolean> {
    if (principal.kind === 'robot-part') return this.partIsIn(db, principal.id, organizationId);
    return this.seesOrganization(await this.grantsOf(db, principal), organizationId);
  }

  /** Ids of the organizations the principal can see. */
  async visibleOrganizationIds(db: Db, principal: Principal): Promise<string[]> {
    const grants = await this.grantsOf(db, principal);
    return [...new Set(grants.map((g) => g.organizationId))];
  }

  /**
   * Filters locations listed for an organization to those the principal can see: all of them
   * with a role on the organization, else the subtrees of the locations it holds roles on.
   */
  async visibleLocations(
    db: Db,
    principal: Principal,
    organizationId: string,
    locations: readonly LocationRecord[],
  ): Promise<LocationRecord[]> {
    const grants = await this.grantsOf(db, principal);
    if (grants.some((g) => g.resourceType === 'organization' && g.resourceId === organizationId)) {
      return [...locations];
    }
    const visible: LocationRecord[] = [];
    for (const location of locations) {
      const scope = await this.locationScope(db, location.id);
      if (scope && this.rolesOn(grants, scope).size > 0) visible.push(location);
    }
    return visible;
  }

  /** The scope of a location: its ancestors (one query) and every organization one is shared with. */
  private async locationScope(db: Db, locationId: string): Promise<ResourceScope | undefined> {
    const ancestry = await this.repos.scopes.locationAncestry(db, locationId);
    const location = ancestry[0];
    if (!location) return undefined;
    const chain: HolderRef[] = ancestry.map((l) => ({ type: 'location', id: l.id }));
    chain.push({ type: 'organization', id: location.organizationId });
    // A share of any ancestor reaches this location too.
    const sharedWith = await this.repos.scopes.sharedWith(
      db,
      ancestry.map((l) => l.id),
    );
    return {
      resource: { type: 'location', id: location.id },
      organizationId: location.organizationId,
      chain,
      sharedWith: sharedWith.filter((org) => org !== location.organizationId),
    };
  }

  private async partIsIn(db: Db, partId: string, organizationId: string): Promise<boolean> {
    const part = await this.repos.parts.findById(db, partId);
    const scope = part && (await this.locationScope(db, part.locationId));
    return scope?.organizationId === organizationId;
  }

  /** Loads a resource and names its holder; undefined if it does not exist. */
  private async locate(
    db: Db,
    ref: Exclude<ResourceRef, { type: 'invite' }>,
    lock: boolean,
  ): Promise<Located<ResourceRecords[keyof ResourceRecords]> | undefined> {
    const { repos } = this;
    const located = <T>(record: T | undefined, holder: (r: T) => HolderRef, isPublic = false) =>
      record === undefined ? undefined : { record, holder: holder(record), isPublic };
    switch (ref.type) {
      case 'organization':
        if (lock) await repos.organizations.lock(db, ref.id);
        return located(await repos.organizations.findById(db, ref.id), () => ref);
      case 'location':
        if (lock) await repos.locations.lock(db, ref.id);
        return located(await repos.locations.findById(db, ref.id), () => ref);
      case 'robot':
        if (lock) await repos.robots.lock(db, ref.id);
        return located(await repos.robots.findById(db, ref.id), () => ref);
      case 'part': {
        let part = await repos.parts.findById(db, ref.id);
        if (part && lock) {
          // Writes to a machine's parts take turns; read the part again once it is ours.
          await repos.robots.lock(db, part.machineId);
          part = await repos.parts.findById(db, ref.id);
        }
        return located(part, (p) => ({ type: 'robot', id: p.machineId }));
      }
      case 'fragment': {
        if (lock) await repos.fragments.lock(db, ref.id);
        const fragment = await repos.fragments.findById(db, ref.id);
        return located(fragment, organizationOf, fragment?.visibility !== 'private');
      }
      case 'api-key':
        return located(await repos.apiKeys.findById(db, ref.id), organizationOf);
      case 'registry-item':
      case 'package': {
        const { prefix, name } =
          ref.type === 'package'
            ? parsePackageId(ref.id, ref.field ?? 'id')
            : parseItemId(ref.id, ref.field ?? 'item_id');
        // The organization's id first, then a namespace: an id can't be shadowed by a namespace.
        const organization =
          (await repos.organizations.findById(db, prefix)) ??
          (await repos.organizations.findByNamespace(db, prefix));
        let item = organization && (await repos.registry.findByName(db, organization.id, name));
        if (item && lock) {
          await repos.registry.lock(db, item.id);
          item = await repos.registry.findById(db, item.id);
        }
        if (!organization || !item) return undefined;
        return located(
          { item, organization },
          () => ({ type: 'organization', id: organization.id }),
          item.visibility !== 'private',
        );
      }
    }
  }
}

const organizationOf = (record: { organizationId: string }): HolderRef => ({
  type: 'organization',
  id: record.organizationId,
});

/** What a missing or hidden resource is called in its NOT_FOUND. */
function notFoundMessage(ref: ResourceRef): string {
  switch (ref.type) {
    case 'organization':
    case 'location':
    case 'robot':
      return HOLDER_NOT_FOUND[ref.type];
    case 'part':
      return 'part not found';
    case 'fragment':
      return 'fragment not found';
    case 'api-key':
      return 'API key not found';
    case 'registry-item':
      return `registry item ${ref.id} not found`;
    case 'package':
      return `package ${ref.id} not found`;
    case 'invite':
      return `no invite is pending for ${ref.email}`;
  }
}

/** How the audit log names a resource a call named. */
function auditResourceOf(ref: ResourceRef): { type: string; id: string } {
  return ref.type === 'invite' ? { type: 'invite', id: ref.email } : { type: ref.type, id: ref.id };
}
