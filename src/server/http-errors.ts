import { randomUUID } from 'node:crypto';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { databaseUnavailableError } from '../store/db.js';

/** The HTTP status of each domain error kind: what every plain-HTTP route answers by default. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  unavailable: 503,
};

/** Statuses one route answers instead of HTTP_STATUS for some kinds (a download hides what is not there). */
export type StatusOverrides = Partial<Readonly<Record<ErrorKind, number>>>;

/** What a plain-HTTP route answers for a failure. */
export interface HttpFailure {
  status: number;
  /**
   * Safe to show the client: a domain error's own message, or `internal error (request id …)`
   * for anything else, never its message or stack.
   */
  message: string;
  /** The domain error's kind; undefined for an internal error. */
  kind: ErrorKind | undefined;
  /** The id an internal error was logged under; undefined for a domain error. */
  requestId: string | undefined;
}

/**
 * The one error -> status mapping of the plain-HTTP routes, as `errorInterceptor` is for the RPC
 * services: a `DomainError` keeps its message and gets its kind's status (HTTP_STATUS, or the
 * route's override); anything else is logged as `<route> failed` with a request id and the
 * error's stack, and reaches the client as a 500 naming only that request id.
 */
export function httpFailure(
  error: unknown,
  logger: Logger,
  route: string,
  overrides: StatusOverrides = {},
): HttpFailure {
  error = databaseUnavailableError(error) ?? error;
  if (error instanceof DomainError) {
    return {
      status: overrides[error.kind] ?? HTTP_STATUS[error.kind],
      message: error.message,
      kind: error.kind,
      requestId: undefined,
    };
  }
  const requestId = randomUUID();
  logger.error(`${route} failed`, {
    route,
    request_id: requestId,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return { status: 500, message: `internal error (request id ${requestId})`, kind: undefined, requestId };
}
