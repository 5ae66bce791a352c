import type { FleetPrincipal, PartPrincipal } from '../authz/principal.js';
import { invalidArgument, notFound } from '../domain/errors.js';
import {
  decodeLogPageToken,
  encodeLogPageToken,
  fitLogEntry,
  logFilterOf,
  logLevelOf,
  messageFilter,
  selectedLevels,
} from '../domain/log-query.js';
import type { LogEntry, PushedLogEntry } from '../domain/models.js';
import { MAX_REPLY_ENTRY_BYTES, ReplyBudget } from '../domain/reply-budget.js';
import { requireId } from '../domain/validation.js';
import { nowIso } from '../store/db.js';
import type { NewLogEntry, PartLogStore, StoredLogEntry } from '../store/part-log-store.js';
import type { ServiceDeps } from './context.js';
import type { LogTailHub } from './log-tail-hub.js';
import type { IngestedLogEntry } from './alert-service.js';

/** Most log entries one Log call may carry. */
export const MAX_LOG_BATCH = 1000;
/** Most entries one page of GetRobotPartLogs holds (and what it holds when no limit is given). */
export const MAX_LOG_PAGE = 100;

/** A read of a part's logs, as GetRobotPartLogs asks for it. */
export interface LogPageRequest {
  partId: string;
  filter: string | undefined;
  levels: readonly string[];
  errorsOnly: boolean;
  pageToken: string | undefined;
  /** Inclusive, microseconds since the epoch. */
  startUs: bigint | undefined;
  /** Exclusive, microseconds since the epoch. */
  endUs: bigint | undefined;
  limit: number | undefined;
}

export interface LogPage {
  entries: LogEntry[];
  /** Empty on the last page. */
  nextPageToken: string;
}

export interface TailRequest {
  partId: string;
  errorsOnly: boolean;
  filter: string | undefined;
}

/**
 * Machine logs: what parts push, reading them back a page at a time, and following them live.
 * Reading and tailing need `read_robot_logs` on the part's machine.
 */
export class PartLogService {
  private stored = 0;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly store: PartLogStore,
    private readonly hub: LogTailHub,
    /** Hears every stored batch for machine alerts; it only queues work (no I/O on this path). */
    private readonly alerts?: { logsStored(partId: string, entries: readonly IngestedLogEntry[]): void },
  ) {}

  /** Entries this process stored for parts since it started (metrics read it when scraped). */
  get entriesStored(): number {
    return this.stored;
  }

  /** Live tails open right now in this process. */
  get openTails(): number {
    return this.hub.openTails;
  }

  /**
   * Stores a batch a part pushed, all or none; an unknown level refuses the whole batch. An
   * entry sent without a time gets the server's.
   */
  async ingest(principal: PartPrincipal, entries: readonly PushedLogEntry[]): Promise<void> {
    const nowUs = BigInt(Date.now()) * 1000n;
    if (entries.length > MAX_LOG_BATCH)
      throw invalidArgument(`a Log call carries at most ${MAX_LOG_BATCH} entries, got ${entries.length}`);
    const checked = entries.map((e, i): NewLogEntry => {
      const level = logLevelOf(e.level);
      if (!level) throw invalidArgument(`logs[${i}].level: unknown level "${e.level}"`);
      return {
        host: e.host,
        level,
        timeUs: e.timeUs ?? nowUs,
        loggerName: e.loggerName,
        message: e.message,
        caller: e.caller,
        stack: e.stack,
        fields: e.fields,
      };
    });
    if (!(await this.store.append(principal.id, checked))) throw notFound('part not found');
    this.alerts?.logsStored(principal.id, checked);
    this.stored += checked.length;
    // Recorded once stored, like the other machine calls, written behind (see PartAccessLog).
    this.deps.repos.parts.recordAccess(principal.id, nowIso(), undefined);
  }

  /**
   * One page, newest first; the token resumes strictly after the page's last entry. A page holds
   * at most `limit` entries and stops before REPLY_BUDGET_BYTES.
   */
  async page(principal: FleetPrincipal, req: LogPageRequest): Promise<LogPage> {
    const partId = requireId(req.partId, 'id');
    if (req.limit !== undefined && req.limit < 0) throw invalidArgument('limit must not be negative');
    const limit = Math.min(req.limit || MAX_LOG_PAGE, MAX_LOG_PAGE);
    const levels = selectedLevels(req.levels, req.errorsOnly);
    const before = req.pageToken ? decodeLogPageToken(req.pageToken) : undefined;
    const filter = logFilterOf(req.filter);
    await this.authorize(principal, partId);
    if (levels?.length === 0) return { entries: [], nextPageToken: '' };
    const found = await this.store.search({
      partId,
      levels,
      startUs: req.startUs,
      endUs: req.endUs,
      filter,
      before,
      limit: limit + 1,
    });
    // The page also ends before the reply would outgrow the budget; an entry too large for any
    // reply is cut down (fitLogEntry), so every page holds at least one.
    const budget = new ReplyBudget();
    const entries: LogEntry[] = [];
    let last: StoredLogEntry | undefined;
    for (const entry of found.slice(0, limit)) {
      const fitted = fitLogEntry(entry, MAX_REPLY_ENTRY_BYTES);
      if (!budget.take(fitted.bytes)) break;
      entries.push(fitted.entry);
      last = entry;
    }
    return {
      entries,
      nextPageToken: entries.length < found.length && last ? encodeLogPageToken(last) : '',
    };
  }

  /**
   * Follows a part's logs: first an empty batch once the tail is in place (everything stored
   * after that is delivered), then each stored batch's matching entries. Ends when `signal`
   * aborts or the server closes; RESOURCE_EXHAUSTED if the client falls too far behind, which
   * `onOverflow` hears at once (the client may never pull again to see the error).
   */
  async *tail(
    principal: FleetPrincipal,
    req: TailRequest,
    signal: AbortSignal,
    onOverflow?: () => void,
  ): AsyncGenerator<readonly LogEntry[]> {
    const partId = requireId(req.partId, 'id');
    const levels = selectedLevels([], req.errorsOnly);
    const filter = logFilterOf(req.filter);
    const matchesMessage = filter ? messageFilter(filter) : () => true;
    await this.authorize(principal, partId);
    if (signal.aborted) return;
    const tail = this.hub.open(
      partId,
      (entry) => (!levels || levels.includes(entry.level)) && matchesMessage(entry.message),
      onOverflow,
    );
    const end = () => tail.end();
    signal.addEventListener('abort', end);
    try {
      yield [];
      // The store's entries go out as they are, so tails receiving the same batch share its
      // array and the handler encodes it once for them all.
      for (let batch = await tail.next(); batch; batch = await tail.next()) yield batch;
    } finally {
      signal.removeEventListener('abort', end);
      tail.end();
    }
  }

  private async authorize(principal: FleetPrincipal, partId: string): Promise<void> {
    const { db, authz } = this.deps;
    await authz.require(db, principal, { type: 'part', id: partId }, 'read_robot_logs');
  }
}
