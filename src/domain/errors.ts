/**
 * Domain errors: the only failures a service raises on purpose. The RPC layer maps each kind to
 * one Connect code in a single interceptor; anything else is reported as an internal error.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'failed_precondition'
  | 'resource_exhausted'
  /** Something the call needs (the database) cannot be reached just now; worth retrying. */
  | 'unavailable';

/** An expected failure whose message is safe to show to the caller. */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalidArgument = (message: string) => new DomainError('invalid_argument', message);
export const notFound = (message: string) => new DomainError('not_found', message);
export const alreadyExists = (message: string) => new DomainError('already_exists', message);
export const permissionDenied = (message: string) => new DomainError('permission_denied', message);
export const unauthenticated = (message: string) => new DomainError('unauthenticated', message);
export const failedPrecondition = (message: string) => new DomainError('failed_precondition', message);
export const resourceExhausted = (message: string) => new DomainError('resource_exhausted', message);
export const unavailable = (message: string) => new DomainError('unavailable', message);
