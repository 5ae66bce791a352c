import { appApi, type AppClient } from '@viamrobotics/sdk';
import type { TestServer } from './server.js';

/** What a role is held on (a role reaches everything below it). */
export type ResourceType = 'organization' | 'location' | 'robot';

/** The fields of an Authorization message that name a grant, sent as given (valid or not). */
export interface AuthorizationFields {
  authorizationId: string;
  resourceType: string;
  resourceId: string;
  organizationId: string;
  /** Who holds it: empty in CreateKey (the new key) and invites, the grantee in AddRole. */
  identityId?: string;
}

/** An Authorization message of type `role`, as CreateKey, AddRole, invites and CheckPermissions take it. */
export const authorization = (fields: AuthorizationFields): appApi.Authorization =>
  new appApi.Authorization({ authorizationType: 'role', identityId: '', identityType: '', ...fields });

/**
 * `role` (`owner`, `operator`, or any name a test wants refused) on an organization, location or
 * robot of `organizationId`: authorization id `<resource type>_<role>`.
 */
export const roleAuthorization = (
  organizationId: string,
  resourceType: ResourceType,
  resourceId: string,
  role: string,
  identityId = '',
): appApi.Authorization =>
  authorization({
    authorizationId: `${resourceType}_${role}`,
    resourceType,
    resourceId,
    organizationId,
    identityId,
  });

/** A role on a whole organization, as the API's Authorization message carries it. */
export const organizationRole = (role: 'owner' | 'operator', organizationId: string): appApi.Authorization =>
  roleAuthorization(organizationId, 'organization', organizationId, role);

/** An SDK client for a new API key holding `role` on the organization, made by `admin`. */
export async function clientForOrgRole(
  t: TestServer,
  admin: AppClient,
  organizationId: string,
  role: 'owner' | 'operator',
  name: string,
): Promise<AppClient> {
  const issued = await admin.createKey([organizationRole(role, organizationId)], name);
  return (await t.clientForKey(issued.id, issued.key)).appClient;
}
