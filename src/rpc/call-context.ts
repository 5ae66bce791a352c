import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { Principal } from '../authz/principal.js';
import { unauthenticated } from '../domain/errors.js';

/** The authenticated caller of the current call, set by the authentication interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'principal' });

/** The caller of this call; every AppService method has one, or the interceptor refused it. */
export function callerOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  if (!principal) throw unauthenticated('authentication required');
  return principal;
}
