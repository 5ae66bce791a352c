import { invalidArgument } from './errors.js';

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
 * Where a page ends: the (time, arrival) of its last entry. The next page starts strictly
 * before it, so entries that arrive meanwhile never shift what later pages hold.
 */
export interface LogCursor {
  timeUs: number;
  seq: number;
}

/** The opaque page token for the page after `cursor`. */
export function encodeLogPageToken(cursor: LogCursor): string {
  return Buffer.from(`v1:${cursor.timeUs}:${cursor.seq}`).toString('base64url');
}

/** Reads a page token back; INVALID_ARGUMENT for anything this server did not hand out. */
export function decodeLogPageToken(token: string): LogCursor {
  const match = /^v1:(-?\d{1,17}):(\d{1,17})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  const timeUs = Number(match?.[1]);
  const seq = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(timeUs) || !Number.isSafeInteger(seq)) {
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
