import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BlobRange, BlobStore, BlobWriter } from './blob-store.js';

const KEY_RE = /^[A-Za-z0-9_-]{3,128}$/;

function requireKey(key: string): string {
  if (!KEY_RE.test(key)) throw new Error(`not a blob key: ${key}`);
  return key;
}

/**
 * Blobs as files under a directory (`<data dir>/blobs`): `<key[0..2]>/<key>`. New blobs are
 * written under `incoming/`, synced, then renamed into place, so a blob is either whole or absent.
 * Whatever is left in `incoming/` by a crash is removed when the store opens.
 */
export class FileBlobStore implements BlobStore {
  private constructor(private readonly root: string) {}

  static async openIn(root: string): Promise<FileBlobStore> {
    await rm(join(root, 'incoming'), { recursive: true, force: true });
    await mkdir(join(root, 'incoming'), { recursive: true });
    return new FileBlobStore(root);
  }

  private pathOf(key: string): string {
    return join(this.root, key.slice(0, 2), key);
  }

  async create(): Promise<BlobWriter> {
    const temp = join(this.root, 'incoming', randomUUID());
    const handle = await open(temp, 'wx');
    return new FileBlobWriter(handle, temp, (key) => this.pathOf(key));
  }

  async open(key: string, range?: BlobRange): Promise<ReadStream | undefined> {
    const path = this.pathOf(requireKey(key));
    const stream = createReadStream(path, range && { start: range.start, end: range.end });
    return new Promise((resolve, reject) => {
      stream.once('open', () => resolve(stream));
      stream.once('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ENOENT' ? resolve(undefined) : reject(error),
      );
    });
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(requireKey(key)), { force: true });
  }
}

class FileBlobWriter implements BlobWriter {
  private handle: FileHandle | undefined;
  private flushed = false;

  constructor(
    handle: FileHandle,
    private readonly temp: string,
    private readonly pathOf: (key: string) => string,
  ) {
    this.handle = handle;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.handle) throw new Error('the blob is already committed or aborted');
    this.flushed = false;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.byteLength - offset);
      offset += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (!this.handle) throw new Error('the blob is already committed or aborted');
    await this.handle.sync();
    this.flushed = true;
  }

  async commit(key: string): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new Error('the blob is already committed or aborted');
    const target = this.pathOf(requireKey(key));
    if (!this.flushed) await handle.sync();
    await handle.close();
    this.handle = undefined;
    await mkdir(join(target, '..'), { recursive: true });
    await rename(this.temp, target);
  }

  async abort(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => {});
    await rm(this.temp, { force: true });
  }
}
