import type { SecretBox } from '../crypto/secret-box.js';
import type { ApiKey, AuthorizationGrant, Organization, SharedSecret } from '../domain/models.js';
import type { ApiKeyRecord, OrganizationRecord, RoleGrantRecord, SealedSecret } from '../store/records.js';

/** Record to domain object, one function per type. */
export const toOrganization = (record: OrganizationRecord): Organization => ({
  id: record.id,
  name: record.name,
  createdOn: new Date(record.createdAt),
  publicNamespace: record.publicNamespace ?? '',
  region: record.region,
  cid: record.cid,
});

export const toGrant = (record: RoleGrantRecord): AuthorizationGrant => ({
  role: record.role,
  resourceType: record.resourceType,
  resourceId: record.resourceId,
  organizationId: record.organizationId,
  identityId: record.identityId,
  identityType: record.identityType,
});

/** A key with the grants it holds (from a list that may hold other identities' grants too). */
export function toApiKey(key: ApiKeyRecord, grants: readonly RoleGrantRecord[]): ApiKey {
  return {
    id: key.id,
    name: key.name,
    createdOn: new Date(key.createdAt),
    organizationId: key.organizationId,
    authorizations: grants.filter((g) => g.identityId === key.id).map(toGrant),
  };
}

/** Location and part secrets, opened for a caller allowed to read them. */
export const openSecrets = (box: SecretBox, sealed: readonly SealedSecret[]): SharedSecret[] =>
  sealed.map((s) => ({ id: s.id, secret: box.open(s.sealed), createdOn: new Date(s.createdAt) }));
