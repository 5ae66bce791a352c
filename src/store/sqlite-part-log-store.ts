import { Worker } from 'node:worker_threads';
import SQLite, { type Database as SqliteDatabase, type Statement } from 'better-sqlite3';
import { likePatternFor } from '../domain/log-query.js';
import {
  decodeLogRow,
  encodeLogCaller,
  encodeLogFields,
  storedLogEntry,
  type AccessRow,
  type AppendedLogs,
  type LogRetention,
  type LogRow,
  type LogSearch,
  type NewLogEntry,
  type PartLogStore,
  type StoredLogEntry,
} from './part-log-store.js';
import { prepareSearchFile, searchFileFor, trigramQueryFor } from './sqlite-log-search.js';
import type { SearchWorkerData, SearchWorkerMessage } from './sqlite-log-search-worker.js';
import {
  ROW_FIELDS,
  type AccessRequest,
  type AppendOutcome,
  type AppendRequest,
  type WriterMessage,
  type WriterWorkerData,
} from './sqlite-log-writer-protocol.js';

const COLUMNS =
  'seq, host, level, time_us as timeUs, logger_name as loggerName, message, caller, stack, fields';

/** How many of a part's newest entries a filtered read scans before asking the search index. */
const DENSE_WINDOW = 4000;

interface PendingAppend {
  partId: string;
  entries: readonly NewLogEntry[];
  resolve(stored: boolean): void;
  reject(error: unknown): void;
}

type Listener = { notify: (batch: AppendedLogs) => void; watched: (partId: string) => boolean };

/**
 * Logs on SQLite, with two worker threads so that the event loop never inserts, commits (fsync)
 * or indexes: the writer (`sqlite-log-writer-worker.ts`, group commit) and the search indexer
 * (`sqlite-log-search-worker.ts`, which also runs retention). Reads run here, on a connection of
 * their own with the search file attached: they are short, and the reply is built here anyway.
 */
export class SqlitePartLogStore implements PartLogStore {
  private readonly reader: SqliteDatabase;
  private readonly readStatements = new Map<string, Statement>();
  private readonly listeners = new Set<Listener>();
  private readonly pending = new Map<number, PendingAppend>();
  private nextCallId = 1;
  private writer: Worker | undefined;
  private indexer: Worker | undefined;
  private closed = false;

  constructor(
    mainFile: string,
    retention: LogRetention,
    private readonly onError: (message: string) => void,
  ) {
    this.reader = new SQLite(mainFile);
    this.reader.pragma('busy_timeout = 5000');
    const searchFile = searchFileFor(mainFile);
    const search = new SQLite(searchFile);
    try {
      prepareSearchFile(search, this.newestSeq());
    } finally {
      search.close();
    }
    this.reader.prepare('attach database ? as search').run(searchFile);
    this.reader.pragma('query_only = 1');
    this.startWriter({ mainFile });
    this.startIndexer({ mainFile, searchFile, retention, batchSize: 5000, idleMs: 50 });
  }

  append(partId: string, entries: readonly NewLogEntry[]): Promise<boolean> {
    const writer = this.writer;
    if (this.closed || !writer) return Promise.reject(new Error('the log store is not accepting writes'));
    // Encoded here, on the way to the writer; the entries themselves are kept for the feed.
    const values = new Array<string | bigint | null>(entries.length * ROW_FIELDS);
    entries.forEach((e, i) => {
      const at = i * ROW_FIELDS;
      values[at] = e.host;
      values[at + 1] = e.level;
      values[at + 2] = e.timeUs;
      values[at + 3] = e.loggerName;
      values[at + 4] = e.message;
      values[at + 5] = encodeLogCaller(e.caller);
      values[at + 6] = e.stack;
      values[at + 7] = encodeLogFields(e.fields);
    });
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      // Kept for the feed only while a tail watches the part: held until the writer confirms,
      // they would otherwise outlive the young generation under load, for nothing.
      const watched = [...this.listeners].some((l) => l.watched(partId));
      this.pending.set(id, { partId, entries: watched ? entries : [], resolve, reject });
      writer.postMessage({ type: 'append', id, partId, values } satisfies AppendRequest);
    });
  }

  /** Machines' last calls, written by the writer thread in its next group commit. */
  writeAccess(rows: readonly AccessRow[]): Promise<void> {
    const writer = this.writer;
    if (this.closed || !writer) return Promise.reject(new Error('the log store is not accepting writes'));
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { partId: '', entries: [], resolve: () => resolve(), reject });
      writer.postMessage({ type: 'access', id, rows: [...rows] } satisfies AccessRequest);
    });
  }

  search(query: LogSearch): Promise<StoredLogEntry[]> {
    return Promise.resolve(this.searchNow(query));
  }

  onAppended(notify: (batch: AppendedLogs) => void, watched: (partId: string) => boolean): () => void {
    const listener = { notify, watched };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The writer stores what it was sent before stopping.
    await stopWorker(this.writer, 10_000);
    this.writer = undefined;
    this.failPending(new Error('the log store closed'));
    await stopWorker(this.indexer, 5000);
    this.indexer = undefined;
    this.reader.close();
  }

  // ---- writes ----

  private startWriter(data: WriterWorkerData): void {
    const writer = spawnWorker('sqlite-log-writer-worker', data);
    this.writer = writer;
    writer.on('message', (message: WriterMessage) => {
      if (message.type === 'flushed') this.settle(message.outcomes);
    });
    writer.on('error', (error) => this.onError(`log writer failed: ${error.message}`));
    writer.on('exit', () => {
      if (this.writer !== writer || this.closed) return;
      // Crashed: what it had not confirmed may or may not be stored; those calls fail.
      this.writer = undefined;
      this.failPending(new Error('the log writer stopped'));
      this.startWriter(data);
    });
  }

  private settle(outcomes: AppendOutcome[]): void {
    for (const outcome of outcomes) {
      const call = this.pending.get(outcome.id);
      if (!call) continue;
      this.pending.delete(outcome.id);
      if ('error' in outcome) {
        call.reject(new Error(`storing logs failed: ${outcome.error}`));
        continue;
      }
      call.resolve(outcome.stored);
      if (outcome.stored && call.entries.length > 0)
        this.publish(call.partId, call.entries, outcome.firstSeq);
    }
  }

  private failPending(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /**
   * Hands a stored call's entries to the listeners watching its part (none: nothing is built).
   * They are the entries `append` was given, so nothing is decoded (see storedLogEntry); every
   * listener gets the same batch.
   */
  private publish(partId: string, stored: readonly NewLogEntry[], firstSeq: number): void {
    let batch: AppendedLogs | undefined;
    for (const listener of this.listeners) {
      if (!listener.watched(partId)) continue;
      batch ??= { partId, entries: stored.map((e, i) => storedLogEntry(e, firstSeq + i)) };
      try {
        listener.notify(batch);
      } catch (error) {
        this.onError(`log tail listener failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  // ---- reads ----

  private searchNow(q: LogSearch): StoredLogEntry[] {
    if (!q.filter) {
      const where = conditions(q, '');
      return this.all(
        `select ${COLUMNS} from part_logs where ${where.sql} order by time_us desc, seq desc limit ?`,
        [...where.params, q.limit],
      );
    }
    const like = likePatternFor(q.filter);
    const where = conditions(q, '');
    const trigrams = trigramQueryFor(q.filter);
    if (!trigrams) {
      // Too short for the trigram index: scan the part's entries, newest first.
      return this.all(
        `select ${COLUMNS} from part_logs where ${where.sql} and message like ? escape '\\'
         order by time_us desc, seq desc limit ?`,
        [...where.params, like, q.limit],
      );
    }
    // A frequent term is found quickest among the part's newest entries...
    const dense = this.all(
      `select * from (
         select ${COLUMNS} from part_logs where ${where.sql}
         order by time_us desc, seq desc limit ${DENSE_WINDOW}
       ) where message like ? escape '\\' order by timeUs desc, seq desc limit ?`,
      [...where.params, like, q.limit],
    );
    if (dense.length >= q.limit) return dense;
    // ...a rare one through the index (plus the entries it has not reached yet). The `+`
    // keeps SQLite from walking the part's index instead of the candidate list.
    const unindexed = conditions(q, '+');
    return this.reader.transaction(() => {
      const indexedThrough = this.reader
        .prepare('select indexed_through from search.search_state')
        .pluck()
        .get() as number;
      return this.all(
        `select ${COLUMNS} from part_logs
         where seq in (
           select rowid from search.log_search where log_search match ?
           union all
           select seq from part_logs not indexed where seq > ?
         )
         and ${unindexed.sql} and message like ? escape '\\'
         order by time_us desc, seq desc limit ?`,
        [trigrams, indexedThrough, ...unindexed.params, like, q.limit],
      );
    })();
  }

  private all(sql: string, params: unknown[]): StoredLogEntry[] {
    let statement = this.readStatements.get(sql);
    if (!statement) {
      // Integers come back as bigints, so times are exact over their whole range; seq, far
      // below 2^53, becomes a number again.
      statement = this.reader.prepare(sql).safeIntegers(true);
      this.readStatements.set(sql, statement);
    }
    const rows = statement.all(...params) as (Omit<LogRow, 'seq'> & { seq: number | bigint })[];
    for (const row of rows) row.seq = Number(row.seq);
    return (rows as LogRow[]).map(decodeLogRow);
  }

  private newestSeq(): number {
    return this.reader.prepare('select coalesce(max(seq), 0) from part_logs').pluck().get() as number;
  }

  // ---- the search indexer ----

  private startIndexer(data: SearchWorkerData): void {
    const indexer = spawnWorker('sqlite-log-search-worker', data);
    this.indexer = indexer;
    indexer.on('message', (message: SearchWorkerMessage) => {
      if (message.type === 'error') this.onError(`log search worker: ${message.message}`);
    });
    indexer.on('error', (error) => this.onError(`log search worker failed: ${error.message}`));
    indexer.on('exit', () => {
      if (this.indexer !== indexer || this.closed) return;
      // Crashed: the index stays where it was; a new worker picks up from its watermark.
      this.indexer = undefined;
      setTimeout(() => {
        if (!this.closed) this.startIndexer(data);
      }, 1000).unref();
    });
  }
}

/** Asks a worker to stop and waits for it to exit (terminating it after `graceMs`). */
async function stopWorker(worker: Worker | undefined, graceMs: number): Promise<void> {
  if (!worker) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage({ type: 'stop' });
  const timer = setTimeout(() => void worker.terminate(), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The WHERE clause of a read, without the message filter; `plus` keeps columns off indexes. */
function conditions(q: LogSearch, plus: '' | '+'): { sql: string; params: unknown[] } {
  const sql = [`${plus}part_id = ?`];
  const params: unknown[] = [q.partId];
  if (q.levels) {
    sql.push(`${plus}level in (${q.levels.map(() => '?').join(', ')})`);
    params.push(...q.levels);
  }
  if (q.startUs !== undefined) {
    sql.push(`${plus}time_us >= ?`);
    params.push(q.startUs);
  }
  if (q.endUs !== undefined) {
    sql.push(`${plus}time_us < ?`);
    params.push(q.endUs);
  }
  if (q.before) {
    sql.push(`(${plus}time_us < ? or (${plus}time_us = ? and seq < ?))`);
    params.push(q.before.timeUs, q.before.timeUs, q.before.seq);
  }
  return { sql: sql.join(' and '), params };
}

/**
 * Starts a worker from its compiled file, or, when running from TypeScript sources (tests, the
 * benchmark), through tsx's loader, which a worker does not inherit.
 */
function spawnWorker(name: string, data: object): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here), { workerData: data });
  const entry = JSON.stringify(new URL(`./${name}.ts`, here).href);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}
