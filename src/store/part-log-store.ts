import type { LogCursor, LogLevel } from '../domain/log-query.js';

/** A log entry as stored for a part; `caller` and `fields` hold JSON text. */
export interface NewLogRow {
  host: string;
  level: LogLevel;
  /** Microseconds since the epoch (exact over Timestamp's whole range, hence a bigint). */
  timeUs: bigint;
  loggerName: string;
  message: string;
  caller: string | null;
  stack: string;
  fields: string;
}

/** A stored entry: `seq` is its arrival order (unique, increasing). */
export interface LogRow extends NewLogRow {
  seq: number;
}

/** One read of a part's logs, newest first (time, then arrival, descending). */
export interface LogSearch {
  partId: string;
  /** Undefined: every level. */
  levels: readonly LogLevel[] | undefined;
  /** Inclusive lower bound, microseconds. */
  startUs: bigint | undefined;
  /** Exclusive upper bound, microseconds. */
  endUs: bigint | undefined;
  /** Substring of the message, ASCII letters matched regardless of case. */
  filter: string | undefined;
  /** Only entries strictly older than this (time, then arrival): the page token. */
  before: LogCursor | undefined;
  limit: number;
}

/** A batch of entries one Log call stored, as every replica learns of it. */
export interface AppendedLogs {
  partId: string;
  rows: LogRow[];
}

/** How long logs are kept: entries older than the age, and the oldest beyond the count, go. */
export interface LogRetention {
  maxAgeSeconds: number;
  maxEntriesPerPart: number;
  /** How often the background pass runs, in milliseconds. */
  intervalMs: number;
}

/**
 * Where machine logs live. Ingestion, search and the feed of new entries are dialect-specific
 * (SQLite batches the search index in a worker; PostgreSQL uses pg_trgm and LISTEN/NOTIFY), so
 * logs have a store of their own beside the Kysely repositories.
 */
export interface PartLogStore {
  /**
   * Stores one call's entries, all or none, and records that the part was seen at `seenAt`.
   * Resolves false (storing nothing) if the part does not exist.
   */
  append(partId: string, seenAt: string, rows: readonly NewLogRow[]): Promise<boolean>;
  /** One page of a part's logs. */
  search(query: LogSearch): Promise<LogRow[]>;
  /**
   * Calls `listener` with every batch appended from now on, by this process or (PostgreSQL) by
   * any replica, for the parts `watched` says yes to. Returns the unsubscribe function.
   */
  onAppended(listener: (batch: AppendedLogs) => void, watched: (partId: string) => boolean): () => void;
  /** Stops background work and closes the store's own connections. */
  close(): Promise<void>;
}
