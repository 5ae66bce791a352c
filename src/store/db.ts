import type { Kysely, Transaction } from 'kysely';
import { unavailable, type DomainError } from '../domain/errors.js';
import type { Database } from './schema.js';

/** A connection or an open transaction: repositories work with either; the caller owns the transaction. */
export type Db = Kysely<Database> | Transaction<Database>;

/** The current time as stored: an ISO-8601 UTC string. */
export const nowIso = (): string => new Date().toISOString();

/** True if the error is a foreign-key violation (a row naming one that is not there), on either dialect. */
export function isForeignKeyViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** True if the error is a unique or primary-key violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Error codes of a connection that could not be made or was cut (Node's, pg's). */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // SQLSTATE: shutting down, crashed, starting up, too many connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Messages `pg` gives errors that carry no code when a connection is lost or never made. */
const CONNECTION_ERROR_MESSAGES =
  /Connection terminated|Connection ended|not queryable|timeout exceeded when trying to connect|connection timeout/i;

/**
 * True if the error says the database could not be reached (PostgreSQL stopped, restarting, or
 * the network between): the call may succeed later, unchanged. Such errors are UNAVAILABLE.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08'))) return true;
  return code === undefined && error instanceof Error && CONNECTION_ERROR_MESSAGES.test(error.message);
}

/** The error a client gets when the database cannot be reached; undefined for any other error. */
export function databaseUnavailableError(error: unknown): DomainError | undefined {
  return isDatabaseUnavailable(error)
    ? unavailable('the database is unavailable just now; try again shortly')
    : undefined;
}
