import { permissionDenied } from '../domain/errors.js';

/** A person or an API key: callers of the fleet API (AppService), acting through role grants. */
export type FleetPrincipal = { kind: 'user'; id: string; email: string } | { kind: 'api-key'; id: string };

/** A machine part, authenticated with one of its secrets: a caller of RobotService for itself only. */
export interface PartPrincipal {
  kind: 'robot-part';
  id: string;
  secretId: string;
}

/** Who is calling: set once per call by the authentication interceptor. */
export type Principal = FleetPrincipal | PartPrincipal;

/** The caller of a fleet API method: a part's token may not call them. */
export function requireFleetPrincipal(principal: Principal): FleetPrincipal {
  if (principal.kind === 'robot-part')
    throw permissionDenied('a machine part token may call only RobotService');
  return principal;
}

/** The caller of a machine method for `partId`: that part's own token, and nothing else. */
export function requirePartPrincipal(principal: Principal, partId: string): PartPrincipal {
  if (principal.kind !== 'robot-part' || principal.id !== partId) {
    throw permissionDenied('only the machine part itself may call this method for it');
  }
  return principal;
}
