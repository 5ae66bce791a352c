import { Timestamp } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { commonApi } from '@viamrobotics/sdk';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError, type Session } from '../connection.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { useColour } from '../output.js';
import { isoOf } from '../values.js';

/** The levels viam-server's logger emits. */
const LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const;
/** Most entries GetRobotPartLogs returns in one page. */
const PAGE_SIZE = 100;
/** Entries shown without --count: a page of history, or the last few lines before a tail. */
const DEFAULT_COUNT = 100;
const DEFAULT_TAIL_COUNT = 10;

/** A log entry as `--format json` prints it. */
export interface LogLine {
  time: string;
  level: string;
  loggerName: string;
  message: string;
  caller: unknown;
  fields: unknown[];
  host: string;
  stack: string;
}

export interface LogOptions {
  levels?: string;
  keyword?: string;
  start?: string;
  end?: string;
  count?: number;
  tail?: boolean;
  format?: 'text' | 'json';
}

const parseCount = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('must be a positive whole number');
  }
  return Number(value);
};

/** Adds the flags of `machines logs` and `machines part logs`. */
export function logFlags(command: Command): Command {
  return command
    .option('--levels <levels>', `only these levels, comma-separated (${LEVELS.join(', ')})`)
    .option('--keyword <text>', 'only entries whose message contains this text (any case)')
    .option('--start <time>', 'only entries at or after this ISO-8601 time (e.g. 2026-01-15T14:00:00Z)')
    .option('--end <time>', 'only entries before this ISO-8601 time')
    .addOption(
      new Option(
        '--count <n>',
        `most entries to show (default: ${DEFAULT_COUNT}; with --tail, ${DEFAULT_TAIL_COUNT} before following)`,
      ).argParser(parseCount),
    )
    .option('-f, --tail', 'follow the logs: print entries as they arrive, until Ctrl-C')
    .addOption(
      new Option('--format <format>', 'text lines, or JSON (NDJSON with --tail; default: text)').choices([
        'text',
        'json',
      ]),
    );
}

function levelsOf(value: string | undefined): string[] {
  if (value === undefined) return [];
  const levels = value
    .split(',')
    .map((l) => l.trim().toLowerCase())
    .filter((l) => l !== '');
  for (const level of levels) {
    if (!(LEVELS as readonly string[]).includes(level)) {
      throw new UsageError(`--levels: unknown level "${level}" (known: ${LEVELS.join(', ')})`);
    }
  }
  return [...new Set(levels)];
}

function timeOf(value: string | undefined, flag: string): Timestamp | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new UsageError(`${flag} must be an ISO-8601 time, such as 2026-01-15T14:00:00Z`);
  return Timestamp.fromDate(new Date(ms));
}

export const logLineOf = (e: commonApi.LogEntry): LogLine => ({
  time: isoOf(e.time),
  level: e.level,
  loggerName: e.loggerName,
  message: e.message,
  caller: e.caller ? e.caller.toJson() : null,
  fields: e.fields.map((f) => f.toJson()),
  host: e.host,
  stack: e.stack,
});

const COLOURS: Record<string, string> = {
  debug: '\u001b[2m',
  info: '\u001b[32m',
  warn: '\u001b[33m',
  error: '\u001b[31m',
  dpanic: '\u001b[1;31m',
  panic: '\u001b[1;31m',
  fatal: '\u001b[1;31m',
};

/** A level as a text line shows it: upper case, padded, coloured when `colour` says so. */
export function levelText(level: string, colour: boolean): string {
  const shown = level.toUpperCase().padEnd(5);
  const code = COLOURS[level.toLowerCase()];
  return colour && code ? `${code}${shown}\u001b[0m` : shown;
}

/** One entry as one text line: `time  LEVEL  logger  message`. */
export const textLine = (l: LogLine, colour: boolean): string =>
  `${l.time}  ${levelText(l.level, colour)}  ${l.loggerName}  ${l.message}`;

/** Entries of a part, newest first, until `count` or the last page. */
async function readPage(
  s: Session,
  partId: string,
  query: { filter: string | undefined; levels: string[]; start?: Timestamp; end?: Timestamp },
  count: number,
): Promise<commonApi.LogEntry[]> {
  const entries: commonApi.LogEntry[] = [];
  let pageToken: string | undefined;
  while (entries.length < count) {
    const page = await s.app.getRobotPartLogs({
      id: partId,
      errorsOnly: false,
      filter: query.filter,
      levels: query.levels,
      start: query.start,
      end: query.end,
      pageToken,
      limit: BigInt(Math.min(count - entries.length, PAGE_SIZE)),
    });
    entries.push(...page.logs.slice(0, count - entries.length));
    if (page.nextPageToken === '' || page.logs.length === 0) break;
    pageToken = page.nextPageToken;
  }
  return entries;
}

/** What tells two deliveries of one entry apart from two entries (the page and the tail overlap). */
const keyOf = (e: commonApi.LogEntry) =>
  JSON.stringify([e.time?.seconds.toString(), e.time?.nanos, e.level, e.loggerName, e.host, e.message]);

/**
 * Prints a part's logs: a page (oldest first), then with --tail every entry that arrives until
 * SIGINT or SIGTERM, after which the command ends normally (exit 0).
 */
export async function printLogs(
  ctx: CliContext,
  command: Command,
  s: Session,
  partId: string,
  options: LogOptions,
): Promise<void> {
  const json =
    options.format === 'json' ||
    (options.format === undefined && command.optsWithGlobals<GlobalOptions>().json === true);
  const colour = useColour(ctx.env, ctx.isTty);
  const levels = levelsOf(options.levels);
  const filter = options.keyword === undefined || options.keyword === '' ? undefined : options.keyword;
  const query = {
    filter,
    levels,
    start: timeOf(options.start, '--start'),
    end: timeOf(options.end, '--end'),
  };
  if (!options.tail) {
    const lines = (await readPage(s, partId, query, options.count ?? DEFAULT_COUNT)).reverse().map(logLineOf);
    if (json) ctx.io.out(`${JSON.stringify(lines, null, 2)}\n`);
    else if (lines.length === 0) ctx.io.err('no log entries\n');
    else ctx.io.out(lines.map((l) => `${textLine(l, colour)}\n`).join(''));
    return;
  }

  const print = (e: commonApi.LogEntry) => {
    const line = logLineOf(e);
    ctx.io.out(json ? `${JSON.stringify(line)}\n` : `${textLine(line, colour)}\n`);
  };
  // The tail stops cleanly on Ctrl-C (and SIGTERM): the stream is cancelled, the command returns.
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const stream = s.app.tailRobotPartLogs(
      { id: partId, errorsOnly: false, filter },
      { signal: controller.signal },
    );
    const replies = stream[Symbol.asyncIterator]();
    // Flotilla's first reply is an empty batch, sent once the tail is in place: the page read
    // after it misses nothing, and entries in both are printed once.
    const first = await replies.next();
    const shown = new Set<string>();
    for (const e of (await readPage(s, partId, query, options.count ?? DEFAULT_TAIL_COUNT)).reverse()) {
      shown.add(keyOf(e));
      print(e);
    }
    const wanted = (e: commonApi.LogEntry) => levels.length === 0 || levels.includes(e.level.toLowerCase());
    const deliver = (logs: readonly commonApi.LogEntry[]) => {
      for (const e of logs) {
        if (shown.size > 0 && shown.delete(keyOf(e))) continue;
        if (wanted(e)) print(e);
      }
    };
    if (!first.done) deliver(first.value.logs);
    for (let r = first.done ? first : await replies.next(); !r.done; r = await replies.next()) {
      deliver(r.value.logs);
    }
    // Only Ctrl-C ends a tail well; the server closing it (it stopped) is a failure.
    if (!controller.signal.aborted) throw new Error('the server ended the log stream');
  } catch (error) {
    if (controller.signal.aborted && (!(error instanceof ConnectError) || error.code === Code.Canceled))
      return;
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
