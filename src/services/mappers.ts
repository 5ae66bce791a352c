import type { AuthorizationGrant, Organization } from '../domain/models.js';
import type { AuthorizationRow, OrganizationRow } from '../store/schema.js';

/** Row to domain object, one function per type. */
export const toOrganization = (row: OrganizationRow): Organization => ({
  id: row.id,
  name: row.name,
  createdOn: new Date(row.created_at),
  publicNamespace: row.public_namespace ?? '',
  region: row.region,
  cid: row.cid ?? undefined,
});

export const toGrant = (row: AuthorizationRow): AuthorizationGrant => ({
  role: row.role,
  resourceType: row.resource_type,
  resourceId: row.resource_id,
  organizationId: row.organization_id,
  identityId: row.identity_id,
  identityType: row.identity_type,
});
