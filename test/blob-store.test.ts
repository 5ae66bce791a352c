import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileBlobStore } from '../src/store/file-blob-store.js';
import { filesUnder } from './support/files.js';

/** Every file under `dir` (recursively), relative to it, sorted. */

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('FileBlobStore', () => {
  let root: string;
  let store: FileBlobStore;
  const incoming = () => readdirSync(join(root, 'incoming'));

  beforeEach(async () => {
    root = join(mkdtempSync(join(tmpdir(), 'flotilla-blobs-')), 'blobs');
    store = await FileBlobStore.openIn(root);
  });
  afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

  it('openIn creates the root and an empty incoming directory', () => {
    assert.deepEqual(readdirSync(root), ['incoming']);
    assert.deepEqual(incoming(), []);
  });

  it('writes in chunks, commits under <key[0..2]>/<key>, and reads the same bytes back', async () => {
    const data = randomBytes(300_000);
    const writer = await store.create();
    assert.equal(incoming().length, 1, 'an open writer has its file in incoming/');
    assert.equal(filesUnder(root).length, 1);
    for (let at = 0; at < data.length; at += 65_536) await writer.write(data.subarray(at, at + 65_536));
    assert.equal(await store.open('abc123'), undefined, 'not readable before commit');
    await writer.commit('abc123');

    assert.deepEqual(incoming(), []);
    assert.deepEqual(filesUnder(root), [join('ab', 'abc123')]);
    assert.equal(sha(readFileSync(join(root, 'ab', 'abc123'))), sha(data));
    const stream = await store.open('abc123');
    assert.ok(stream);
    assert.equal(sha(await readAll(stream)), sha(data));
    // Twice: opening does not consume anything.
    const again = await store.open('abc123');
    assert.ok(again);
    assert.deepEqual(await readAll(again), data);
  });

  it('flush then commit, and several blobs side by side with keys sharing a prefix', async () => {
    const a = await store.create();
    const b = await store.create();
    assert.equal(incoming().length, 2);
    await a.write(Buffer.from('first '));
    await b.write(Buffer.from('second'));
    await a.flush();
    await a.write(Buffer.from('blob'));
    await a.commit('xy_one');
    await b.flush();
    await b.commit('xy-two');
    assert.deepEqual(filesUnder(root), [join('xy', 'xy-two'), join('xy', 'xy_one')]);
    assert.equal((await readAll((await store.open('xy_one'))!)).toString(), 'first blob');
    assert.equal((await readAll((await store.open('xy-two'))!)).toString(), 'second');
  });

  it('a writer refuses writes after commit, and a second commit', async () => {
    const writer = await store.create();
    await writer.write(Buffer.from('data'));
    await writer.commit('done1');
    await assert.rejects(writer.write(Buffer.from('more')), /already committed or aborted/);
    await assert.rejects(writer.flush(), /already committed or aborted/);
    await assert.rejects(writer.commit('done2'), /already committed or aborted/);
    assert.deepEqual(filesUnder(root), [join('do', 'done1')]);
    assert.equal((await readAll((await store.open('done1'))!)).toString(), 'data');
  });

  it('abort leaves nothing behind, may be repeated, and ends the writer', async () => {
    const writer = await store.create();
    await writer.write(randomBytes(100_000));
    await writer.flush();
    await writer.abort();
    assert.deepEqual(filesUnder(root), []);
    assert.deepEqual(incoming(), []);
    await writer.abort();
    await assert.rejects(writer.write(Buffer.from('x')), /already committed or aborted/);
    await assert.rejects(writer.commit('late1'), /already committed or aborted/);
    assert.deepEqual(filesUnder(root), []);
    assert.equal(await store.open('late1'), undefined);
  });

  it('abort after commit keeps the committed blob', async () => {
    const writer = await store.create();
    await writer.write(Buffer.from('kept'));
    await writer.commit('kept1');
    await writer.abort();
    assert.deepEqual(filesUnder(root), [join('ke', 'kept1')]);
    assert.equal((await readAll((await store.open('kept1'))!)).toString(), 'kept');
  });

  it('openIn clears leftovers in incoming/ but keeps committed blobs', async () => {
    const writer = await store.create();
    await writer.write(Buffer.from('committed'));
    await writer.commit('keep-me');
    // What a crash leaves: an unfinished writer, a stray file and a stray directory.
    const unfinished = await store.create();
    await unfinished.write(Buffer.from('half'));
    writeFileSync(join(root, 'incoming', 'stray'), 'junk');
    mkdirSync(join(root, 'incoming', 'dir'));
    writeFileSync(join(root, 'incoming', 'dir', 'nested'), 'junk');
    assert.equal(filesUnder(join(root, 'incoming')).length, 3);

    const reopened = await FileBlobStore.openIn(root);
    assert.deepEqual(incoming(), []);
    assert.deepEqual(filesUnder(root), [join('ke', 'keep-me')]);
    assert.equal((await readAll((await reopened.open('keep-me'))!)).toString(), 'committed');
    await unfinished.abort();
    // The reopened store works as usual.
    const next = await reopened.create();
    await next.write(Buffer.from('new'));
    await next.commit('new-one');
    assert.deepEqual(filesUnder(root), [join('ke', 'keep-me'), join('ne', 'new-one')]);
  });

  it('open of a missing key gives undefined', async () => {
    assert.equal(await store.open('nothing-here'), undefined);
    mkdirSync(join(root, 'no'));
    assert.equal(await store.open('nothing-here'), undefined);
  });

  it('delete removes a blob and is idempotent', async () => {
    for (const key of ['gone1', 'stay1']) {
      const writer = await store.create();
      await writer.write(Buffer.from(key));
      await writer.commit(key);
    }
    await store.delete('gone1');
    assert.equal(await store.open('gone1'), undefined);
    assert.deepEqual(filesUnder(root), [join('st', 'stay1')]);
    await store.delete('gone1');
    await store.delete('never-existed');
    assert.deepEqual(filesUnder(root), [join('st', 'stay1')]);
    assert.equal((await readAll((await store.open('stay1'))!)).toString(), 'stay1');
  });

  it('invalid keys throw before touching anything', async () => {
    const victim = await store.create();
    await victim.write(Buffer.from('victim'));
    await victim.commit('victim');
    const invalid = ['', 'ab', '../victim', 'vi/victim', 'a b c', 'abc.def', 'abc\n', 'x'.repeat(129)];
    for (const key of invalid) {
      await assert.rejects(store.open(key), /not a blob key/, JSON.stringify(key));
      await assert.rejects(store.delete(key), /not a blob key/, JSON.stringify(key));
    }
    assert.ok(
      await store.open('x'.repeat(128)).then((s) => s === undefined),
      '128 characters is a valid key',
    );

    const writer = await store.create();
    await writer.write(Buffer.from('pending'));
    for (const key of ['../escape', 'a/bc', 'ab']) {
      await assert.rejects(writer.commit(key), /not a blob key/, key);
    }
    // The refused commits did not end the writer: it still commits under a valid key.
    await writer.commit('valid-key');
    assert.deepEqual(filesUnder(root), [join('va', 'valid-key'), join('vi', 'victim')]);
    assert.equal((await readAll((await store.open('victim'))!)).toString(), 'victim');
    assert.deepEqual(incoming(), []);
    assert.equal(existsSync(join(root, '..', 'escape')), false);
  });

  it('a writer refused a commit can still be aborted without leftovers', async () => {
    const writer = await store.create();
    await writer.write(Buffer.from('pending'));
    await assert.rejects(writer.commit('no/slash'), /not a blob key/);
    await writer.abort();
    assert.deepEqual(filesUnder(root), []);
  });
});
