import type { Kysely, Transaction } from 'kysely';
import type { Db } from './db.js';
import type { Database } from './schema.js';

/**
 * What a write touched, as the caches name it: one stored object each. A cache entry lists the
 * keys of everything it was computed from, and stays valid while none of them changed.
 */
export type ChangeKey =
  | `part:${string}`
  | `machine:${string}`
  | `location:${string}`
  | `organization:${string}`
  | `fragment:${string}`
  /** Anything in the registry: items, versions, files (module resolution reads all of it). */
  | 'registry'
  | `api-key:${string}`
  | `user:${string}`
  | `restart:${string}`;

/** How many changed keys are remembered before everything computed so far is dropped. */
const MAX_REMEMBERED_KEYS = 100_000;

/**
 * Versions of what was written, for the in-memory caches of the machine-facing calls.
 *
 * A cache reads `stamp()` before it reads the database, and keeps what it computed with that
 * stamp and the keys it depends on. `isFresh` tells whether any of those keys changed since.
 * Repositories report each write with `changed(db, …keys)`. Inside a transaction the keys are
 * announced when the transaction is over, never before: a reader that started between the write
 * and the commit saw the old data, and its stamp is older than the announcement, so what it
 * computed is not trusted. (Announcing before the commit would let such a reader cache old data
 * with a newer stamp.) A rolled-back transaction announces its keys too: a needless miss, never
 * a stale hit.
 *
 * With several replicas, each announcement is also broadcast (`broadcastWith`): inside the
 * transaction, so the others hear it at commit, or right after a write made outside one. What
 * other replicas announce arrives through `received`. While that feed is down (`setListening`),
 * nothing is fresh: a replica that cannot hear the others trusts nothing it computed.
 */
export class ChangeTracker {
  private clock = 0;
  /** Entries stamped before this are stale (set when the remembered keys are dropped). */
  private floor = 0;
  private readonly versions = new Map<string, number>();
  private readonly open = new WeakMap<object, Set<ChangeKey>>();
  private broadcast: ((db: Db, keys: readonly ChangeKey[]) => Promise<void>) | undefined;
  private deaf = false;
  private observer: ((keys: readonly ChangeKey[]) => void) | undefined;

  /** The current version; read it before reading what a cache entry is computed from. */
  stamp(): number {
    return this.clock;
  }

  /** True if nothing under `keys` changed after `stamp` was read. */
  isFresh(stamp: number, keys: readonly ChangeKey[]): boolean {
    if (this.deaf || stamp < this.floor) return false;
    for (const key of keys) {
      const version = this.versions.get(key);
      if (version !== undefined && version > stamp) return false;
    }
    return true;
  }

  /**
   * Reports a write: announced now (and broadcast before resolving), or, inside a transaction,
   * when it is over (broadcast just before its commit).
   */
  async changed(db: Db, ...keys: ChangeKey[]): Promise<void> {
    this.observer?.(keys);
    const pending = this.open.get(db);
    if (pending) {
      for (const key of keys) pending.add(key);
      return;
    }
    this.announce(keys);
    await this.broadcast?.(db, keys);
  }

  /** Also tells `observer` of every write reported (the audit log lists what a call touched). */
  observeWith(observer: (keys: readonly ChangeKey[]) => void): void {
    this.observer = observer;
  }

  /** Sends every announcement to the other replicas through `send`, given the writing connection. */
  broadcastWith(send: (db: Db, keys: readonly ChangeKey[]) => Promise<void>): void {
    this.broadcast = send;
  }

  /** What another replica changed (`undefined`: anything may have). */
  received(keys: readonly ChangeKey[] | undefined): void {
    if (keys) this.announce(keys);
    else this.forgetAll();
  }

  /**
   * Whether other replicas' changes can be heard. While they cannot, nothing is fresh; when they
   * can again, everything computed before is dropped (what was missed is unknown).
   */
  setListening(listening: boolean): void {
    this.deaf = !listening;
    this.forgetAll();
  }

  /**
   * Makes every transaction of `db` collect its changes and announce them when it is over. The
   * one hook: services open transactions with `db.transaction().execute(...)` as usual.
   */
  trackTransactions(db: Kysely<Database>): void {
    const begin = db.transaction.bind(db);
    db.transaction = () => {
      const builder = begin();
      const execute = builder.execute.bind(builder);
      builder.execute = async <T>(callback: (trx: Transaction<Database>) => Promise<T>): Promise<T> => {
        const pending = new Set<ChangeKey>();
        try {
          return await execute(async (trx) => {
            this.open.set(trx, pending);
            const result = await callback(trx);
            // Delivered to the other replicas at commit, never before.
            if (pending.size > 0) await this.broadcast?.(trx, [...pending]);
            return result;
          });
        } finally {
          if (pending.size > 0) this.announce([...pending]);
        }
      };
      return builder;
    };
  }

  private announce(keys: readonly ChangeKey[]): void {
    if (keys.length === 0) return;
    this.clock++;
    if (this.versions.size + keys.length > MAX_REMEMBERED_KEYS) {
      this.versions.clear();
      this.floor = this.clock;
    }
    for (const key of keys) this.versions.set(key, this.clock);
  }

  private forgetAll(): void {
    this.clock++;
    this.versions.clear();
    this.floor = this.clock;
  }
}
