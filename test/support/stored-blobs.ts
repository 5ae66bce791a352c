import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import pg from 'pg';
import { filesUnder } from './files.js';

/**
 * What the server's blob store holds, looked at from outside: files under `<data dir>/blobs` on
 * SQLite, rows of `blobs` and `blob_chunks` on PostgreSQL. For tests that check that nothing
 * half-written is kept and nothing committed is lost.
 */
export interface StoredBlobs {
  /** Keys of committed blobs, sorted. */
  committed(): Promise<string[]>;
  /** A committed blob's bytes. */
  bytesOf(key: string): Promise<Buffer>;
  /** Bytes stored so far by each upload not yet committed. */
  inFlight(): Promise<number[]>;
  /** Everything at once, to compare before and after a call. */
  snapshot(): Promise<{ committed: string[]; inFlight: number[] }>;
  close(): Promise<void>;
}

export function storedBlobs(dataDir: string, databaseUrl: string | undefined): StoredBlobs {
  const view = databaseUrl === undefined ? fileBlobs(join(dataDir, 'blobs')) : postgresBlobs(databaseUrl);
  return {
    ...view,
    snapshot: async () => ({ committed: await view.committed(), inFlight: await view.inFlight() }),
  };
}

function fileBlobs(root: string): Omit<StoredBlobs, 'snapshot'> {
  const committedPaths = () => filesUnder(root).filter((f) => !f.startsWith('incoming/'));
  return {
    committed() {
      const paths = committedPaths();
      for (const path of paths) {
        const [dir, name = ''] = path.split('/');
        if (dir !== name.slice(0, 2))
          throw new Error(`blob ${path} is not under its key's first two characters`);
      }
      return Promise.resolve(paths.map((p) => basename(p)).sort());
    },
    bytesOf: (key) => Promise.resolve(readFileSync(join(root, key.slice(0, 2), key))),
    inFlight: () =>
      Promise.resolve(
        filesUnder(join(root, 'incoming')).map((f) => statSync(join(root, 'incoming', f)).size),
      ),
    close: () => Promise.resolve(),
  };
}

function postgresBlobs(url: string): Omit<StoredBlobs, 'snapshot'> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const rows = async <T>(text: string, values: unknown[] = []) =>
    (await pool.query(text, values)).rows as T[];
  return {
    async committed() {
      const found = await rows<{ key: string }>('select key from blobs where key is not null');
      return found.map((r) => r.key).sort();
    },
    async bytesOf(key) {
      const chunks = await rows<{ data: Buffer }>(
        'select c.data from blob_chunks c join blobs b on b.id = c.blob_id where b.key = $1 order by c.n',
        [key],
      );
      return Buffer.concat(chunks.map((c) => c.data));
    },
    async inFlight() {
      const uploads = await rows<{ bytes: string }>(
        `select coalesce(sum(length(c.data)), 0)::text as bytes
           from blobs b left join blob_chunks c on c.blob_id = b.id
          where b.key is null group by b.id`,
      );
      return uploads.map((u) => Number(u.bytes));
    },
    close: () => pool.end(),
  };
}
