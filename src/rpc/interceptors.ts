import { randomUUID } from 'node:crypto';
import { Code, ConnectError, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import type { AnyMessage } from '@bufbuild/protobuf';
import { bearerTokenOf } from '../domain/bearer.js';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { Logger } from '../domain/logger.js';
import { databaseUnavailableError } from '../store/db.js';
import type { AuditPrincipal, AuditRecorder } from '../store/audit-recorder.js';
import type { Principal } from '../authz/principal.js';
import { principalKey } from './call-context.js';
import { checkDecoded, checkedStream } from './request-guards.js';

const CODES: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

/** Longest error message sent to a client: messages can carry client input, and a header too
 * large for HTTP/2 would take the whole connection down with the call. */
export const MAX_ERROR_MESSAGE_LENGTH = 512;

/** A message cut to MAX_ERROR_MESSAGE_LENGTH characters, marked when cut. */
export function boundedMessage(message: string): string {
  return message.length > MAX_ERROR_MESSAGE_LENGTH
    ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 15)}… (truncated)`
    : message;
}

/** Turns anything a call threw into the error its client gets (see `errorInterceptor`). */
export type ErrorTranslator = (
  error: unknown,
  procedure: string,
  signal: AbortSignal | undefined,
) => ConnectError;

/**
 * The one error translation: domain errors keep their message and get their code; Connect errors
 * pass; a call its client cancelled is CANCELLED (logged at debug); anything else is logged with
 * a request id and reaches the client as "internal error". Every message is bounded.
 */
export function errorTranslator(logger: Logger): ErrorTranslator {
  return (error, procedure, signal) => {
    error = databaseUnavailableError(error) ?? error;
    if (error instanceof DomainError) {
      return new ConnectError(boundedMessage(error.message), CODES[error.kind]);
    }
    if (error instanceof ConnectError) {
      if (error.code === Code.Canceled) logger.debug('call cancelled by its client', { procedure });
      return error.rawMessage.length > MAX_ERROR_MESSAGE_LENGTH
        ? new ConnectError(boundedMessage(error.rawMessage), error.code, error.metadata)
        : error;
    }
    if (signal?.aborted) {
      logger.debug('call cancelled by its client', { procedure });
      return new ConnectError('the call was cancelled', Code.Canceled);
    }
    const requestId = randomUUID();
    logger.error('call failed', {
      procedure,
      request_id: requestId,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
  };
}

/**
 * Errors of every call go through `errorTranslator`. It also refuses requests that did not
 * decode, or whose lists are too long (`request-guards.ts`), before any handler sees them.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  const translate = errorTranslator(logger);
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    try {
      if (req.stream) req = { ...req, message: checkedStream(req.message) };
      else checkDecoded(req.message);
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: guardStream(res, (e) => translate(e, procedure, req.signal)) };
    } catch (error) {
      throw translate(error, procedure, req.signal);
    }
  };
}

async function* guardStream(
  res: StreamResponse<AnyMessage, AnyMessage>,
  translate: (e: unknown) => ConnectError,
): AsyncIterable<AnyMessage> {
  try {
    yield* res.message;
  } catch (error) {
    throw translate(error);
  }
}

/** The caller a request's `authorization` header names; UNAUTHENTICATED without a valid token. */
export async function callerFor(auth: AuthenticationService, authorization: string | null | undefined) {
  const token = bearerTokenOf(authorization ?? null);
  if (!token) throw new DomainError('unauthenticated', 'missing bearer token');
  return auth.principalFor(token);
}

/**
 * Authentication: every call except Authenticate (and methods not implemented yet, which answer
 * UNIMPLEMENTED to anyone) needs `authorization: Bearer <token>`; the caller it names is put in
 * the call's context values.
 */
export function authenticationInterceptor(
  auth: AuthenticationService,
  needsCaller: (procedure: string) => boolean,
): Interceptor {
  return (next) => async (req) => {
    if (!needsCaller(`${req.service.typeName}/${req.method.name}`)) return next(req);
    req.contextValues.set(principalKey, await callerFor(auth, req.header.get('authorization')));
    return next(req);
  };
}

/** Services whose calls change nothing the audit log records (machines' own calls). */
const UNAUDITED_SERVICES = new Set(['viam.app.v1.RobotService']);

/** How the audit log names a caller. */
export function auditPrincipalOf(principal: Principal): AuditPrincipal {
  if (principal.kind === 'user') return { kind: 'user', id: principal.id, name: principal.email };
  if (principal.kind === 'api-key') return { kind: 'api-key', id: principal.id };
  return { kind: 'part', id: principal.id };
}

/**
 * Runs every fleet call as one audited call (`AuditRecorder`): named by its service and method,
 * with its caller once authenticated. Whether anything is recorded is the transactions' business:
 * a call that wrote nothing, or was refused, leaves no event.
 */
export function auditInterceptor(audit: AuditRecorder): Interceptor {
  return (next) => (req) => {
    if (UNAUDITED_SERVICES.has(req.service.typeName)) return next(req);
    const principal = req.contextValues.get(principalKey);
    return audit.run(
      {
        service: req.service.typeName,
        method: req.method.name,
        principal: principal ? auditPrincipalOf(principal) : undefined,
      },
      () => next(req),
    );
  };
}
