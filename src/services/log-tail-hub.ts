import { resourceExhausted, unavailable, type DomainError } from '../domain/errors.js';
import type { AppendedLogs, PartLogStore, StoredLogEntry } from '../store/part-log-store.js';

/** Which new entries a tail wants. */
export type TailMatcher = (entry: StoredLogEntry) => boolean;

/**
 * One live tail: a bounded queue of the batches stored for its part since it opened. The store
 * pushes without ever waiting; the stream pulls at the client's pace. A tail whose waiting
 * entries would exceed its bound is dropped (the queue freed at once) and ends with RESOURCE_EXHAUSTED at its
 * next pull, so a slow client costs nobody else anything. A client that reads nothing never
 * pulls again, so the drop is also reported to `onOverflow`, which ends the stream regardless.
 */
export class LogTail {
  private readonly queue: (readonly StoredLogEntry[])[] = [];
  private queued = 0;
  private state: 'open' | 'overflowed' | 'ended' = 'open';
  private failure: DomainError | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly matches: TailMatcher,
    private readonly limit: number,
    private readonly detach: (tail: LogTail) => void,
    private readonly onOverflow: (() => void) | undefined = undefined,
  ) {}

  /** Called by the hub with each batch stored for the part. */
  offer(entries: readonly StoredLogEntry[]): void {
    if (this.state !== 'open') return;
    const filtered = entries.filter(this.matches);
    if (filtered.length === 0) return;
    // Tails that keep the whole batch share its array, so its reply is encoded once for them all.
    const wanted = filtered.length === entries.length ? entries : filtered;
    // An empty queue takes any one batch, so a tail that keeps up is never dropped for a batch
    // larger than its bound; at most the bound plus one batch waits.
    if (this.queued > 0 && this.queued + wanted.length > this.limit) {
      this.state = 'overflowed';
      this.queue.length = 0;
      this.queued = 0;
      this.detach(this);
      this.onOverflow?.();
    } else {
      this.queue.push(wanted);
      this.queued += wanted.length;
    }
    this.wake?.();
  }

  /** The next batch; undefined once the tail has ended (client gone, server closing). */
  async next(): Promise<readonly StoredLogEntry[] | undefined> {
    for (;;) {
      const batch = this.queue.shift();
      if (batch) {
        this.queued -= batch.length;
        return batch;
      }
      if (this.state === 'overflowed') {
        throw (
          this.failure ??
          resourceExhausted(
            `the tail fell more than ${this.limit} entries behind and was stopped; open a new one`,
          )
        );
      }
      if (this.state === 'ended') return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** Ends the tail with `error`, now: what is queued is dropped, since it may have gaps. */
  fail(error: DomainError): void {
    if (this.state !== 'open') return;
    this.state = 'overflowed';
    this.failure = error;
    this.queue.length = 0;
    this.queued = 0;
    this.detach(this);
    this.onOverflow?.();
    this.wake?.();
  }

  /** Ends the tail: a pending `next` resolves to undefined. Idempotent. */
  end(): void {
    if (this.state === 'open') this.state = 'ended';
    this.detach(this);
    this.wake?.();
  }
}

/**
 * Fans stored log batches out to the live tails of their part. Batches come from the log
 * store, which on PostgreSQL relays those stored by every replica.
 */
export class LogTailHub {
  private readonly tails = new Map<string, Set<LogTail>>();
  private readonly stopListening: (() => void)[];
  private closed = false;

  constructor(
    private readonly store: PartLogStore,
    /** Most entries a tail may have waiting for its client. */
    private readonly bufferLimit: number,
  ) {
    this.stopListening = [
      store.onAppended(
        (batch) => this.deliver(batch),
        (partId) => this.tails.has(partId),
      ),
      // A tail that may have missed entries ends rather than show a gap as if nothing happened.
      store.onFeedLost?.(() => this.failAll(feedLost())) ?? (() => {}),
    ];
  }

  /** Opens a tail on a part's new entries; `onOverflow` hears when it is dropped for falling behind. */
  open(partId: string, matches: TailMatcher, onOverflow?: () => void): LogTail {
    const tail = new LogTail(matches, this.bufferLimit, (t) => this.remove(partId, t), onOverflow);
    if (this.closed) {
      tail.end();
      return tail;
    }
    if (this.store.feedConnected?.() === false) {
      tail.fail(feedLost());
      return tail;
    }
    let set = this.tails.get(partId);
    if (!set) this.tails.set(partId, (set = new Set()));
    set.add(tail);
    return tail;
  }

  /** How many tails are open (for tests and diagnostics). */
  get openTails(): number {
    let n = 0;
    for (const set of this.tails.values()) n += set.size;
    return n;
  }

  /** Ends every tail; streams finish cleanly. */
  close(): void {
    this.closed = true;
    for (const stop of this.stopListening) stop();
    for (const set of [...this.tails.values()]) for (const tail of [...set]) tail.end();
  }

  private failAll(error: DomainError): void {
    for (const set of [...this.tails.values()]) for (const tail of [...set]) tail.fail(error);
  }

  private deliver(batch: AppendedLogs): void {
    const set = this.tails.get(batch.partId);
    if (!set) return;
    for (const tail of [...set]) tail.offer(batch.entries);
  }

  private remove(partId: string, tail: LogTail): void {
    const set = this.tails.get(partId);
    if (!set?.delete(tail)) return;
    if (set.size === 0) this.tails.delete(partId);
  }
}

const feedLost = () =>
  unavailable('the server cannot hear new logs from the database just now; open the tail again shortly');
