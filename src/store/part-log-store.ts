import type { LogCursor, LogLevel } from '../domain/log-query.js';
import type { JsonObject } from './records.js';

/** A log entry a part pushed, as the store takes it: its values parsed, its level checked. */
export interface NewLogEntry {
  host: string;
  level: LogLevel;
  /** Microseconds since the epoch (exact over Timestamp's whole range, hence a bigint). */
  timeUs: bigint;
  loggerName: string;
  message: string;
  caller: JsonObject | undefined;
  stack: string;
  fields: JsonObject[];
}

/** A stored entry: `seq` is its arrival order (unique, increasing). */
export interface StoredLogEntry extends NewLogEntry {
  seq: number;
}

/**
 * A stored entry as its table holds it (both dialects): `caller` and `fields` are JSON text.
 * Only the dialect stores see it; they turn it into entries with `decodeLogRow`.
 */
export interface LogRow {
  seq: number;
  host: string;
  level: LogLevel;
  timeUs: bigint;
  loggerName: string;
  message: string;
  caller: string | null;
  stack: string;
  fields: string;
}

/*
 * The one place log entries meet JSON text. Entries are encoded column by column, so the SQLite
 * store writes straight into the flat arrays its writer takes and PostgreSQL into its insert
 * values, with no object in between.
 */

/** The `caller` column of an entry: JSON text, or null when the entry has none. */
export function encodeLogCaller(caller: JsonObject | undefined): string | null {
  return caller === undefined ? null : JSON.stringify(caller);
}

/** The `fields` column of an entry: JSON text. */
export function encodeLogFields(fields: readonly JsonObject[]): string {
  return JSON.stringify(fields);
}

/**
 * A stored entry as a read would give it back, built from the entry `append` was given (the
 * SQLite feed hands those on rather than decode what it stored). JSON text carries every value
 * the request decoders admit exactly except -0, which it writes as 0: a caller or fields holding
 * one is copied through JSON, so tails see what reads see. Other entries keep their objects;
 * the check is one walk, copying nothing.
 */
export function storedLogEntry(entry: NewLogEntry, seq: number): StoredLogEntry {
  // Listed out: a spread here costs about as much as the rest of the feed.
  return {
    seq,
    host: entry.host,
    level: entry.level,
    timeUs: entry.timeUs,
    loggerName: entry.loggerName,
    message: entry.message,
    caller: holdsNegativeZero(entry.caller)
      ? (JSON.parse(JSON.stringify(entry.caller)) as JsonObject)
      : entry.caller,
    stack: entry.stack,
    fields: holdsNegativeZero(entry.fields)
      ? (JSON.parse(encodeLogFields(entry.fields)) as JsonObject[])
      : entry.fields,
  };
}

function holdsNegativeZero(value: unknown): boolean {
  if (typeof value === 'number') return Object.is(value, -0);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsNegativeZero(item)) return true;
    return false;
  }
  for (const key in value) if (holdsNegativeZero((value as JsonObject)[key])) return true;
  return false;
}

/** A row read back, as an entry. */
export function decodeLogRow(row: LogRow): StoredLogEntry {
  return {
    seq: row.seq,
    host: row.host,
    level: row.level,
    timeUs: row.timeUs,
    loggerName: row.loggerName,
    message: row.message,
    caller: row.caller ? (JSON.parse(row.caller) as JsonObject) : undefined,
    stack: row.stack,
    fields: JSON.parse(row.fields) as JsonObject[],
  };
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

/**
 * A batch of entries one Log call stored, as every replica learns of it. Every listener gets the
 * same array (decoded once, if at all), so what is built from it can be built once too.
 */
export interface AppendedLogs {
  partId: string;
  entries: readonly StoredLogEntry[];
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
   * Stores one call's entries, all or none. Resolves false (storing nothing) if the part does
   * not exist. The store may keep `entries` (SQLite hands them to its listeners once stored):
   * they must not change afterwards. (The call itself is recorded by the caller, written behind
   * like every machine call: see PartAccessLog.)
   */
  append(partId: string, entries: readonly NewLogEntry[]): Promise<boolean>;
  /** One page of a part's logs. */
  search(query: LogSearch): Promise<StoredLogEntry[]>;
  /**
   * Calls `listener` with every batch appended from now on, by this process or (PostgreSQL) by
   * any replica, for the parts `watched` says yes to. Returns the unsubscribe function.
   */
  onAppended(listener: (batch: AppendedLogs) => void, watched: (partId: string) => boolean): () => void;
  /**
   * Calls `handler` when batches from other replicas may have been missed (PostgreSQL: the
   * notification connection dropped). Absent: the feed cannot be interrupted (SQLite).
   */
  onFeedLost?(handler: () => void): () => void;
  /** False while batches from other replicas cannot be heard (PostgreSQL); absent: always heard. */
  feedConnected?(): boolean;
  /**
   * Writes machines' last calls (see PartAccessLog) where that costs the event loop nothing: on
   * SQLite the log writer's thread does it with its own commits. Absent: the caller writes them.
   */
  writeAccess?(rows: readonly AccessRow[]): Promise<void>;
  /** Stops background work and closes the store's own connections. */
  close(): Promise<void>;
}

/** One part's last call, as written: its id, the time, and its agent info as JSON (or null). */
export type AccessRow = [partId: string, at: string, agentInfo: string | null];
