import type { FleetPrincipal } from '../authz/principal.js';
import { hashApiKey } from '../crypto/hashing.js';
import { invalidArgument, permissionDenied } from '../domain/errors.js';
import { newApiKeyValue, newId } from '../domain/ids.js';
import type { ApiKey, IssuedApiKey } from '../domain/models.js';
import { requireId, requireName } from '../domain/validation.js';
import { nowIso, type Db } from '../store/db.js';
import type { ApiKeyRecord, RoleGrantRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';
import { toApiKey } from './mappers.js';
import {
  parseAuthorization,
  requireOwnerOfGrant,
  sameGrant,
  type Grant,
  type RequestedAuthorization,
} from './requested-authorization.js';

/** Most authorizations one key may carry. */
export const MAX_KEY_AUTHORIZATIONS = 100;

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
      for (const grant of grants) await requireOwnerOfGrant(this.deps.authz, trx, principal, grant);
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
    ).filter((g) => g.organizationId === orgId);
    return keys.map((key) => toApiKey(key, grants));
  }

  async delete(principal: FleetPrincipal, keyId: string): Promise<void> {
    const id = requireId(keyId, 'id');
    const { repos } = this.deps;
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.authz.require(trx, principal, { type: 'api-key', id }, 'write_organization');
      await repos.authorizations.deleteForIdentity(trx, id);
      await repos.apiKeys.delete(trx, id);
    });
  }

  /** Gives the key a new value; the old value and its tokens stop working at once. */
  async rotate(principal: FleetPrincipal, keyId: string): Promise<IssuedApiKey> {
    const id = requireId(keyId, 'id');
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: key } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'api-key', id },
        'write_organization',
      );
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
      await this.deps.authz.require(trx, principal, { type: 'api-key', id }, 'write_organization');
      await this.deps.repos.apiKeys.rename(trx, id, newName);
      return { id, name: newName };
    });
  }

  /** A new key with the same authorizations as an existing one. */
  async createFromExisting(principal: FleetPrincipal, keyId: string): Promise<IssuedApiKey> {
    const id = requireId(keyId, 'id');
    return this.deps.db.transaction().execute(async (trx) => {
      const { record: key } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'api-key', id },
        'write_organization',
      );
      const grants = await this.requireOwnerOfAll(trx, principal, key);
      return this.insertKey(
        trx,
        key.organizationId,
        nowIso(),
        grants.map((g) => ({
          organizationId: g.organizationId,
          role: g.role,
          resourceType: g.resourceType,
          resourceId: g.resourceId,
        })),
      );
    });
  }

  /** Creates a key inside an open transaction (also used by `flotilla init`). */
  async insertKey(trx: Db, organizationId: string, name: string, grants: Grant[]): Promise<IssuedApiKey> {
    const value = newApiKeyValue();
    const now = nowIso();
    const key: ApiKeyRecord = {
      id: newId(),
      organizationId,
      name,
      keyHash: hashApiKey(value),
      createdAt: now,
    };
    await this.deps.repos.apiKeys.create(trx, key);
    for (const grant of grants) {
      await this.deps.repos.authorizations.create(trx, {
        id: newId(),
        organizationId: grant.organizationId,
        identityId: key.id,
        identityType: 'api-key',
        resourceType: grant.resourceType,
        resourceId: grant.resourceId,
        role: grant.role,
        createdAt: now,
      });
    }
    return { id: key.id, key: value };
  }

  private async requireOwnerOfAll(
    trx: Db,
    principal: FleetPrincipal,
    key: ApiKeyRecord,
  ): Promise<RoleGrantRecord[]> {
    const grants = await this.deps.repos.authorizations.listForIdentity(trx, key.id);
    for (const g of grants) {
      // The message names no resource: the key may hold roles where the caller cannot see.
      if (!(await this.deps.authz.isOwnerOf(trx, principal, { type: g.resourceType, id: g.resourceId }))) {
        throw permissionDenied('this needs owner on every resource the key holds a role on');
      }
    }
    return grants;
  }
}

function parseAuthorizations(authorizations: RequestedAuthorization[]): {
  organizationId: string;
  grants: Grant[];
} {
  if (authorizations.length === 0) throw invalidArgument('a key needs at least one authorization');
  if (authorizations.length > MAX_KEY_AUTHORIZATIONS) {
    throw invalidArgument(`a key holds at most ${MAX_KEY_AUTHORIZATIONS} authorizations`);
  }
  const grants: Grant[] = [];
  authorizations.forEach((a, i) => {
    const grant = parseAuthorization(a, `authorizations[${i}]`);
    if (grant.organizationId !== grants[0]?.organizationId && grants.length > 0) {
      throw invalidArgument('all authorizations of a key must name the same organization');
    }
    if (grants.some((g) => sameGrant(g, grant)))
      throw invalidArgument('the same authorization is listed twice');
    grants.push(grant);
  });
  return { organizationId: grants[0]?.organizationId ?? '', grants };
}

/**
 * A key as the API shows it, with those of `grants` it holds: the one mapping of keys, for
 * ListKeys here and for a machine's keys (MachineService.apiKeys).
 */
