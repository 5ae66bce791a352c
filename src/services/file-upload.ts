import { createHash } from 'node:crypto';
import { crc32c } from '../crypto/crc32c.js';
import { alreadyExists, invalidArgument, resourceExhausted } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { BlobStore } from '../store/blob-store.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { Repositories } from '../store/index.js';
import type { RegistryItemRecord } from '../store/records.js';
import type { ServiceDeps } from './context.js';

/** What was received, for the record that makes a file visible. */
export interface ReceivedFile {
  /** The key the blob is committed under, and the id of its record. */
  id: string;
  sizeBytes: number;
  /** Lowercase hex SHA-256. */
  sha256: string;
  /** CRC-32C, unsigned. */
  crc32c: number;
}

export interface ReceiveOptions {
  /** Largest file accepted, in bytes (RESOURCE_EXHAUSTED beyond, at once). */
  maxBytes: number;
  /** Refuse bytes that do not start like a gzip stream (a `.tar.gz` package). */
  gzip: boolean;
  /** The call's signal: a client that reset its stream can look, to the chunk iterator, like one that finished. */
  cancelled: AbortSignal;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Streams an upload into a new blob while hashing and counting it, makes it durable, then runs
 * `record` in one transaction and commits the blob under the new file's id just before that
 * transaction commits. Any failure (a refusal in `record`, a stream that breaks off, a file over
 * the limit, a cancelled call) discards the blob, so nothing is left behind.
 */
export async function receiveFile<T>(
  deps: ServiceDeps,
  blobs: BlobStore,
  chunks: AsyncIterable<Uint8Array>,
  options: ReceiveOptions,
  record: (trx: Db, file: ReceivedFile) => Promise<T>,
): Promise<T> {
  const writer = await blobs.create();
  const id = newId();
  let committed = false;
  try {
    const hash = createHash('sha256');
    let crc = 0;
    let size = 0;
    const head: number[] = [];
    for await (const chunk of chunks) {
      size += chunk.byteLength;
      if (size > options.maxBytes) {
        throw resourceExhausted(`the file is larger than the limit of ${options.maxBytes} bytes`);
      }
      for (let i = 0; head.length < GZIP_MAGIC.length && i < chunk.byteLength; i++) head.push(chunk[i]!);
      hash.update(chunk);
      crc = crc32c(chunk, crc);
      await writer.write(chunk);
    }
    options.cancelled.throwIfAborted();
    if (size === 0) throw invalidArgument('the upload carried no file bytes');
    if (options.gzip && GZIP_MAGIC.some((byte, i) => head[i] !== byte)) {
      throw invalidArgument('the package must be a gzip-compressed tar archive (.tar.gz)');
    }
    await writer.flush();
    const file: ReceivedFile = { id, sizeBytes: size, sha256: hash.digest('hex'), crc32c: crc };
    return await deps.db.transaction().execute(async (trx) => {
      const result = await record(trx, file);
      // The blob takes its place before the records commit; if the commit fails it is removed below.
      options.cancelled.throwIfAborted();
      await writer.commit(id);
      committed = true;
      return result;
    });
  } catch (error) {
    if (committed) await blobs.delete(id);
    else await writer.abort();
    throw error;
  }
}

/**
 * Records a received file as the item's file for a version and platform, creating the version on
 * its first file with what the item declares then (a module's models and entrypoint).
 * ALREADY_EXISTS when that version already has a file for the platform.
 */
export async function recordItemFile(
  trx: Db,
  repos: Repositories,
  item: RegistryItemRecord,
  target: { version: string; platform: string; platformTags: readonly string[] },
  file: ReceivedFile,
): Promise<void> {
  const { version, platform } = target;
  const now = nowIso();
  if (!(await repos.registry.findVersion(trx, item.id, version))) {
    await repos.registry.addVersion(trx, {
      itemId: item.id,
      version,
      models: item.models,
      entrypoint: item.entrypoint,
      firstRun: item.firstRun,
      createdAt: now,
    });
  }
  try {
    await repos.registry.addFile(trx, {
      id: file.id,
      itemId: item.id,
      version,
      platform,
      platformTags: [...target.platformTags],
      sizeBytes: file.sizeBytes,
      sha256: file.sha256,
      crc32c: file.crc32c,
      uploadedAt: now,
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateFile(version, platform);
    throw error;
  }
  await repos.registry.update(trx, item.id, { updatedAt: now });
}

/** The refusal of a second file for the same version and platform. */
export const duplicateFile = (version: string, platform: string) =>
  alreadyExists(`version ${version} already has a file for platform ${platform}`);
