import { MIN_LOG_TIME_US, type LogCursor } from '../domain/log-query.js';
import type { LogRetention } from './part-log-store.js';

/** The retention pass's access to the logs, implemented by each dialect's store. */
export interface RetentionOps {
  /** Parts that may hold logs. */
  partIds(): Promise<string[]> | string[];
  /** The newest entry beyond the part's `keep` newest (the first to go), if there is one. */
  firstBeyond(partId: string, keep: number): Promise<LogCursor | undefined> | LogCursor | undefined;
  /** Deletes up to `max` of the part's oldest entries at or before `through`; returns how many. */
  deleteThrough(partId: string, through: LogCursor, max: number): Promise<number> | number;
}

/**
 * The parts that hold logs, one index probe each (a loose index scan over part_logs' index on
 * part_id): a retention pass must not visit every part of a large fleet, most of which log
 * nothing. The same text serves PostgreSQL.
 */
export const PARTS_WITH_LOGS = `with recursive logging(id) as (
    select min(part_id) from part_logs
    union all
    select (select min(part_id) from part_logs where part_id > logging.id) from logging where logging.id is not null
  ) select id from logging where id is not null`;

/** Rows deleted per statement: small enough that ingestion never waits long for the write lock. */
export const RETENTION_BATCH = 2000;

/**
 * One retention pass: for each part, entries older than the maximum age go, then the oldest
 * beyond the maximum count. Deletes in small batches and calls `pause` between them, so writers
 * get the database in between. `nowUs` is the clock (Date.now() * 1000: always a safe integer).
 */
export async function enforceRetention(
  ops: RetentionOps,
  policy: LogRetention,
  nowUs: number,
  pause: () => Promise<void>,
): Promise<number> {
  // (time, seq) at or before this cursor means time < cutoff. A maximum age reaching back before
  // the year 1 expires nothing (no log time is older), and is never bound as a parameter.
  const maxAgeUs = policy.maxAgeSeconds * 1_000_000;
  const cutoffUs = Number.isFinite(maxAgeUs) ? BigInt(nowUs) - BigInt(Math.round(maxAgeUs)) : undefined;
  const expired: LogCursor | undefined =
    cutoffUs !== undefined && cutoffUs > MIN_LOG_TIME_US
      ? { timeUs: cutoffUs - 1n, seq: Number.MAX_SAFE_INTEGER }
      : undefined;
  let deleted = 0;
  for (const partId of await ops.partIds()) {
    const bounds = expired ? [expired] : [];
    const beyond = await ops.firstBeyond(partId, policy.maxEntriesPerPart);
    if (beyond) bounds.push(beyond);
    for (const through of bounds) {
      for (;;) {
        const n = await ops.deleteThrough(partId, through, RETENTION_BATCH);
        deleted += n;
        await pause();
        if (n < RETENTION_BATCH) break;
      }
    }
  }
  return deleted;
}
