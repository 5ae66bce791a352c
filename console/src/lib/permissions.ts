import { app } from './api.js';

/** What CheckPermissions takes in one call (the server's MAX_PERMISSION_QUERIES). */
const PER_CALL = 1000;

/**
 * The permissions among `wanted` that the signed-in principal holds on each resource, by id
 * (CheckPermissions). The console uses the answer only to hide what the server would refuse.
 */
export async function permissionsOn(
  resourceType: 'organization' | 'location' | 'robot',
  ids: readonly string[],
  wanted: readonly string[],
): Promise<Map<string, Set<string>>> {
  const held = new Map<string, Set<string>>();
  for (let start = 0; start < ids.length; start += PER_CALL) {
    const reply = await app.checkPermissions({
      permissions: ids
        .slice(start, start + PER_CALL)
        .map((resourceId) => ({ resourceType, resourceId, permissions: [...wanted] })),
    });
    for (const answer of reply.authorizedPermissions)
      held.set(answer.resourceId, new Set(answer.permissions));
  }
  return held;
}
