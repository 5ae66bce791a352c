import { DomainError } from '../domain/errors.js';
import { requireFleetPrincipal } from '../authz/principal.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';
import { bearerToken, HTTP_STATUS, replyJson, type HttpRoute } from './http-replies.js';

const PATH = /^\/machines\/([^/]+)\/viam\.json$/;

/**
 * `GET /machines/<part id>/viam.json` with `authorization: Bearer <token>`: the file a machine
 * needs to connect, for an owner setting it up.
 */
export function provisioningRoute(provisioning: ProvisioningService, auth: AuthenticationService): HttpRoute {
  return (req, res) => {
    const match = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'GET' || !match?.[1]) return false;
    const partId = decodeURIComponent(match[1]);
    const token = bearerToken(req);
    const reply = (status: number, body: unknown) => replyJson(res, status, body);
    void (async () => {
      if (!token) throw new DomainError('unauthenticated', 'missing bearer token');
      const principal = requireFleetPrincipal(await auth.principalFor(token));
      return provisioning.cloudFile(principal, partId);
    })().then(
      (file) => reply(200, file),
      (error: unknown) =>
        error instanceof DomainError
          ? reply(HTTP_STATUS[error.kind], { error: error.message })
          : reply(500, { error: 'internal error' }),
    );
    return true;
  };
}
