import { bearerTokenOf } from '../domain/bearer.js';
import { invalidArgument, unauthenticated } from '../domain/errors.js';
import { requireFleetPrincipal, type FleetPrincipal } from '../authz/principal.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import { replyFailure, replyJson, type HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';

function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument('the path is not valid percent-encoding');
  }
}

/**
 * A `GET` route answering JSON to a person or key with `authorization: Bearer <token>`: `path`'s
 * groups are decoded and handed to `answer` with the caller and the query's parameters; `answer`
 * asks the service (and so the one authorization path).
 * Failures get the shared statuses (`HTTP_STATUS`) as `{"error": ...}`.
 */
export function fleetJsonRoute(
  name: string,
  path: RegExp,
  auth: AuthenticationService,
  logger: Logger,
  answer: (principal: FleetPrincipal, segments: string[], query: URLSearchParams) => Promise<unknown>,
): HttpRoute {
  return (req, res) => {
    const [pathname = '', query = ''] = (req.url ?? '').split(/\?(.*)/s);
    const match = path.exec(pathname);
    if (req.method !== 'GET' || !match) return false;
    const token = bearerTokenOf(req.headers.authorization);
    void (async () => {
      if (!token) throw unauthenticated('missing bearer token');
      // Decoded in here: a malformed escape must fail this request, not throw out of the handler.
      const segments = match.slice(1).map((s) => decodedSegment(s ?? ''));
      const principal = requireFleetPrincipal(await auth.principalFor(token));
      return answer(principal, segments, new URLSearchParams(query));
    })().then(
      (body) => replyJson(res, 200, body, { 'cache-control': 'no-store' }),
      (error: unknown) => replyFailure(res, error, logger, name),
    );
    return true;
  };
}
