import type { AuthenticationService } from '../services/authentication-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';
import type { HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';
import { fleetJsonRoute } from './fleet-json-route.js';

/**
 * `GET /machines/<part id>/viam.json` with `authorization: Bearer <token>`: the file a machine
 * needs to connect, for an owner setting it up.
 */
export function provisioningRoute(
  provisioning: ProvisioningService,
  auth: AuthenticationService,
  logger: Logger,
): HttpRoute {
  return fleetJsonRoute(
    'viam.json',
    /^\/machines\/([^/]+)\/viam\.json$/,
    auth,
    logger,
    (principal, [partId]) => provisioning.cloudFile(principal, partId ?? ''),
  );
}
