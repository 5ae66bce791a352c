import type { StoredAgentInfo } from './records.js';

/** What is waiting to be written for one part: its latest call, and what its agent last said. */
export interface PendingAccess {
  at: string;
  agentInfo: StoredAgentInfo | undefined;
}

/** Parts written per transaction, so one flush never holds the database for long. */
const FLUSH_CHUNK = 500;

/**
 * When each part last called, written behind: machines call every few seconds, and a write per
 * call would cost more than the call. Calls are coalesced per part in memory and written in
 * batches (`flush`, run on a timer by the server and once more at shutdown). Reads of a part
 * see what is pending (`PartRepository` overlays it), so nothing looks older than it is here.
 */
export class PartAccessLog {
  private pending = new Map<string, PendingAccess>();
  private flushing: Promise<void> | undefined;
  /** When each part last called (performance.now()), oldest first; only once `rememberCallers` ran. */
  private recent: Map<string, number> | undefined;

  /** Records a call; `agentInfo` undefined keeps what the agent said before. */
  record(partId: string, at: string, agentInfo: StoredAgentInfo | undefined): void {
    const before = this.pending.get(partId);
    this.pending.set(partId, { at, agentInfo: agentInfo ?? before?.agentInfo });
    if (this.recent) {
      // Moved to the end, so the map stays ordered by last call.
      this.recent.delete(partId);
      this.recent.set(partId, performance.now());
    }
  }

  /**
   * Starts remembering which parts called when, for `callersWithin` (metrics ask; nothing else
   * does, so it costs nothing until then). Idempotent.
   */
  rememberCallers(): void {
    this.recent ??= new Map();
  }

  /**
   * How many distinct parts called in the last `ms` milliseconds (0 unless `rememberCallers`
   * ran). Forgets the older ones, so the cost is that of the calls since the last count.
   */
  callersWithin(ms: number): number {
    const recent = this.recent;
    if (!recent) return 0;
    const since = performance.now() - ms;
    for (const [partId, at] of recent) {
      if (at >= since) break;
      recent.delete(partId);
    }
    return recent.size;
  }

  /** What is waiting for this part, if anything. */
  pendingFor(partId: string): PendingAccess | undefined {
    return this.pending.get(partId);
  }

  /**
   * Writes everything waiting, `write` called once per chunk (one transaction each). Calls that
   * arrive meanwhile wait for the next flush. A chunk that fails is kept for the next flush
   * (unless newer calls replaced it), and the error is thrown once the other chunks are written.
   */
  flush(write: (chunk: readonly (readonly [string, PendingAccess])[]) => Promise<void>): Promise<void> {
    this.flushing ??= this.writeAll(write).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeAll(
    write: (chunk: readonly (readonly [string, PendingAccess])[]) => Promise<void>,
  ): Promise<void> {
    const batch = [...this.pending];
    if (batch.length === 0) return;
    // Entries stay visible to reads until written; newer calls meanwhile replace them.
    let failure: Error | undefined;
    for (let i = 0; i < batch.length; i += FLUSH_CHUNK) {
      const chunk = batch.slice(i, i + FLUSH_CHUNK);
      try {
        await write(chunk);
        for (const [partId, access] of chunk) {
          if (this.pending.get(partId) === access) this.pending.delete(partId);
        }
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
      // Let calls in between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (failure !== undefined) throw failure;
  }
}
