import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, it } from 'node:test';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrate, openDatabase, type OpenDatabase } from '../src/store/database.js';
import { PostgresBlobStore, type PostgresBlobWriter } from '../src/store/postgres-blob-store.js';
import type { Database } from '../src/store/schema.js';
import { onPostgres, type TestDatabase } from './support/databases.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Writes `data` in pieces of the given sizes, taken in turn. */
async function writeIn(writer: PostgresBlobWriter, data: Buffer, sizes: readonly number[]): Promise<void> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    await writer.write(data.subarray(at, at + size));
    at += size;
  }
}

onPostgres('PostgresBlobStore', (newDatabase) => {
  let database: TestDatabase;
  let open: OpenDatabase;
  let store: PostgresBlobStore;
  let chunk: number;

  before(async () => {
    database = await newDatabase();
    open = openDatabase({ dialect: 'postgres', url: database.databaseUrl! });
    await migrate(open);
    store = new PostgresBlobStore(open.db);
    chunk = store.chunkSize;
  });
  after(async () => {
    await open.close();
    await database.drop();
  });

  /** Rows an upload has: its `blobs` row (0 or 1) and its chunk rows. */
  async function rowsOf(id: string): Promise<{ blobs: number; chunks: number }> {
    const blobs = await open.db
      .selectFrom('blobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const chunks = await open.db
      .selectFrom('blob_chunks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('blob_id', '=', id)
      .executeTakeFirstOrThrow();
    return { blobs: Number(blobs.n), chunks: Number(chunks.n) };
  }

  async function put(key: string, data: Buffer, target = store): Promise<PostgresBlobWriter> {
    const writer = await target.create();
    await writeIn(writer, data, [100_003]);
    await writer.commit(key);
    return writer;
  }

  const backdate = (id: string, ms: number) =>
    open.db
      .updateTable('blobs')
      .set({ created_at: new Date(Date.now() - ms).toISOString() })
      .where('id', '=', id)
      .execute();

  it('round-trips a multi-chunk file written in odd-sized pieces, stored as full chunks', async () => {
    const data = randomBytes(3 * chunk + 12_345);
    const writer = await store.create();
    await writeIn(writer, data.subarray(0, chunk + 10), [1, 7, 65_537, 300_001, 13]);
    // A flush stores a partial chunk; later bytes complete that same chunk row.
    await writer.flush();
    await writeIn(writer, data.subarray(chunk + 10), [99_991, 3, 524_289]);
    await writer.commit('round-trip');

    const stream = await store.open('round-trip');
    assert.ok(stream);
    assert.equal(sha(await readAll(stream)), sha(data));
    const lengths = await sql<{ n: number; len: number }>`
      select n, octet_length(data) as len from blob_chunks where blob_id = ${writer.uploadId} order by n`.execute(
      open.db,
    );
    assert.deepEqual(
      lengths.rows.map((r) => [r.n, r.len]),
      [
        [0, chunk],
        [1, chunk],
        [2, chunk],
        [3, 12_345],
      ],
    );
    const row = await open.db
      .selectFrom('blobs')
      .selectAll()
      .where('id', '=', writer.uploadId)
      .executeTakeFirstOrThrow();
    assert.equal(row.key, 'round-trip');
    assert.equal(Number(row.size), data.length);
    assert.equal(row.chunk_size, chunk);
    assert.ok(row.committed_at);
  });

  it('round-trips sizes 0, 1, one chunk, one chunk and a byte, and two chunks', async () => {
    for (const size of [0, 1, chunk, chunk + 1, 2 * chunk]) {
      const data = randomBytes(size);
      const writer = await put(`size-${size}`, data);
      const stream = await store.open(`size-${size}`);
      assert.ok(stream, `size ${size}`);
      assert.deepEqual(await readAll(stream), data, `size ${size}`);
      assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 1, chunks: Math.ceil(size / chunk) });
    }
  });

  it('reads inclusive byte ranges', async () => {
    const data = randomBytes(2 * chunk + 100);
    await put('ranged', data);
    const last = data.length - 1;
    const ranges = [
      { start: 0, end: 0 },
      { start: last, end: last },
      { start: chunk - 10, end: chunk + 10 },
      { start: chunk - 1, end: chunk },
      { start: 10, end: 2 * chunk + 5 },
      { start: chunk + 5, end: chunk + 100 },
      { start: chunk, end: chunk },
      { start: 2 * chunk, end: last },
      { start: 0, end: last },
    ];
    for (const range of ranges) {
      const stream = await store.open('ranged', range);
      assert.ok(stream);
      assert.deepEqual(
        await readAll(stream),
        data.subarray(range.start, range.end + 1),
        JSON.stringify(range),
      );
    }
    // An end past the blob stops at its last byte; a start past it gives nothing.
    assert.deepEqual(
      await readAll((await store.open('ranged', { start: last - 1, end: last + 50 }))!),
      data.subarray(-2),
    );
    assert.equal(
      (await readAll((await store.open('ranged', { start: last + 1, end: last + 9 }))!)).length,
      0,
    );
    await assert.rejects(store.open('ranged', { start: 5, end: 4 }), RangeError);
  });

  it('is not readable before commit, and refuses a writer once committed', async () => {
    const writer = await store.create();
    await writer.write(randomBytes(chunk + 5));
    assert.equal(await store.open('later'), undefined);
    await writer.flush();
    assert.equal(await store.open('later'), undefined);
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 1, chunks: 2 });
    await writer.commit('later');
    assert.ok(await store.open('later'));
    await assert.rejects(writer.write(Buffer.from('more')), /already committed or aborted/);
    await assert.rejects(writer.flush(), /already committed or aborted/);
    await assert.rejects(writer.commit('again'), /already committed or aborted/);
    // Abort after commit keeps the blob.
    await writer.abort();
    assert.equal((await readAll((await store.open('later'))!)).length, chunk + 5);
  });

  it('abort leaves no rows, may be repeated, and ends the writer', async () => {
    const writer = await store.create();
    await writer.write(randomBytes(3 * chunk + 1));
    await writer.flush();
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 1, chunks: 4 });
    await writer.abort();
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 0, chunks: 0 });
    await writer.abort();
    await assert.rejects(writer.write(Buffer.from('x')), /already committed or aborted/);
    await assert.rejects(writer.commit('aborted-key'), /already committed or aborted/);
    assert.equal(await store.open('aborted-key'), undefined);
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 0, chunks: 0 });
  });

  it('a commit under a taken key fails, keeps the existing blob, and can be aborted', async () => {
    await put('taken', Buffer.from('original'));
    const writer = await store.create();
    await writer.write(randomBytes(chunk + 3));
    await assert.rejects(writer.commit('taken'), /already exists/);
    assert.equal((await readAll((await store.open('taken'))!)).toString(), 'original');
    await assert.rejects(writer.commit('no/slash'), /not a blob key/);
    await writer.abort();
    await writer.abort();
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 0, chunks: 0 });
    assert.equal((await readAll((await store.open('taken'))!)).toString(), 'original');
  });

  it('a writer whose upload was swept fails its next write, and still aborts', async () => {
    const writer = await store.create();
    await writer.write(randomBytes(chunk + 1));
    await backdate(writer.uploadId, 3_600_000);
    assert.equal(await store.removeAbandoned(60_000), 1);
    await assert.rejects(writer.write(randomBytes(chunk)), /no longer exists/);
    await assert.rejects(writer.write(Buffer.from('x')), /earlier write of the blob failed/);
    await writer.abort();
    await writer.abort();
    assert.deepEqual(await rowsOf(writer.uploadId), { blobs: 0, chunks: 0 });
  });

  it('delete removes a blob and its chunks; a missing key is no error; bad keys throw', async () => {
    const gone = await put('gone-1', randomBytes(2 * chunk));
    await put('stays-1', Buffer.from('stays'));
    await store.delete('gone-1');
    assert.equal(await store.open('gone-1'), undefined);
    assert.deepEqual(await rowsOf(gone.uploadId), { blobs: 0, chunks: 0 });
    await store.delete('gone-1');
    await store.delete('never-existed');
    assert.equal((await readAll((await store.open('stays-1'))!)).toString(), 'stays');
    for (const key of ['', 'ab', '../x', 'a b c', 'abc.def', 'x'.repeat(129)]) {
      await assert.rejects(store.open(key), /not a blob key/, JSON.stringify(key));
      await assert.rejects(store.delete(key), /not a blob key/, JSON.stringify(key));
    }
    assert.equal(await store.open('x'.repeat(128)), undefined);
  });

  it('removeAbandoned removes old uncommitted uploads only', async () => {
    await store.removeAbandoned(0);
    const old = await store.create();
    await old.write(randomBytes(2 * chunk + 7));
    await backdate(old.uploadId, 2 * 3_600_000);
    const committed = await put('old-committed', randomBytes(chunk + 1));
    await backdate(committed.uploadId, 2 * 3_600_000);
    const young = await store.create();
    await young.write(randomBytes(chunk + 9));

    assert.equal(await store.removeAbandoned(3_600_000), 1);
    assert.deepEqual(await rowsOf(old.uploadId), { blobs: 0, chunks: 0 });
    assert.deepEqual(await rowsOf(committed.uploadId), { blobs: 1, chunks: 2 });
    assert.deepEqual(await rowsOf(young.uploadId), { blobs: 1, chunks: 1 });
    assert.equal(await store.removeAbandoned(3_600_000), 0);
    // The young upload goes on as usual.
    await young.commit('young-one');
    assert.equal((await readAll((await store.open('young-one'))!)).length, chunk + 9);
    assert.equal((await readAll((await store.open('old-committed'))!)).length, chunk + 1);
    assert.equal(await store.removeAbandoned(0), 0);
  });

  it('streams a 20 MB blob a few chunks per query, as the reader asks', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    await put('twenty-mb', data);
    const pool = new pg.Pool({ connectionString: database.databaseUrl, max: 2 });
    let chunkQueries = 0;
    const counted = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        if (event.level === 'query' && event.query.sql.includes('"blob_chunks"')) chunkQueries++;
      },
    });
    try {
      const stream = await new PostgresBlobStore(counted).open('twenty-mb');
      assert.ok(stream);
      const reads = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const first = await reads.next();
      assert.equal(first.done, false);
      // With nobody reading, no more is fetched.
      await sleep(200);
      assert.ok(chunkQueries <= 2, `${chunkQueries} chunk queries before the reader asked for more`);
      const hash = createHash('sha256').update(first.value);
      let pieces = 1;
      let largest = first.value.length;
      for (let next = await reads.next(); !next.done; next = await reads.next()) {
        hash.update(next.value);
        pieces++;
        largest = Math.max(largest, next.value.length);
      }
      assert.equal(hash.digest('hex'), sha(data));
      const rows = data.length / chunk;
      assert.equal(pieces, rows);
      assert.equal(largest, chunk);
      assert.ok(chunkQueries >= rows / 4, `${chunkQueries} chunk queries for ${rows} chunks`);
    } finally {
      await counted.destroy();
    }
  });

  it('a blob written through one pool is read, and deleted, through another (two replicas)', async () => {
    const other = openDatabase({ dialect: 'postgres', url: database.databaseUrl! });
    try {
      const replica = new PostgresBlobStore(other.db);
      const data = randomBytes(chunk * 2 + 333);
      const writer = await store.create();
      await writeIn(writer, data, [77_777]);
      assert.equal(await replica.open('shared-1'), undefined);
      await writer.commit('shared-1');
      assert.equal(sha(await readAll((await replica.open('shared-1'))!)), sha(data));
      assert.deepEqual(
        await readAll((await replica.open('shared-1', { start: chunk - 2, end: chunk + 2 }))!),
        data.subarray(chunk - 2, chunk + 3),
      );
      await replica.delete('shared-1');
      assert.equal(await store.open('shared-1'), undefined);
    } finally {
      await other.close();
    }
  });
});
