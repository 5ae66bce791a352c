import { DomainError } from '../domain/errors.js';
import { requireFleetPrincipal } from '../authz/principal.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { ProvisioningService } from '../services/provisioning-service.js';
import type { AnyRequest, AnyResponse } from './http-front.js';

const HTTP_STATUS: Record<DomainError['kind'], number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  failed_precondition: 412,
  resource_exhausted: 429,
};

const PATH = /^\/machines\/([^/]+)\/viam\.json$/;

/** Plain-HTTP routes beside the RPC services; each returns true if it answered the request. */
export type HttpRoute = (req: AnyRequest, res: AnyResponse) => boolean;

/**
 * `GET /machines/<part id>/viam.json` with `authorization: Bearer <token>`: the file a machine
 * needs to connect, for an owner setting it up.
 */
export function provisioningRoute(provisioning: ProvisioningService, auth: AuthenticationService): HttpRoute {
  return (req, res) => {
    const match = PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'GET' || !match?.[1]) return false;
    const partId = decodeURIComponent(match[1]);
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
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
