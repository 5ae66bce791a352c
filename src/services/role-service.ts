import type { FleetPrincipal } from '../authz/principal.js';
import { ALL_PERMISSIONS, type Permission } from '../authz/permissions.js';
import { alreadyExists, DomainError, invalidArgument, notFound } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { AuthorizationGrant } from '../domain/models.js';
import { requireId } from '../domain/validation.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { IdentityType, ResourceType } from '../domain/roles.js';
import type { RoleGrantRecord } from '../store/records.js';
import { requireOwnerRemains } from './organization-owners.js';
import type { ServiceDeps } from './context.js';
import { toGrant } from './mappers.js';
import {
  parseAuthorization,
  requireOwnerOfGrant,
  type Grant,
  type RequestedAuthorization,
} from './requested-authorization.js';

/** A role grant as AddRole / RemoveRole / ChangeRole state it: the grant and whom it is for. */
export interface RoleRequest extends RequestedAuthorization {
  identityId: string;
  identityType: string;
}

/** One entry of a CheckPermissions request or answer. */
export interface PermissionQuery {
  resourceType: string;
  resourceId: string;
  permissions: string[];
}

/** Most entries one CheckPermissions call may ask about. */
export const MAX_PERMISSION_QUERIES = 1000;

/** Role grants of users and API keys, and the question of who may do what. */
export class RoleService {
  constructor(private readonly deps: ServiceDeps) {}

  async add(principal: FleetPrincipal, request: RoleRequest): Promise<void> {
    const grant = parseAuthorization(request);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.access(trx, principal, { type: 'organization', id: grant.organizationId });
      await requireOwnerOfGrant(this.deps.authz, trx, principal, grant);
      const identityType = await this.identityOf(
        trx,
        grant.organizationId,
        request.identityId,
        request.identityType,
      );
      await this.insert(trx, grant, request.identityId, identityType);
    });
  }

  async remove(principal: FleetPrincipal, request: RoleRequest): Promise<void> {
    const grant = parseAuthorization(request);
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.access(trx, principal, { type: 'organization', id: grant.organizationId });
      await this.lockOrganization(trx, grant.organizationId);
      await requireOwnerOfGrant(this.deps.authz, trx, principal, grant);
      const existing = await this.find(trx, grant, requireId(request.identityId, 'identity_id'));
      await this.refuseLastOwner(trx, existing, undefined);
      await this.deps.repos.authorizations.delete(trx, existing.id);
    });
  }

  /** Replaces one grant by another, atomically. */
  async change(principal: FleetPrincipal, from: RoleRequest, to: RoleRequest): Promise<void> {
    const oldGrant = parseAuthorization(from, 'old_authorization');
    const newGrant = parseAuthorization(to, 'new_authorization');
    if (oldGrant.organizationId !== newGrant.organizationId) {
      throw invalidArgument('both authorizations must name the same organization');
    }
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.access(trx, principal, { type: 'organization', id: oldGrant.organizationId });
      await this.lockOrganization(trx, oldGrant.organizationId);
      await requireOwnerOfGrant(this.deps.authz, trx, principal, oldGrant);
      await requireOwnerOfGrant(this.deps.authz, trx, principal, newGrant);
      const existing = await this.find(trx, oldGrant, requireId(from.identityId, 'old identity_id'));
      const identityType = await this.identityOf(
        trx,
        newGrant.organizationId,
        to.identityId,
        to.identityType,
      );
      await this.refuseLastOwner(trx, existing, { grant: newGrant, identityId: to.identityId });
      await this.deps.repos.authorizations.delete(trx, existing.id);
      await this.insert(trx, newGrant, to.identityId, identityType);
    });
  }

  /** Grants in the organization, all of them or those on the given resources. Owner only. */
  async list(
    principal: FleetPrincipal,
    organizationId: string,
    resourceIds: readonly string[],
  ): Promise<AuthorizationGrant[]> {
    const orgId = requireId(organizationId, 'organization_id');
    const { db, authz, repos } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'write_organization');
    for (const id of resourceIds) {
      const inOrg = await Promise.all(
        (['organization', 'location', 'robot'] as const).map((type) => authz.scopeOf(db, { type, id })),
      );
      if (!inOrg.some((scope) => scope?.organizationId === orgId)) {
        throw invalidArgument(`resource ${id} is not in organization ${orgId}`);
      }
    }
    const grants = await repos.authorizations.listForOrganization(db, orgId);
    const wanted = new Set(resourceIds);
    return grants.filter((g) => wanted.size === 0 || wanted.has(g.resourceId)).map(toGrant);
  }

  /**
   * For each entry asked, the subset of its permissions the caller holds on that resource:
   * computed by the same authorizer that guards every method. A resource the caller cannot
   * see answers an empty subset.
   */
  async check(principal: FleetPrincipal, queries: readonly PermissionQuery[]): Promise<PermissionQuery[]> {
    if (queries.length === 0) throw invalidArgument('permissions must list at least one resource');
    if (queries.length > MAX_PERMISSION_QUERIES) {
      throw invalidArgument(`permissions may list at most ${MAX_PERMISSION_QUERIES} resources`);
    }
    const { db, authz } = this.deps;
    const answers: PermissionQuery[] = [];
    for (const [i, q] of queries.entries()) {
      if (!['organization', 'location', 'robot'].includes(q.resourceType)) {
        throw invalidArgument(`permissions[${i}].resource_type must be organization, location or robot`);
      }
      const unknown = q.permissions.find((p) => !(ALL_PERMISSIONS as readonly string[]).includes(p));
      if (unknown !== undefined) throw invalidArgument(`permissions[${i}]: unknown permission "${unknown}"`);
      let held: ReadonlySet<Permission> = new Set();
      try {
        held = (await authz.access(db, principal, { type: q.resourceType as ResourceType, id: q.resourceId }))
          .permissions;
      } catch (error) {
        if (!(error instanceof DomainError && error.kind === 'not_found')) throw error;
      }
      answers.push({ ...q, permissions: q.permissions.filter((p) => held.has(p as Permission)) });
    }
    return answers;
  }

  /**
   * Resolves whom a grant names. "" or "user" looks among users, then among keys (the
   * TypeScript SDK sends "" even for keys); "api-key" among keys. A key must belong to the
   * organization it is granted a role in.
   */
  private async identityOf(
    db: Db,
    organizationId: string,
    rawId: string,
    type: string,
  ): Promise<IdentityType> {
    const id = requireId(rawId, 'identity_id');
    if (type !== '' && type !== 'user' && type !== 'api-key') {
      throw invalidArgument('identity_type must be "", "user" or "api-key"');
    }
    if (type !== 'api-key' && (await this.deps.repos.users.findById(db, id))) return 'user';
    const key = await this.deps.repos.apiKeys.findById(db, id);
    if (key) {
      if (key.organizationId !== organizationId) {
        throw invalidArgument(`API key ${id} belongs to another organization`);
      }
      return 'api-key';
    }
    throw notFound(`no user or API key with id ${id}`);
  }

  private async insert(trx: Db, grant: Grant, identityId: string, identityType: IdentityType): Promise<void> {
    try {
      await this.deps.repos.authorizations.create(trx, {
        id: newId(),
        organizationId: grant.organizationId,
        identityId,
        identityType,
        resourceType: grant.resourceType,
        resourceId: grant.resourceId,
        role: grant.role,
        createdAt: nowIso(),
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw alreadyExists('that identity already holds this role on this resource');
      throw error;
    }
  }

  private async find(db: Db, grant: Grant, identityId: string): Promise<RoleGrantRecord> {
    const found = (await this.deps.repos.authorizations.listForIdentity(db, identityId)).find(
      (g) =>
        g.organizationId === grant.organizationId &&
        g.resourceType === grant.resourceType &&
        g.resourceId === grant.resourceId &&
        g.role === grant.role,
    );
    if (!found) throw notFound('no such role grant');
    return found;
  }

  /** Taking away an organization-level owner grant must leave the organization an owner. */
  private async refuseLastOwner(
    db: Db,
    leaving: RoleGrantRecord,
    replacement: { grant: Grant; identityId: string } | undefined,
  ): Promise<void> {
    if (leaving.resourceType !== 'organization' || leaving.role !== 'owner') return;
    const replacedByOwner =
      replacement?.grant.resourceType === 'organization' &&
      replacement.grant.role === 'owner' &&
      replacement.grant.resourceId === leaving.resourceId;
    await requireOwnerRemains(this.deps.repos, db, leaving.resourceId, leaving.identityId, replacedByOwner);
  }

  private lockOrganization(db: Db, id: string): Promise<void> {
    return this.deps.repos.organizations.lock(db, id);
  }
}
