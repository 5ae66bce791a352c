import { invalidArgument } from './errors.js';
import type { LogEntry } from './models.js';
import { cutText, entryBytes, jsonBytes, omittedObject, structFieldBytes } from './reply-budget.js';
import { MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS } from './timestamp-range.js';

/** The levels viam-server's logger emits, stored lowercase, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What `errors_only` keeps: error and everything more severe. */
export const ERROR_LEVELS: readonly LogLevel[] = ['error', 'dpanic', 'panic', 'fatal'];

/** A level as stored (lowercase), or undefined if viam-server never emits it. */
export function logLevelOf(level: string): LogLevel | undefined {
  const lower = level.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(lower) ? (lower as LogLevel) : undefined;
}

/**
 * google.protobuf.Timestamp's range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z) in
 * microseconds since the epoch: every log time lies within it. Up to about ±2.5e17, beyond the
 * 2^53 a number holds exactly but well within a 64-bit integer column, so log times are bigints.
 */
export const MIN_LOG_TIME_US = BigInt(MIN_TIMESTAMP_SECONDS) * 1_000_000n;
export const MAX_LOG_TIME_US = BigInt(MAX_TIMESTAMP_SECONDS) * 1_000_000n + 999_999n;

/**
 * Where a page ends: the (time, arrival) of its last entry. The next page starts strictly
 * before it, so entries that arrive meanwhile never shift what later pages hold.
 */
export interface LogCursor {
  /** Microseconds since the epoch. */
  timeUs: bigint;
  seq: number;
}

/** The opaque page token for the page after `cursor`. */
export function encodeLogPageToken(cursor: LogCursor): string {
  return Buffer.from(`v1:${cursor.timeUs}:${cursor.seq}`).toString('base64url');
}

/** Reads a page token back; INVALID_ARGUMENT for anything this server did not hand out. */
export function decodeLogPageToken(token: string): LogCursor {
  const match = /^v1:(-?\d{1,18}):(\d{1,17})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  const timeUs = match?.[1] === undefined ? undefined : BigInt(match[1]);
  const seq = Number(match?.[2]);
  if (
    timeUs === undefined ||
    timeUs < MIN_LOG_TIME_US ||
    timeUs > MAX_LOG_TIME_US ||
    !Number.isSafeInteger(seq)
  ) {
    throw invalidArgument('page_token is not a token this server returned');
  }
  return { timeUs, seq };
}

/**
 * The levels a read or tail keeps: `errors_only` narrows to error and above; an explicit list
 * narrows further; undefined means every level. Unknown names are INVALID_ARGUMENT.
 */
export function selectedLevels(levels: readonly string[], errorsOnly: boolean): LogLevel[] | undefined {
  const named = levels.map((l, i) => {
    const level = logLevelOf(l);
    if (!level) throw invalidArgument(`levels[${i}]: unknown level "${l}"`);
    return level;
  });
  if (named.length === 0) return errorsOnly ? [...ERROR_LEVELS] : undefined;
  return errorsOnly ? named.filter((l) => ERROR_LEVELS.includes(l)) : [...new Set(named)];
}

/** Longest message filter accepted, in characters. */
export const MAX_LOG_FILTER_LENGTH = 1024;

/** A read's or tail's filter: undefined when empty; INVALID_ARGUMENT when too long. */
export function logFilterOf(filter: string | undefined): string | undefined {
  if (!filter) return undefined;
  if (filter.length > MAX_LOG_FILTER_LENGTH) {
    throw invalidArgument(`filter is longer than ${MAX_LOG_FILTER_LENGTH} characters`);
  }
  return filter;
}

/** Lowercases ASCII letters only: the folding SQL's LIKE applies, so every path agrees. */
const foldAscii = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * The message filter: a substring match that ignores the case of ASCII letters. The same rule
 * runs in SQL (LIKE) for stored logs and here for live tails.
 */
export function messageFilter(filter: string): (message: string) => boolean {
  const needle = foldAscii(filter);
  return (message) => foldAscii(message).includes(needle);
}

/** The LIKE pattern for a substring filter, with `\` as the escape character. */
export const likePatternFor = (filter: string): string => `%${filter.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** When an entry is too large for a reply: host and logger name are cut to this many bytes, */
const MAX_CUT_NAME_BYTES = 1024;
/** its caller is replaced by a note when its encoding is over this, */
const MAX_CUT_CALLER_BYTES = 16 * 1024;
/** its fields are kept, in order, while they add up to at most this (a note stands for the rest), */
const MAX_CUT_FIELDS_BYTES = 1024 * 1024;
/** its stack is cut to this, and its message gets whatever is left. */
const MAX_CUT_STACK_BYTES = 512 * 1024;

/** An entry of a GetRobotPartLogs reply, at most (see reply-budget.ts). */
export function logEntryBytes(entry: LogEntry): number {
  let payload = entry.caller ? structFieldBytes(entry.caller) : 0;
  for (const field of entry.fields) payload += structFieldBytes(field);
  return entryBytes(payload, entry.host, entry.level, entry.loggerName, entry.message, entry.stack);
}

/**
 * An entry that fits in `maxBytes` of a reply, with its size: itself when it fits, else a copy
 * cut down. Each part is cut only if large: host and logger name to 1 KiB, a caller over 16 KiB
 * replaced by a note, fields kept in order up to 1 MiB with a last field noting how many were
 * dropped, the stack to 512 KiB, and the message to what is left. Cut text ends with
 * "… [truncated by Flotilla: N bytes]", N being its original size.
 */
export function fitLogEntry(entry: LogEntry, maxBytes: number): { entry: LogEntry; bytes: number } {
  const bytes = logEntryBytes(entry);
  if (bytes <= maxBytes) return { entry, bytes };
  const why = 'the entry is too large for one reply';
  let caller = entry.caller;
  if (caller && structFieldBytes(caller) > MAX_CUT_CALLER_BYTES)
    caller = omittedObject('caller', jsonBytes(caller), why);
  const fields: Record<string, unknown>[] = [];
  let fieldBytes = 0;
  for (const field of entry.fields) {
    const size = structFieldBytes(field);
    if (fieldBytes + size > MAX_CUT_FIELDS_BYTES) break;
    fieldBytes += size;
    fields.push(field);
  }
  if (fields.length < entry.fields.length) {
    const dropped = entry.fields.slice(fields.length);
    fields.push({
      _truncated: `${dropped.length} of ${entry.fields.length} fields (${jsonBytes(dropped)} bytes) omitted by Flotilla: ${why}`,
    });
  }
  const cut: LogEntry = {
    ...entry,
    host: cutText(entry.host, MAX_CUT_NAME_BYTES),
    loggerName: cutText(entry.loggerName, MAX_CUT_NAME_BYTES),
    caller,
    stack: cutText(entry.stack, MAX_CUT_STACK_BYTES),
    fields,
    message: '',
  };
  cut.message = cutText(entry.message, maxBytes - logEntryBytes(cut));
  return { entry: cut, bytes: logEntryBytes(cut) };
}
