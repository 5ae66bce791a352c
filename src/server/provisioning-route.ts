import { bearerTokenOf } from '../domain/bearer.js';
import { invalidArgument, unauthenticated } from '../domain/errors.js';
import { requireFleetPrincipal } from '../authz/principal.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';
import { replyFailure, replyJson, type HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';

const PATH = /^\/machines\/([^/]+)\/viam\.json$/;

function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument('the part id is not valid percent-encoding');
  }
}

/**
 * `GET /machines/<part id>/viam.json` with `authorization: Bearer <token>`: the file a machine
 * needs to connect, for an owner setting it up. Failures get the shared statuses (`HTTP_STATUS`).
 */
export function provisioningRoute(
  provisioning: ProvisioningService,
  auth: AuthenticationService,
  logger: Logger,
): HttpRoute {
  return (req, res) => {
    const match = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'GET' || !match?.[1]) return false;
    const encodedPartId = match[1];
    const token = bearerTokenOf(req.headers.authorization);
    void (async () => {
      if (!token) throw unauthenticated('missing bearer token');
      // Decoded in here: a malformed escape must fail this request, not throw out of the handler.
      const partId = decodedSegment(encodedPartId);
      const principal = requireFleetPrincipal(await auth.principalFor(token));
      return provisioning.cloudFile(principal, partId);
    })().then(
      (file) => replyJson(res, 200, file),
      (error: unknown) => replyFailure(res, error, logger, 'viam.json'),
    );
    return true;
  };
}
