import type { ChangeKey, ChangeTracker } from '../store/change-tracker.js';

interface Entry<V> {
  value: V;
  stamp: number;
  keys: readonly ChangeKey[];
}

/**
 * A bounded in-memory cache whose entries are valid while nothing they were computed from has
 * changed, as the store reports changes (`ChangeTracker`). The caller reads `stamp()` before
 * reading the database and stores the result with the keys of everything it read; an entry
 * whose keys changed since is never returned. The least recently used entry goes first when
 * the cache is full.
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
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` unless something it was computed from changed while it was computed. */
  set(key: K, value: V, stamp: number, keys: readonly ChangeKey[]): void {
    if (this.capacity <= 0 || !this.changes.isFresh(stamp, keys)) return;
    this.entries.delete(key);
    this.entries.set(key, { value, stamp, keys });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
