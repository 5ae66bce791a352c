import type { AnyRequest, AnyResponse } from './http-front.js';
import { httpFailure, type StatusOverrides } from './http-errors.js';
import type { Logger } from '../domain/logger.js';

/** Plain-HTTP routes beside the RPC services; each returns true if it answered the request. */
export type HttpRoute = (req: AnyRequest, res: AnyResponse) => boolean;

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
 * Ends a JSON or download route that failed. Once the body has started there is no status left
 * to send: the exchange is cut (a client that left is not worth a warning). Before, the error
 * goes through `httpFailure` (`http-errors.ts`) and is answered as `{"error": <message>}`, a 401
 * with `WWW-Authenticate: Bearer`.
 */
export function replyFailure(
  res: AnyResponse,
  error: unknown,
  logger: Logger,
  route: string,
  overrides: StatusOverrides = {},
): void {
  if (res.headersSent) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ERR_STREAM_PREMATURE_CLOSE')) {
      logger.warn(`${route} ended early`, { error: String(error) });
    }
    res.destroy();
    return;
  }
  const { status, message } = httpFailure(error, logger, route, overrides);
  replyJson(res, status, { error: message }, status === 401 ? { 'www-authenticate': 'Bearer' } : {});
}
