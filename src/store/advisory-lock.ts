import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * PostgreSQL advisory locks that name what replicas must do one at a time. Session locks: held
 * on one connection of the pool for the length of the work, and released by PostgreSQL if the
 * replica dies holding them.
 */
export const ADVISORY_LOCKS = {
  /** Migrations and the schema check before them. */
  migrations: 0x466c6f01,
  /** Machine log retention. */
  logRetention: 0x466c6f02,
  /** Removing blobs whose upload never finished. */
  abandonedBlobs: 0x466c6f03,
  /** The machine alert checker's rounds (parts going offline and coming back). */
  alertChecks: 0x466c6f0a,
  /** Deleting audit events past their age. */
  auditRetention: 0x466c6f04,
} as const;

/** Runs `work` holding the lock, waiting for it if another replica holds it. */
export async function withAdvisoryLock<T>(
  db: Kysely<Database>,
  lock: number,
  work: () => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${lock})`.execute(connection);
    try {
      return await work();
    } finally {
      await sql`select pg_advisory_unlock(${lock})`.execute(connection).catch(() => {});
    }
  });
}

/**
 * Runs `work` if no other replica holds the lock, and resolves whether it ran. For periodic jobs:
 * the replica that misses the lock leaves the round to the one holding it.
 */
export async function ifAdvisoryLockFree(
  db: Kysely<Database>,
  lock: number,
  work: () => Promise<void>,
): Promise<boolean> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${lock}) as locked`.execute(
      connection,
    );
    if (!rows[0]?.locked) return false;
    try {
      await work();
      return true;
    } finally {
      await sql`select pg_advisory_unlock(${lock})`.execute(connection).catch(() => {});
    }
  });
}
