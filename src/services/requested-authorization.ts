import type { Authorizer } from '../authz/authorizer.js';
import { isRole } from '../authz/permissions.js';
import type { FleetPrincipal } from '../authz/principal.js';
import { invalidArgument, permissionDenied } from '../domain/errors.js';
import { MAX_NAME_LENGTH } from '../domain/validation.js';
import type { Db } from '../store/db.js';
import type { ResourceType, RoleName } from '../domain/roles.js';

/** An authorization as a request states it (the wire's `Authorization` message). */
export interface RequestedAuthorization {
  authorizationType: string;
  authorizationId: string;
  resourceType: string;
  resourceId: string;
  organizationId: string;
}

/** A validated grant: a role on a resource, in an organization. */
export interface Grant {
  organizationId: string;
  role: RoleName;
  resourceType: ResourceType;
  resourceId: string;
}

const RESOURCE_TYPES: readonly string[] = ['organization', 'location', 'robot'];

/**
 * Checks one requested authorization: type "role" (or empty), `authorization_id` of the form
 * `<resource_type>_<role>`, a known resource type, a resource id and an organization id.
 */
export function parseAuthorization(a: RequestedAuthorization, field = 'authorization'): Grant {
  if (a.organizationId === '') throw invalidArgument(`${field}.organization_id is required`);
  if (a.authorizationType !== '' && a.authorizationType !== 'role') {
    throw invalidArgument(`${field}.authorization_type must be "role", not "${a.authorizationType}"`);
  }
  if (!RESOURCE_TYPES.includes(a.resourceType)) {
    throw invalidArgument(`${field}.resource_type must be organization, location or robot`);
  }
  const prefix = `${a.resourceType}_`;
  const role = a.authorizationId.startsWith(prefix) ? a.authorizationId.slice(prefix.length) : '';
  if (!isRole(role)) {
    throw invalidArgument(
      `${field}.authorization_id must be ${prefix}owner or ${prefix}operator, not "${a.authorizationId}"`,
    );
  }
  if (a.resourceId === '' || a.resourceId.length > MAX_NAME_LENGTH) {
    throw invalidArgument(`${field}.resource_id is required`);
  }
  return {
    organizationId: a.organizationId,
    role,
    resourceType: a.resourceType as ResourceType,
    resourceId: a.resourceId,
  };
}

export const sameGrant = (a: Grant, b: Grant): boolean =>
  a.role === b.role && a.resourceType === b.resourceType && a.resourceId === b.resourceId;

/**
 * The grant's resource must belong to its organization (INVALID_ARGUMENT otherwise), and the
 * caller must hold owner on it (PERMISSION_DENIED): nobody hands out more than they hold.
 */
export async function requireOwnerOfGrant(
  authz: Authorizer,
  db: Db,
  principal: FleetPrincipal,
  grant: Grant,
): Promise<void> {
  const scope = await authz.scopeOf(db, { type: grant.resourceType, id: grant.resourceId });
  if (!scope || scope.organizationId !== grant.organizationId) {
    throw invalidArgument(
      `${grant.resourceType} ${grant.resourceId} is not in organization ${grant.organizationId}`,
    );
  }
  if (!(await authz.isOwnerOf(db, principal, scope.resource))) {
    throw permissionDenied(`granting a role on ${grant.resourceType} ${grant.resourceId} needs owner there`);
  }
}
