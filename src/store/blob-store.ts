import type { Readable } from 'node:stream';

/**
 * Where uploaded files live: an interface, so an object store can take the place of the data
 * directory. A blob is written through a `BlobWriter` and becomes readable under its key only
 * once committed; an aborted writer leaves nothing behind.
 */
export interface BlobStore {
  /** Starts a new blob. */
  create(): Promise<BlobWriter>;
  /** The blob's bytes (or the given range of them); undefined if no blob has that key. */
  open(key: string, range?: BlobRange): Promise<Readable | undefined>;
  /** Removes a committed blob; a missing one is not an error. */
  delete(key: string): Promise<void>;
}

/** Bytes `start` through `end` of a blob, both inclusive (as HTTP ranges count). */
export interface BlobRange {
  start: number;
  end: number;
}

export interface BlobWriter {
  /** Appends bytes, waiting while the storage catches up. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the bytes written so far durable, so that commit is quick. */
  flush(): Promise<void>;
  /** Makes the bytes readable under `key` (flushing first if needed). */
  commit(key: string): Promise<void>;
  /** Discards what was written. Safe to call after a failed write or commit, and more than once. */
  abort(): Promise<void>;
}
