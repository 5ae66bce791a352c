import { DomainError } from '../domain/errors.js';
import type { AnyRequest, AnyResponse } from './http-front.js';
import type { Logger } from './logger.js';

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

/**
 * Ends a file download that failed. Once the body has started there is no status left to send:
 * the exchange is cut (a client that left is not worth a warning). Before, a domain error gets
 * `statusOf(error)` and its message as JSON (401 with `WWW-Authenticate: Bearer`); anything else
 * is logged and answered 500 without detail.
 */
export function failDownload(
  res: AnyResponse,
  error: unknown,
  logger: Logger,
  what: string,
  statusOf: (error: DomainError) => number,
): void {
  if (res.headersSent) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ERR_STREAM_PREMATURE_CLOSE')) {
      logger.warn(`${what} ended early`, { error: String(error) });
    }
    res.destroy();
    return;
  }
  if (error instanceof DomainError) {
    const status = statusOf(error);
    replyJson(res, status, { error: error.message }, status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    return;
  }
  logger.error(`${what} failed`, {
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  replyJson(res, 500, { error: 'internal error' });
}
