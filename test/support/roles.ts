import { appApi, type AppClient } from '@viamrobotics/sdk';
import type { TestServer } from './server.js';

/** A role on a whole organization, as the API's Authorization message carries it. */
export const organizationRole = (role: 'owner' | 'operator', organizationId: string): appApi.Authorization =>
  new appApi.Authorization({
    authorizationType: 'role',
    authorizationId: `organization_${role}`,
    resourceType: 'organization',
    resourceId: organizationId,
    organizationId,
    identityId: '',
    identityType: '',
  });

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
