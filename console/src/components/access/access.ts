import type { PartialMessage } from '@bufbuild/protobuf';
import type { appApi } from '@viamrobotics/sdk';
import { app } from '../../lib/api.js';

/*
 * What the Members and API keys pages share: the roles there are, the resources a role can be
 * held on (the organization, its locations and machines) and how a grant reads for a person.
 * A grant travels as an Authorization message of type "role" whose id is `<resource type>_<role>`.
 */

export type Role = 'owner' | 'operator';
export type ScopeType = 'organization' | 'location' | 'robot';

/** Where a role is held: the organization itself, one of its locations or one of its machines. */
export interface Scope {
  type: ScopeType;
  /** Empty until a location or machine is chosen; the organization's id for `organization`. */
  id: string;
}

export const ROLES: readonly { value: Role; label: string; hint: string }[] = [
  { value: 'owner', label: 'Owner', hint: 'manages everything in scope, including members and keys' },
  { value: 'operator', label: 'Operator', hint: 'sees and controls machines in scope, changes nothing' },
];

export interface Machine {
  id: string;
  name: string;
  locationId: string;
  locationName: string;
}

/** The organization's locations and machines, to choose a scope from and to name grants with. */
export interface Resources {
  organizationId: string;
  organizationName: string;
  locations: { id: string; name: string }[];
  machines: Machine[];
}

/** Loads the organization's locations (ListLocations) and each one's machines (ListRobots). */
export async function loadResources(organizationId: string, organizationName: string): Promise<Resources> {
  const { locations } = await app.listLocations({ organizationId });
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  const sorted = locations.map((l) => ({ id: l.id, name: l.name })).sort(byName);
  const machines = (
    await Promise.all(
      sorted.map(async (location) => {
        const { robots } = await app.listRobots({ locationId: location.id });
        return robots
          .map((r) => ({ id: r.id, name: r.name, locationId: location.id, locationName: location.name }))
          .sort(byName);
      }),
    )
  ).flat();
  return { organizationId, organizationName, locations: sorted, machines };
}

/** The role an authorization id such as `location_operator` names, if it is one of ours. */
export function roleOf(authorizationId: string, resourceType: string): Role | undefined {
  const role = authorizationId.startsWith(`${resourceType}_`)
    ? authorizationId.slice(resourceType.length + 1)
    : authorizationId;
  return role === 'owner' || role === 'operator' ? role : undefined;
}

export const roleLabel = (role: Role | undefined, authorizationId: string): string =>
  ROLES.find((r) => r.value === role)?.label ?? authorizationId;

/** A scope in words: "the organization Org A", "location Yard", "machine rover (Yard)". */
export function scopeLabel(resources: Resources | undefined, type: string, id: string): string {
  if (type === 'organization') {
    return id === resources?.organizationId
      ? `organization ${resources.organizationName}`
      : `organization ${id}`;
  }
  if (type === 'location') {
    const location = resources?.locations.find((l) => l.id === id);
    return location ? `location ${location.name}` : `location ${id}`;
  }
  if (type === 'robot') {
    const machine = resources?.machines.find((m) => m.id === id);
    return machine ? `machine ${machine.name} (${machine.locationName})` : `machine ${id}`;
  }
  return `${type} ${id}`;
}

/** The resource id a scope names: the organization's own id for the organization. */
export const scopeId = (resources: Resources, scope: Scope): string =>
  scope.type === 'organization' ? resources.organizationId : scope.id;

/** An Authorization message for `role` on `scope`, held by `identityId` (empty for a new key or invite). */
export function roleAuthorization(
  resources: Resources,
  role: Role,
  scope: Scope,
  identityId = '',
  identityType = '',
): PartialMessage<appApi.Authorization> {
  return {
    authorizationType: 'role',
    authorizationId: `${scope.type}_${role}`,
    resourceType: scope.type,
    resourceId: scopeId(resources, scope),
    organizationId: resources.organizationId,
    identityId,
    identityType,
  };
}

/** Whether a scope names a resource yet (a location or machine must be chosen). */
export const scopeComplete = (scope: Scope): boolean => scope.type === 'organization' || scope.id !== '';
