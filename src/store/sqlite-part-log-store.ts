import { Worker } from 'node:worker_threads';
import SQLite, { type Database as SqliteDatabase, type Statement } from 'better-sqlite3';
import { likePatternFor } from '../domain/log-query.js';
import type {
  AppendedLogs,
  LogRetention,
  LogRow,
  LogSearch,
  NewLogRow,
  PartLogStore,
  SearchIndexLag,
} from './part-log-store.js';
import { prepareSearchFile, searchFileFor, trigramQueryFor } from './sqlite-log-search.js';
import type { SearchWorkerData, SearchWorkerMessage } from './sqlite-log-search-worker.js';

const COLUMNS =
  'seq, host, level, time_us as timeUs, logger_name as loggerName, message, caller, stack, fields';

/** How many of a part's newest entries a filtered read scans before asking the search index. */
const DENSE_WINDOW = 4000;

interface PendingAppend {
  partId: string;
  seenAt: string;
  rows: readonly NewLogRow[];
  resolve(stored: boolean): void;
  reject(error: unknown): void;
}

type Listener = { notify: (batch: AppendedLogs) => void; watched: (partId: string) => boolean };

const isBusy = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'SQLITE_BUSY';

/**
 * Logs on SQLite. Writes go through a connection of their own with group commit: the Log calls
 * that arrive while a commit is being prepared share one transaction (and one fsync), each in a
 * savepoint so that one call's failure leaves the others stored. The writer never waits on a
 * lock: if another connection is mid-transaction it tries again a moment later, so the event
 * loop is never blocked. Reads use another connection with the search file attached; the
 * search index is filled by a worker thread (see `sqlite-log-search.ts`).
 */
export class SqlitePartLogStore implements PartLogStore {
  private readonly writer: SqliteDatabase;
  private readonly reader: SqliteDatabase;
  private readonly write: {
    begin: Statement;
    commit: Statement;
    rollback: Statement;
    savepoint: Statement;
    release: Statement;
    rollbackTo: Statement;
    touchPart: Statement;
    insert: Statement;
  };
  private readonly readStatements = new Map<string, Statement>();
  private readonly listeners = new Set<Listener>();
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private worker: Worker | undefined;
  private closed = false;

  constructor(
    private readonly mainFile: string,
    private readonly retention: LogRetention,
    private readonly onError: (message: string) => void,
  ) {
    this.writer = new SQLite(mainFile);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = FULL');
    this.writer.pragma('foreign_keys = ON');
    this.writer.pragma('busy_timeout = 0');
    this.write = {
      begin: this.writer.prepare('begin immediate'),
      commit: this.writer.prepare('commit'),
      rollback: this.writer.prepare('rollback'),
      savepoint: this.writer.prepare('savepoint log_call'),
      release: this.writer.prepare('release log_call'),
      rollbackTo: this.writer.prepare('rollback to log_call'),
      touchPart: this.writer.prepare('update robot_parts set last_access = ? where id = ?'),
      insert: this.writer.prepare(
        `insert into part_logs (part_id, host, level, time_us, logger_name, message, caller, stack, fields)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };

    const searchFile = searchFileFor(mainFile);
    const search = new SQLite(searchFile);
    try {
      prepareSearchFile(search, this.newestSeq());
    } finally {
      search.close();
    }
    this.reader = new SQLite(mainFile);
    this.reader.pragma('busy_timeout = 5000');
    this.reader.prepare('attach database ? as search').run(searchFile);
    this.reader.pragma('query_only = 1');
    this.startWorker({ mainFile, searchFile, retention, batchSize: 5000, idleMs: 50 });
  }

  append(partId: string, seenAt: string, rows: readonly NewLogRow[]): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('the log store is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ partId, seenAt, rows, resolve, reject });
      this.scheduleFlush(0);
    });
  }

  search(query: LogSearch): Promise<LogRow[]> {
    return Promise.resolve(this.searchNow(query));
  }

  onAppended(notify: (batch: AppendedLogs) => void, watched: (partId: string) => boolean): () => void {
    const listener = { notify, watched };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  searchIndexLag(): Promise<SearchIndexLag> {
    const indexedThroughSeq = this.reader
      .prepare('select indexed_through from search.search_state')
      .pluck()
      .get() as number;
    return Promise.resolve({ newestSeq: this.newestSeq(), indexedThroughSeq });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    for (const call of this.pending.splice(0)) call.reject(new Error('the log store is closed'));
    await this.stopWorker();
    this.reader.close();
    this.writer.close();
  }

  // ---- writes ----

  private scheduleFlush(delayMs: number): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs);
  }

  /** Commits every pending call in one transaction; retries shortly if the database is busy. */
  private flush(): void {
    if (this.pending.length === 0) return;
    const w = this.write;
    try {
      w.begin.run();
    } catch (error) {
      if (isBusy(error) && !this.closed) {
        this.scheduleFlush(2);
        return;
      }
      for (const call of this.pending.splice(0)) call.reject(error);
      return;
    }
    const calls = this.pending.splice(0);
    const outcomes: (LogRow[] | false | Error)[] = [];
    try {
      for (const call of calls) {
        w.savepoint.run();
        try {
          if (w.touchPart.run(call.seenAt, call.partId).changes === 0) {
            outcomes.push(false);
          } else {
            outcomes.push(call.rows.map((r) => ({ ...r, seq: this.insertRow(call.partId, r) })));
          }
        } catch (error) {
          w.rollbackTo.run();
          outcomes.push(error instanceof Error ? error : new Error(String(error)));
        }
        w.release.run();
      }
      w.commit.run();
    } catch (error) {
      if (this.writer.inTransaction) w.rollback.run();
      for (const call of calls) call.reject(error);
      return;
    }
    calls.forEach((call, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof Error) call.reject(outcome);
      else call.resolve(outcome !== false);
    });
    calls.forEach((call, i) => {
      const outcome = outcomes[i];
      if (Array.isArray(outcome) && outcome.length > 0) this.publish({ partId: call.partId, rows: outcome });
    });
  }

  private insertRow(partId: string, r: NewLogRow): number {
    const info = this.write.insert.run(
      partId,
      r.host,
      r.level,
      r.timeUs,
      r.loggerName,
      r.message,
      r.caller,
      r.stack,
      r.fields,
    );
    return Number(info.lastInsertRowid);
  }

  private publish(batch: AppendedLogs): void {
    for (const listener of this.listeners) {
      if (!listener.watched(batch.partId)) continue;
      try {
        listener.notify(batch);
      } catch (error) {
        this.onError(`log tail listener failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  // ---- reads ----

  private searchNow(q: LogSearch): LogRow[] {
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

  private all(sql: string, params: unknown[]): LogRow[] {
    let statement = this.readStatements.get(sql);
    if (!statement) {
      statement = this.reader.prepare(sql);
      this.readStatements.set(sql, statement);
    }
    return statement.all(...params) as LogRow[];
  }

  private newestSeq(): number {
    return (this.writer.prepare('select coalesce(max(seq), 0) from part_logs').pluck().get() as number) ?? 0;
  }

  // ---- the search worker ----

  private startWorker(data: SearchWorkerData): void {
    const worker = spawnSearchWorker(data);
    this.worker = worker;
    worker.on('message', (message: SearchWorkerMessage) => {
      if (message.type === 'error') this.onError(`log search worker: ${message.message}`);
    });
    worker.on('error', (error) => this.onError(`log search worker failed: ${error.message}`));
    worker.on('exit', () => {
      if (this.worker !== worker || this.closed) return;
      // Crashed: the index stays where it was; a new worker picks up from its watermark.
      this.worker = undefined;
      setTimeout(() => {
        if (!this.closed) this.startWorker(data);
      }, 1000).unref();
    });
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'stop' });
    const timer = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
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
 * Starts the worker from the compiled file, or, when running from TypeScript sources (tests,
 * the benchmark), through tsx's loader, which a worker does not inherit.
 */
function spawnSearchWorker(data: SearchWorkerData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    return new Worker(new URL('./sqlite-log-search-worker.js', here), { workerData: data });
  }
  const entry = JSON.stringify(new URL('./sqlite-log-search-worker.ts', here).href);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}
