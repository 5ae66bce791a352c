import type { Kysely, Transaction } from 'kysely';
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
