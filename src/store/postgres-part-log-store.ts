import { sql, type Kysely } from 'kysely';
import { likePatternFor, type LogCursor } from '../domain/log-query.js';
import { PARTS_WITH_LOGS, enforceRetention, type RetentionOps } from './log-retention.js';
import {
  decodeLogRow,
  encodeLogCaller,
  encodeLogFields,
  type AppendedLogs,
  type LogRetention,
  type LogRow,
  type LogSearch,
  type NewLogEntry,
  type PartLogStore,
  type StoredLogEntry,
} from './part-log-store.js';
import type { Database } from './schema.js';
import { isForeignKeyViolation } from './db.js';
import { ADVISORY_LOCKS, ifAdvisoryLockFree } from './advisory-lock.js';
import type { PostgresNotifications } from './postgres-notifications.js';

/** The channel every replica listens on; a payload names a part and the seq range one call stored. */
export const LOGS_CHANNEL = 'flotilla_part_logs';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

type Listener = { notify: (batch: AppendedLogs) => void; watched: (partId: string) => boolean };

/**
 * Logs on PostgreSQL: one transaction per Log call; substring search through the pg_trgm GIN
 * index; and live tails across replicas: each call NOTIFYs the part and the seq range it stored
 * (delivered at commit, in commit order), and each replica, hearing it on its notification
 * connection, reads that range back for the parts its tails watch. Retention runs on one replica
 * at a time (an advisory lock).
 */
export class PostgresPartLogStore implements PartLogStore, RetentionOps {
  private readonly listeners = new Set<Listener>();
  private readonly feedLost = new Set<() => void>();
  private readonly stopHearing: (() => void)[];
  private delivery: Promise<void> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRunning: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly notifications: PostgresNotifications,
    private readonly retention: LogRetention,
    private readonly onError: (message: string) => void,
  ) {
    this.stopHearing = [
      notifications.on(LOGS_CHANNEL, (payload) => this.received(payload)),
      // Batches stored while the connection was down were never heard: tails would miss them.
      notifications.onConnection((connected) => {
        if (!connected) for (const lost of this.feedLost) lost();
      }),
    ];
    this.scheduleRetention(Math.min(retention.intervalMs, 1000));
  }

  async append(partId: string, entries: readonly NewLogEntry[]): Promise<boolean> {
    if (entries.length === 0) {
      const part = await this.db
        .selectFrom('robot_parts')
        .select('id')
        .where('id', '=', partId)
        .executeTakeFirst();
      return part !== undefined;
    }
    try {
      return await this.db.transaction().execute(async (trx) => {
        const stored = await trx
          .insertInto('part_logs')
          .values(
            entries.map((e) => ({
              part_id: partId,
              host: e.host,
              level: e.level,
              time_us: e.timeUs,
              logger_name: e.loggerName,
              message: e.message,
              caller: encodeLogCaller(e.caller),
              stack: e.stack,
              fields: encodeLogFields(e.fields),
            })),
          )
          .returning('seq')
          .execute();
        const seqs = stored.map((s) => Number(s.seq));
        await sql`select pg_notify(${LOGS_CHANNEL}, ${`${partId} ${Math.min(...seqs)} ${Math.max(...seqs)}`})`.execute(
          trx,
        );
        return true;
      });
    } catch (error) {
      // The part is gone (its foreign key says so): nothing was stored.
      if (isForeignKeyViolation(error)) return false;
      throw error;
    }
  }

  async search(q: LogSearch): Promise<StoredLogEntry[]> {
    let query = this.selectRows().where('part_id', '=', q.partId);
    if (q.levels) query = query.where('level', 'in', q.levels.length > 0 ? [...q.levels] : ['']);
    if (q.startUs !== undefined) query = query.where('time_us', '>=', q.startUs);
    if (q.endUs !== undefined) query = query.where('time_us', '<', q.endUs);
    const before = q.before;
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('time_us', '<', before.timeUs),
          eb.and([eb('time_us', '=', before.timeUs), eb('seq', '<', before.seq)]),
        ]),
      );
    }
    if (q.filter) {
      // ILIKE lets the trigram index find candidates; it also folds non-ASCII letters, so the
      // second test keeps the rule every path follows: only A-Z match regardless of case.
      const pattern = likePatternFor(q.filter);
      query = query.where(
        sql<boolean>`message ilike ${pattern} and translate(message, ${UPPER}, ${LOWER}) like translate(${pattern}, ${UPPER}, ${LOWER})`,
      );
    }
    return entriesOf(await query.orderBy('time_us', 'desc').orderBy('seq', 'desc').limit(q.limit).execute());
  }

  onAppended(notify: (batch: AppendedLogs) => void, watched: (partId: string) => boolean): () => void {
    const listener = { notify, watched };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  feedConnected(): boolean {
    return this.notifications.connected;
  }

  onFeedLost(handler: () => void): () => void {
    this.feedLost.add(handler);
    return () => this.feedLost.delete(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retentionTimer);
    for (const stop of this.stopHearing) stop();
    await this.retentionRunning;
    await this.delivery;
  }

  // ---- retention ----

  async partIds(): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`${sql.raw(PARTS_WITH_LOGS)}`.execute(this.db);
    return rows.map((r) => r.id);
  }

  async firstBeyond(partId: string, keep: number): Promise<LogCursor | undefined> {
    const row = await this.db
      .selectFrom('part_logs')
      .select([timeUsText, 'seq'])
      .where('part_id', '=', partId)
      .orderBy('time_us', 'desc')
      .orderBy('seq', 'desc')
      .offset(keep)
      .limit(1)
      .executeTakeFirst();
    return row && { timeUs: BigInt(row.timeUs), seq: row.seq };
  }

  async deleteThrough(partId: string, through: LogCursor, max: number): Promise<number> {
    const gone = await this.db
      .deleteFrom('part_logs')
      .where('seq', 'in', (eb) =>
        eb
          .selectFrom('part_logs')
          .select('seq')
          .where('part_id', '=', partId)
          .where((w) =>
            w.or([
              w('time_us', '<', through.timeUs),
              w.and([w('time_us', '=', through.timeUs), w('seq', '<=', through.seq)]),
            ]),
          )
          .orderBy('time_us')
          .orderBy('seq')
          .limit(max),
      )
      .executeTakeFirst();
    return Number(gone.numDeletedRows);
  }

  private scheduleRetention(delayMs: number): void {
    if (this.closed) return;
    this.retentionTimer = setTimeout(() => {
      this.retentionRunning = ifAdvisoryLockFree(this.db, ADVISORY_LOCKS.logRetention, async () => {
        await enforceRetention(this, this.retention, Date.now() * 1000, () =>
          this.closed ? Promise.reject(new Error('closing')) : Promise.resolve(),
        );
      })
        .then(() => undefined)
        .catch((error: unknown) => {
          if (!this.closed) this.onError(`log retention failed: ${messageOf(error)}`);
        })
        .finally(() => {
          this.retentionRunning = undefined;
          this.scheduleRetention(this.retention.intervalMs);
        });
    }, delayMs);
    this.retentionTimer.unref();
  }

  // ---- the feed of appended logs ----

  /** Rows as stored, the time still as text (see entriesOf). */
  private selectRows() {
    return this.db
      .selectFrom('part_logs')
      .select([
        'seq',
        'host',
        'level',
        timeUsText,
        'logger_name as loggerName',
        'message',
        'caller',
        'stack',
        'fields',
      ])
      .$castTo<TextTimeRow>();
  }

  /**
   * Reads back the range a notification names, in notification order, if anyone watches the part.
   * The rows are decoded once, and every listener gets the same batch.
   */
  private received(payload: string): void {
    const [partId = '', first, last] = payload.split(' ');
    const watchers = [...this.listeners].filter((l) => l.watched(partId));
    if (watchers.length === 0) return;
    this.delivery = this.delivery.then(async () => {
      try {
        const entries = entriesOf(
          await this.selectRows()
            .where('part_id', '=', partId)
            .where('seq', '>=', Number(first))
            .where('seq', '<=', Number(last))
            .orderBy('seq')
            .execute(),
        );
        const batch: AppendedLogs = { partId, entries };
        for (const listener of watchers) listener.notify(batch);
      } catch (error) {
        if (!this.closed) this.onError(`log feed read failed: ${messageOf(error)}`);
      }
    });
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The time, read as text: the driver parses int8 as a number for the other tables (database.ts),
 * which would round times beyond 2^53 microseconds (about ±285 years around 1970).
 */
const timeUsText = sql<string>`time_us::text`.as('timeUs');

type TextTimeRow = Omit<LogRow, 'timeUs'> & { timeUs: string };

/** Rows as entries, their times exact bigints. */
function entriesOf(rows: TextTimeRow[]): StoredLogEntry[] {
  for (const row of rows) (row as unknown as LogRow).timeUs = BigInt(row.timeUs);
  return (rows as unknown as LogRow[]).map(decodeLogRow);
}
