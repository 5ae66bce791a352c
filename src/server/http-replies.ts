import type { DomainError } from '../domain/errors.js';
import type { AnyRequest, AnyResponse } from './http-front.js';

/** Plain-HTTP routes beside the RPC services; each returns true if it answered the request. */
export type HttpRoute = (req: AnyRequest, res: AnyResponse) => boolean;

/** The HTTP status of each domain error, for the plain-HTTP routes. */
export const HTTP_STATUS: Record<DomainError['kind'], number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  failed_precondition: 412,
  resource_exhausted: 429,
};

/** The token of an `authorization: Bearer <token>` header, if there is one. */
export const bearerToken = (req: AnyRequest): string | undefined =>
  /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

/** Answers with a JSON document. */
export function replyJson(
  res: AnyResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body) + '\n');
}
