import { randomUUID } from 'node:crypto';
import { Code, ConnectError, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import type { AnyMessage } from '@bufbuild/protobuf';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { Logger } from '../server/logger.js';
import { principalKey } from './call-context.js';

const CODES: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
};

/**
 * The one error translation: domain errors keep their message and get their code; Connect errors
 * pass; anything else is logged with a request id and reaches the client as "internal error".
 */
export function errorInterceptor(logger: Logger): Interceptor {
  const translate = (error: unknown, procedure: string): ConnectError => {
    if (error instanceof DomainError) return new ConnectError(error.message, CODES[error.kind]);
    if (error instanceof ConnectError) return error;
    const requestId = randomUUID();
    logger.error('call failed', {
      procedure,
      request_id: requestId,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
  };
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: guardStream(res, (e) => translate(e, procedure)) };
    } catch (error) {
      throw translate(error, procedure);
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
    const header = req.header.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new DomainError('unauthenticated', 'missing bearer token');
    req.contextValues.set(principalKey, await auth.principalFor(match[1]));
    return next(req);
  };
}
