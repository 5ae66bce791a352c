import type { Database as SqliteDatabase } from 'better-sqlite3';
import type { LogCursor } from '../domain/log-query.js';
import { PARTS_WITH_LOGS, type RetentionOps } from './log-retention.js';

/*
 * SQLite's message search index. A trigram FTS5 index kept in step with every insert would cap
 * ingestion near 20k entries/s, so it lives off the write path: in a file of its own (its
 * writes never take the main database's lock), filled in batches by a worker thread that reads
 * new rows by `seq`. `search_state.indexed_through` says how far it got, committed with the
 * index rows. Reads use the index for entries up to there and scan the few newer ones, so an
 * entry is findable as soon as it is stored.
 *
 * The index is contentless, with `detail='none'` (half the cost of full detail): a match on
 * the filter's trigrams yields candidates, and the reader checks each with LIKE.
 */

/** The search index file beside the main database file. */
export const searchFileFor = (mainFile: string): string => mainFile.replace(/(\.sqlite)?$/, '-search.sqlite');

/** Creates the search schema if missing (idempotent), and starts over if it ran ahead of `newestSeq`. */
export function prepareSearchFile(search: SqliteDatabase, newestSeq: number): void {
  search.pragma('journal_mode = WAL');
  search.exec(`
    create virtual table if not exists log_search
      using fts5(message, content='', detail='none', tokenize='trigram');
    create table if not exists search_state (
      id integer primary key check (id = 1),
      indexed_through integer not null
    );
    insert or ignore into search_state (id, indexed_through) values (1, 0);
  `);
  const { indexed_through } = search.prepare('select indexed_through from search_state').get() as {
    indexed_through: number;
  };
  // An index ahead of the logs belongs to another database (a restored backup, say): rebuild.
  if (indexed_through > newestSeq) {
    search.exec(`delete from log_search; update search_state set indexed_through = 0;`);
  }
}

/** Most trigrams a search asks the index for: more narrow the candidates little and cost more. */
const MAX_QUERY_TRIGRAMS = 16;

/**
 * The FTS5 query for a substring: its distinct trigrams must all occur (a superset of the true
 * matches; LIKE decides). A long filter contributes at most MAX_QUERY_TRIGRAMS of them, spread
 * over its length. Undefined when the filter is too short for trigrams.
 */
export function trigramQueryFor(filter: string): string | undefined {
  const chars = [...filter];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  if (grams.size === 0) return undefined;
  const all = [...grams];
  const step = Math.max(1, all.length / MAX_QUERY_TRIGRAMS);
  const chosen =
    all.length <= MAX_QUERY_TRIGRAMS
      ? all
      : Array.from({ length: MAX_QUERY_TRIGRAMS }, (_, i) => all[Math.floor(i * step)] ?? '');
  return chosen.map((g) => `"${g.replace(/"/g, '""')}"`).join(' AND ');
}

/** The index maintenance the worker runs, on its own connections to both files. */
export class SearchIndexMaintainer implements RetentionOps {
  private readonly readNew;
  private readonly addToIndex;
  private readonly removeFromIndex;
  private readonly readWatermark;
  private readonly writeWatermark;
  private readonly listParts;
  private readonly beyond;
  private readonly deleteBatch;

  constructor(
    private readonly main: SqliteDatabase,
    private readonly search: SqliteDatabase,
  ) {
    this.readNew = main.prepare('select seq, message from part_logs where seq > ? order by seq limit ?');
    this.addToIndex = search.prepare('insert into log_search (rowid, message) values (?, ?)');
    this.removeFromIndex = search.prepare(
      `insert into log_search (log_search, rowid, message) values ('delete', ?, ?)`,
    );
    this.readWatermark = search.prepare('select indexed_through from search_state').pluck();
    this.writeWatermark = search.prepare('update search_state set indexed_through = ?');
    this.listParts = main.prepare(PARTS_WITH_LOGS).pluck();
    this.beyond = main
      .prepare(
        `select time_us as timeUs, seq from part_logs where part_id = ?
         order by time_us desc, seq desc limit 1 offset ?`,
      )
      .safeIntegers(true);
    this.deleteBatch = main.prepare(
      `delete from part_logs where seq in (
         select seq from part_logs
         where part_id = ? and (time_us < ? or (time_us = ? and seq <= ?))
         order by time_us, seq limit ?
       ) returning seq, message`,
    );
  }

  /** Indexes up to `max` stored entries not indexed yet; returns how many. */
  indexNext(max: number): number {
    const watermark = this.readWatermark.get() as number;
    const rows = this.readNew.all(watermark, max) as { seq: number; message: string }[];
    const last = rows.at(-1);
    if (!last) return 0;
    this.search.transaction(() => {
      for (const row of rows) this.addToIndex.run(row.seq, row.message);
      this.writeWatermark.run(last.seq);
    })();
    return rows.length;
  }

  partIds(): string[] {
    return this.listParts.all() as string[];
  }

  firstBeyond(partId: string, keep: number): LogCursor | undefined {
    const row = this.beyond.get(partId, keep) as { timeUs: bigint; seq: bigint } | undefined;
    return row && { timeUs: row.timeUs, seq: Number(row.seq) };
  }

  /** Deletes from the logs, then drops the deleted entries that were indexed from the index. */
  deleteThrough(partId: string, through: LogCursor, max: number): number {
    const gone = this.deleteBatch.all(partId, through.timeUs, through.timeUs, through.seq, max) as {
      seq: number;
      message: string;
    }[];
    if (gone.length > 0) {
      this.search.transaction(() => {
        const watermark = this.readWatermark.get() as number;
        for (const row of gone) if (row.seq <= watermark) this.removeFromIndex.run(row.seq, row.message);
      })();
    }
    return gone.length;
  }
}
