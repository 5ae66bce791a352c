import type { ChangeKey, ChangeTracker } from '../store/change-tracker.js';

interface Entry<V> {
  value: V;
  stamp: number;
  keys: readonly ChangeKey[];
  /** Read since it was stored or last spared from eviction. */
  used: boolean;
}

/** How many entries one eviction looks at, at most, before it takes the oldest regardless. */
const EVICTION_SCAN = 8;

/**
 * A bounded in-memory cache whose entries are valid while nothing they were computed from has
 * changed, as the store reports changes (`ChangeTracker`). The caller reads `stamp()` before
 * reading the database and stores the result with the keys of everything it read; an entry
 * whose keys changed since is never returned. When the cache is full, the oldest entry not read
 * since it was stored goes first (second chance: a read only marks an entry, so that a hit,
 * the common case, does not reorder the map).
 */
export class FreshCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly changes: ChangeTracker,
    private readonly capacity: number,
  ) {}

  /** The version to compute a new entry with: read it before reading anything the entry holds. */
  stamp(): number {
    return this.changes.stamp();
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (!this.changes.isFresh(entry.stamp, entry.keys)) {
      this.entries.delete(key);
      return undefined;
    }
    entry.used = true;
    return entry.value;
  }

  /** Keeps `value` unless something it was computed from changed while it was computed. */
  set(key: K, value: V, stamp: number, keys: readonly ChangeKey[]): void {
    if (this.capacity <= 0 || !this.changes.isFresh(stamp, keys)) return;
    // Room is made before the new entry goes in, so that it is never the one evicted.
    if (!this.entries.delete(key) && this.entries.size >= this.capacity) this.evictOne();
    this.entries.set(key, { value, stamp, keys, used: false });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops the oldest entry not read lately; entries read meanwhile move to the back, unmarked. */
  private evictOne(): void {
    for (let looked = 0; ; looked++) {
      const oldest = this.entries.entries().next();
      if (oldest.done) return;
      const [key, entry] = oldest.value;
      this.entries.delete(key);
      if (!entry.used || looked >= EVICTION_SCAN) return;
      entry.used = false;
      this.entries.set(key, entry);
    }
  }
}
