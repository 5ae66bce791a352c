import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import {
  requireFleetPrincipal,
  requirePartPrincipal,
  type FleetPrincipal,
  type PartPrincipal,
  type Principal,
} from '../authz/principal.js';
import { unauthenticated } from '../domain/errors.js';

/** The authenticated caller of the current call, set by the authentication interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'principal' });

/**
 * The address of the client's TCP connection, set from the socket when a request arrives (never
 * from X-Forwarded-For or other headers a client controls); undefined if unknown.
 */
export const sourceAddressKey = createContextKey<string | undefined>(undefined, {
  description: 'source address',
});

function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  if (!principal) throw unauthenticated('authentication required');
  return principal;
}

/** The caller of a method open to users, keys and machine parts alike (a package download). */
export const anyCallerOf = (ctx: HandlerContext): Principal => principalOf(ctx);

/** The caller of a fleet API (AppService) method: a user or an API key, never a part. */
export const callerOf = (ctx: HandlerContext): FleetPrincipal => requireFleetPrincipal(principalOf(ctx));

/** The caller of a machine (RobotService) method about `partId`: that part itself. */
export const partCallerOf = (ctx: HandlerContext, partId: string): PartPrincipal =>
  requirePartPrincipal(principalOf(ctx), partId);
