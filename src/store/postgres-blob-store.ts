import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { BlobRange, BlobStore, BlobWriter } from './blob-store.js';
import { isForeignKeyViolation, isUniqueViolation, nowIso } from './db.js';
import type { Database } from './schema.js';

/** Bytes per chunk row for new blobs; a blob keeps the size it was written with. */
export const BLOB_CHUNK_SIZE = 256 * 1024;

/** Chunk rows fetched per query while reading. */
const CHUNKS_PER_READ = 4;

const KEY_RE = /^[A-Za-z0-9_-]{3,128}$/;

function requireKey(key: string): string {
  if (!KEY_RE.test(key)) throw new Error(`not a blob key: ${key}`);
  return key;
}

export interface PostgresBlobStoreOptions {
  /** Bytes per chunk row for new blobs (BLOB_CHUNK_SIZE unless set). */
  chunkSize?: number;
  /** Chunk rows fetched per query while reading (4 unless set). */
  chunksPerRead?: number;
}

/**
 * Blobs in the database, so that every replica sharing it sees the same files. An upload gets a
 * `blobs` row under a fresh id with a null key, and its bytes go to `blob_chunks` as fixed-size
 * rows while they arrive, each insert in its own short statement. `commit` sets the key in one
 * statement, so a blob is either whole under its key or not visible. Committing a key that is
 * already taken fails and leaves the existing blob alone. Uploads cut short by a crash stay
 * keyless until `removeAbandoned` sweeps them.
 */
export class PostgresBlobStore implements BlobStore {
  readonly chunkSize: number;
  private readonly chunksPerRead: number;

  constructor(
    private readonly db: Kysely<Database>,
    options: PostgresBlobStoreOptions = {},
  ) {
    this.chunkSize = options.chunkSize ?? BLOB_CHUNK_SIZE;
    this.chunksPerRead = options.chunksPerRead ?? CHUNKS_PER_READ;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) throw new RangeError('bad chunk size');
    if (!Number.isInteger(this.chunksPerRead) || this.chunksPerRead < 1) {
      throw new RangeError('bad chunks per read');
    }
  }

  async create(): Promise<PostgresBlobWriter> {
    const id = randomUUID();
    await this.db
      .insertInto('blobs')
      .values({
        id,
        key: null,
        size: 0,
        chunk_size: this.chunkSize,
        created_at: nowIso(),
        committed_at: null,
      })
      .execute();
    return new PostgresBlobWriter(this.db, id, this.chunkSize);
  }

  async open(key: string, range?: BlobRange): Promise<Readable | undefined> {
    requireKey(key);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new RangeError(`not a byte range: ${start}-${end}`);
      }
    }
    const blob = await this.db
      .selectFrom('blobs')
      .select(['id', 'size', 'chunk_size'])
      .where('key', '=', key)
      .executeTakeFirst();
    if (!blob) return undefined;
    const size = Number(blob.size);
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? size - 1, size - 1);
    if (start > end) return Readable.from([], { objectMode: false });
    return Readable.from(this.chunks(blob.id, blob.chunk_size, start, end), { objectMode: false });
  }

  /** Bytes `start` through `end` of a blob, a few chunk rows per query, as the reader asks. */
  private async *chunks(id: string, chunkSize: number, start: number, end: number): AsyncGenerator<Buffer> {
    const first = Math.floor(start / chunkSize);
    const last = Math.floor(end / chunkSize);
    for (let from = first; from <= last; from += this.chunksPerRead) {
      const to = Math.min(last, from + this.chunksPerRead - 1);
      const rows = await this.db
        .selectFrom('blob_chunks')
        .select(['n', 'data'])
        .where('blob_id', '=', id)
        .where('n', '>=', from)
        .where('n', '<=', to)
        .orderBy('n')
        .execute();
      for (let n = from; n <= to; n++) {
        const row = rows[n - from];
        if (row?.n !== n) throw new Error(`blob ${id} lacks chunk ${n} (deleted while read?)`);
        const begin = n === first ? start - n * chunkSize : 0;
        const stop = n === last ? end - n * chunkSize + 1 : row.data.byteLength;
        if (stop > row.data.byteLength) throw new Error(`blob ${id} has a short chunk ${n}`);
        yield row.data.subarray(begin, stop);
      }
    }
  }

  async delete(key: string): Promise<void> {
    requireKey(key);
    await this.db.deleteFrom('blobs').where('key', '=', key).execute();
  }

  /**
   * Removes uploads never committed that started more than `olderThanMs` ago, with their chunks;
   * returns how many. An upload still being written when swept fails at its next write or commit.
   */
  async removeAbandoned(olderThanMs: number): Promise<number> {
    const before = new Date(Date.now() - olderThanMs).toISOString();
    const result = await this.db
      .deleteFrom('blobs')
      .where('key', 'is', null)
      .where('created_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

type WriterState = 'open' | 'failed' | 'committed' | 'aborted';

/**
 * One upload: bytes collect in a buffer of one chunk, and each full chunk is inserted before the
 * write resolves. Calls run one after another, in the order they were made.
 */
export class PostgresBlobWriter implements BlobWriter {
  private state: WriterState = 'open';
  private pending: Buffer;
  private filled = 0;
  /** The index of the chunk being filled. */
  private n = 0;
  private size = 0;
  /** True when the partial chunk in `pending` is stored as it is now. */
  private pendingStored = true;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    /** The upload's id (the `blobs` row), fixed before commit. */
    readonly uploadId: string,
    private readonly chunkSize: number,
  ) {
    this.pending = Buffer.allocUnsafe(chunkSize);
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.serial(async () => {
      this.requireOpen();
      await this.failing(async () => {
        let offset = 0;
        while (offset < chunk.byteLength) {
          const taken = Math.min(chunk.byteLength - offset, this.chunkSize - this.filled);
          this.pending.set(chunk.subarray(offset, offset + taken), this.filled);
          this.filled += taken;
          this.size += taken;
          this.pendingStored = false;
          offset += taken;
          if (this.filled === this.chunkSize) {
            // The insert has sent the bytes, so the buffer is free to refill.
            await this.storePending();
            this.filled = 0;
            this.n += 1;
            this.pendingStored = true;
            // An abort called meanwhile stops the rest of this write.
            this.requireOpen();
          }
        }
      });
    });
  }

  flush(): Promise<void> {
    return this.serial(async () => {
      this.requireOpen();
      await this.failing(() => this.storeTail());
    });
  }

  commit(key: string): Promise<void> {
    return this.serial(async () => {
      this.requireOpen();
      requireKey(key);
      await this.failing(() => this.storeTail());
      let updated: bigint;
      try {
        const result = await this.db
          .updateTable('blobs')
          .set({ key, size: this.size, committed_at: nowIso() })
          .where('id', '=', this.uploadId)
          .where('key', 'is', null)
          .executeTakeFirst();
        updated = result.numUpdatedRows;
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new Error(`a blob with key ${key} already exists`, { cause: error });
        }
        throw error;
      }
      if (updated === 0n) throw this.removed();
      this.state = 'committed';
    });
  }

  async abort(): Promise<void> {
    if (this.state === 'committed') return;
    if (this.state === 'open' || this.state === 'failed') this.state = 'aborted';
    await this.serial(async () => {
      // A commit that was already running may have won.
      if (this.state === 'committed') return;
      this.state = 'aborted';
      this.pending = Buffer.alloc(0);
      await this.db.deleteFrom('blobs').where('id', '=', this.uploadId).where('key', 'is', null).execute();
    });
  }

  /** Runs `op` after every call made before it has settled. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queue.then(op);
    this.queue = result.catch(() => {});
    return result;
  }

  private requireOpen(): void {
    if (this.state === 'failed') throw new Error('an earlier write of the blob failed');
    if (this.state !== 'open') throw new Error('the blob is already committed or aborted');
  }

  /** Runs a storing step; if it fails the buffered bytes can't be trusted, so the writer only aborts. */
  private async failing(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (error) {
      if (this.state === 'open') this.state = 'failed';
      if (isForeignKeyViolation(error)) throw this.removed(error);
      throw error;
    }
  }

  /** Stores the partial chunk being filled, if it holds bytes not stored yet. */
  private async storeTail(): Promise<void> {
    if (this.pendingStored || this.filled === 0) return;
    await this.storePending();
    this.pendingStored = true;
  }

  /** Inserts chunk `n` as buffered; replaces a partial one stored by an earlier flush. */
  private async storePending(): Promise<void> {
    await this.db
      .insertInto('blob_chunks')
      .values({ blob_id: this.uploadId, n: this.n, data: this.pending.subarray(0, this.filled) })
      .onConflict((oc) =>
        oc.columns(['blob_id', 'n']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data') })),
      )
      .execute();
  }

  private removed(cause?: unknown): Error {
    return new Error(`the upload ${this.uploadId} no longer exists (removed as abandoned?)`, { cause });
  }
}
