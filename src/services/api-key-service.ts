import type { FleetPrincipal } from '../authz/principal.js';
import { isRole } from '../authz/permissions.js';
import { hashApiKey } from '../crypto/hashing.js';
import { invalidArgument, notFound, permissionDenied } from '../domain/errors.js';
import { newApiKeyValue, newId } from '../domain/ids.js';
import type { ApiKey, IssuedApiKey } from '../domain/models.js';
import { MAX_NAME_LENGTH, requireId, requireName } from '../domain/validation.js';
import { nowIso, type Db } from '../store/db.js';
import type { ApiKeyRow, AuthorizationRow, ResourceType, RoleName } from '../store/schema.js';
import type { ServiceDeps } from './context.js';
import { toGrant } from './mappers.js';

/** An authorization as a request states it (the wire's `Authorization` message). */
export interface RequestedAuthorization {
  authorizationType: string;
  authorizationId: string;
  resourceType: string;
  resourceId: string;
  organizationId: string;
}

/** A validated grant to give a key. */
interface KeyGrant {
  organizationId: string;
  role: RoleName;
  resourceType: ResourceType;
  resourceId: string;
}

/** Most authorizations one key may carry. */
export const MAX_KEY_AUTHORIZATIONS = 100;

const RESOURCE_TYPES: readonly string[] = ['organization', 'location', 'robot'];

/** API keys: credentials for automation, each bound to one organization and its roles there. */
export class ApiKeyService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Creates a key holding the given authorizations, all in one organization. The caller must
   * hold owner on every resource named, so no key grants more than its creator holds.
   */
  async create(
    principal: FleetPrincipal,
    authorizations: RequestedAuthorization[],
    name: string,
  ): Promise<IssuedApiKey> {
    const { organizationId, grants } = parseAuthorizations(authorizations);
    const keyName = name.trim() === '' ? nowIso() : requireName(name, 'name');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.access(trx, principal, { type: 'organization', id: organizationId });
      for (const grant of grants) await this.requireOwnerOf(trx, principal, grant);
      return this.insertKey(trx, organizationId, keyName, grants);
    });
  }

  /** Keys of an organization with their authorizations; never their values. */
  async list(principal: FleetPrincipal, organizationId: string): Promise<ApiKey[]> {
    const orgId = requireId(organizationId, 'org_id');
    const { db, repos, authz } = this.deps;
    await authz.require(db, principal, { type: 'organization', id: orgId }, 'write_organization');
    const keys = await repos.apiKeys.listForOrganization(db, orgId);
    // A key may also hold roles in organizations it created; only this organization's are shown here.
    const grants = (
      await repos.authorizations.listForIdentities(
        db,
        keys.map((k) => k.id),
      )
    ).filter((g) => g.organization_id === orgId);
    return keys.map((key) => toApiKey(key, grants));
  }

  async delete(principal: FleetPrincipal, keyId: string): Promise<void> {
    const id = requireId(keyId, 'id');
    const { repos } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await this.loadManaged(trx, principal, id);
      await repos.authorizations.deleteForIdentity(trx, id);
      await repos.apiKeys.delete(trx, id);
    });
  }

  /** Gives the key a new value; the old value and its tokens stop working at once. */
  async rotate(principal: FleetPrincipal, keyId: string): Promise<IssuedApiKey> {
    const id = requireId(keyId, 'id');
    return this.deps.db.transaction().execute(async (trx) => {
      const key = await this.loadManaged(trx, principal, id);
      await this.requireOwnerOfAll(trx, principal, key);
      const value = newApiKeyValue();
      await this.deps.repos.apiKeys.setHash(trx, id, hashApiKey(value));
      return { id, key: value };
    });
  }

  async rename(
    principal: FleetPrincipal,
    keyId: string,
    name: string,
  ): Promise<{ id: string; name: string }> {
    const id = requireId(keyId, 'id');
    const newName = requireName(name, 'name');
    return this.deps.db.transaction().execute(async (trx) => {
      await this.loadManaged(trx, principal, id);
      await this.deps.repos.apiKeys.rename(trx, id, newName);
      return { id, name: newName };
    });
  }

  /** A new key with the same authorizations as an existing one. */
  async createFromExisting(principal: FleetPrincipal, keyId: string): Promise<IssuedApiKey> {
    const id = requireId(keyId, 'id');
    return this.deps.db.transaction().execute(async (trx) => {
      const key = await this.loadManaged(trx, principal, id);
      const grants = await this.requireOwnerOfAll(trx, principal, key);
      return this.insertKey(
        trx,
        key.organization_id,
        nowIso(),
        grants.map((g) => ({
          organizationId: g.organization_id,
          role: g.role,
          resourceType: g.resource_type,
          resourceId: g.resource_id,
        })),
      );
    });
  }

  /** Creates a key inside an open transaction (also used by `flotilla init`). */
  async insertKey(trx: Db, organizationId: string, name: string, grants: KeyGrant[]): Promise<IssuedApiKey> {
    const value = newApiKeyValue();
    const now = nowIso();
    const key: ApiKeyRow = {
      id: newId(),
      organization_id: organizationId,
      name,
      key_hash: hashApiKey(value),
      created_at: now,
    };
    await this.deps.repos.apiKeys.create(trx, key);
    for (const grant of grants) {
      await this.deps.repos.authorizations.create(trx, {
        id: newId(),
        organization_id: grant.organizationId,
        identity_id: key.id,
        identity_type: 'api-key',
        resource_type: grant.resourceType,
        resource_id: grant.resourceId,
        role: grant.role,
        created_at: now,
      });
    }
    return { id: key.id, key: value };
  }

  /** A key the caller may manage: owner of the key's organization. */
  private async loadManaged(trx: Db, principal: FleetPrincipal, id: string): Promise<ApiKeyRow> {
    const key = await this.deps.repos.apiKeys.findById(trx, id);
    if (!key) throw notFound('API key not found');
    const org = { type: 'organization', id: key.organization_id } as const;
    await this.deps.authz.require(trx, principal, org, 'write_organization', 'API key not found');
    return key;
  }

  private async requireOwnerOfAll(
    trx: Db,
    principal: FleetPrincipal,
    key: ApiKeyRow,
  ): Promise<AuthorizationRow[]> {
    const { authz } = this.deps;
    const grants = await this.deps.repos.authorizations.listForIdentity(trx, key.id);
    const callerGrants = await authz.grantsOf(trx, principal);
    for (const g of grants) {
      const scope = await authz.scopeOf(trx, { type: g.resource_type, id: g.resource_id });
      // The message names no resource: the key may hold roles where the caller cannot see.
      if (!scope || !authz.rolesOn(callerGrants, scope).has('owner')) {
        throw permissionDenied('this needs owner on every resource the key holds a role on');
      }
    }
    return grants;
  }

  /** The requested resource must belong to the grant's organization, and the caller must own it. */
  private async requireOwnerOf(trx: Db, principal: FleetPrincipal, grant: KeyGrant): Promise<void> {
    const { authz } = this.deps;
    const scope = await authz.scopeOf(trx, { type: grant.resourceType, id: grant.resourceId });
    if (!scope || scope.organizationId !== grant.organizationId) {
      throw invalidArgument(
        `${grant.resourceType} ${grant.resourceId} is not in organization ${grant.organizationId}`,
      );
    }
    const roles = authz.rolesOn(await authz.grantsOf(trx, principal), scope);
    if (!roles.has('owner')) {
      throw permissionDenied(
        `granting a role on ${grant.resourceType} ${grant.resourceId} needs owner there`,
      );
    }
  }
}

function parseAuthorizations(authorizations: RequestedAuthorization[]): {
  organizationId: string;
  grants: KeyGrant[];
} {
  if (authorizations.length === 0) throw invalidArgument('a key needs at least one authorization');
  if (authorizations.length > MAX_KEY_AUTHORIZATIONS) {
    throw invalidArgument(`a key holds at most ${MAX_KEY_AUTHORIZATIONS} authorizations`);
  }
  const organizationId = authorizations[0]?.organizationId ?? '';
  if (organizationId === '') throw invalidArgument('authorization organization_id is required');
  const grants: KeyGrant[] = [];
  for (const a of authorizations) {
    if (a.organizationId !== organizationId) {
      throw invalidArgument('all authorizations of a key must name the same organization');
    }
    if (a.authorizationType !== '' && a.authorizationType !== 'role') {
      throw invalidArgument(`authorization_type must be "role", not "${a.authorizationType}"`);
    }
    if (!RESOURCE_TYPES.includes(a.resourceType)) {
      throw invalidArgument('resource_type must be organization, location or robot');
    }
    const prefix = `${a.resourceType}_`;
    const role = a.authorizationId.startsWith(prefix) ? a.authorizationId.slice(prefix.length) : '';
    if (!isRole(role)) {
      throw invalidArgument(
        `authorization_id must be ${prefix}owner or ${prefix}operator, not "${a.authorizationId}"`,
      );
    }
    if (a.resourceId === '' || a.resourceId.length > MAX_NAME_LENGTH)
      throw invalidArgument('resource_id is required');
    const grant: KeyGrant = {
      organizationId,
      role,
      resourceType: a.resourceType as ResourceType,
      resourceId: a.resourceId,
    };
    if (
      grants.some(
        (g) =>
          g.role === grant.role && g.resourceType === grant.resourceType && g.resourceId === grant.resourceId,
      )
    ) {
      throw invalidArgument('the same authorization is listed twice');
    }
    grants.push(grant);
  }
  return { organizationId, grants };
}

function toApiKey(key: ApiKeyRow, grants: AuthorizationRow[]): ApiKey {
  return {
    id: key.id,
    name: key.name,
    createdOn: new Date(key.created_at),
    organizationId: key.organization_id,
    authorizations: grants.filter((g) => g.identity_id === key.id).map(toGrant),
  };
}
