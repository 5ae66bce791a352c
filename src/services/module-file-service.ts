import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FleetPrincipal, Principal } from '../authz/principal.js';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
} from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { RegistryItem } from '../domain/models.js';
import { itemIdOf, requireModuleVersion, requirePlatform } from '../domain/registry.js';
import type { BlobStore } from '../store/blob-store.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { ServiceDeps } from './context.js';
import { RegistryAccess, type OwnedItem } from './registry-access.js';
import { requireModule, type RegistryService } from './registry-service.js';

/** The first message of an upload: which module, version and platform the bytes are for. */
export interface ModuleFileInfo {
  moduleId: string;
  version: string;
  platform: string;
  platformTags: string[];
}

/** A stored module file, ready to send. */
export interface ModuleDownload {
  sizeBytes: number;
  sha256: string;
  body: Readable;
}

const MAX_PLATFORM_TAGS = 32;
const MAX_PLATFORM_TAG_LENGTH = 128;

/** Module files: uploads into the blob store, and downloads for whoever may read the module. */
export class ModuleFileService {
  private readonly access: RegistryAccess;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
    private readonly registry: RegistryService,
    /** Largest file accepted, in bytes. */
    private readonly maxFileBytes: number,
  ) {
    this.access = new RegistryAccess(deps);
  }

  /**
   * Stores one file for a module version and platform; returns the module's URL. The caller must
   * own the module's organization, and the module needs an entrypoint. The bytes go to a new blob
   * and are recorded in one transaction; any failure (a refusal, a stream that breaks off, a
   * file over the limit) discards the blob, so nothing is left behind. `cancelled` is the call's
   * signal: a client that resets its stream can look, to the chunk iterator, like one that
   * finished, so the signal is checked once the bytes end and again just before the commit.
   */
  async upload(
    principal: FleetPrincipal,
    info: ModuleFileInfo,
    chunks: AsyncIterable<Uint8Array>,
    cancelled: AbortSignal,
  ): Promise<string> {
    const version = requireModuleVersion(info.version);
    const platform = requirePlatform(info.platform);
    const platformTags = requirePlatformTags(info.platformTags);
    // Refuse before reading any bytes when the answer is already known.
    const first = await this.deps.db
      .transaction()
      .execute((trx) => this.checkUpload(trx, principal, info, version, platform));

    const writer = await this.blobs.create();
    const fileId = newId();
    let committed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (size > this.maxFileBytes) {
          throw resourceExhausted(`the file is larger than the limit of ${this.maxFileBytes} bytes`);
        }
        hash.update(chunk);
        await writer.write(chunk);
      }
      cancelled.throwIfAborted();
      if (size === 0) throw invalidArgument('the upload carried no file bytes');
      const sha256 = hash.digest('hex');
      await writer.flush();
      return await this.deps.db.transaction().execute(async (trx) => {
        const owned = await this.checkUpload(trx, principal, info, version, platform);
        if (owned.item.id !== first.item.id) throw notFound(`module ${info.moduleId} not found`);
        const now = nowIso();
        const { registry } = this.deps.repos;
        if (!(await registry.findVersion(trx, owned.item.id, version))) {
          await registry.addVersion(trx, {
            item_id: owned.item.id,
            version,
            models: owned.item.models,
            entrypoint: owned.item.entrypoint,
            first_run: owned.item.first_run,
            created_at: now,
          });
        }
        try {
          await registry.addFile(trx, {
            id: fileId,
            item_id: owned.item.id,
            version,
            platform,
            platform_tags: JSON.stringify(platformTags),
            size_bytes: size,
            sha256,
            uploaded_at: now,
          });
        } catch (error) {
          if (isUniqueViolation(error)) throw duplicate(version, platform);
          throw error;
        }
        await registry.update(trx, owned.item.id, { updated_at: now });
        // The blob takes its place before the records commit; if the commit fails it is removed below.
        cancelled.throwIfAborted();
        await writer.commit(fileId);
        committed = true;
        return this.registry.moduleUrl(itemIdOf(owned.organization, owned.item.name));
      });
    } catch (error) {
      if (committed) await this.blobs.delete(fileId);
      else await writer.abort();
      throw error;
    }
  }

  /** The file of a module version for a platform, if the caller may read the module. */
  async download(
    principal: Principal,
    moduleId: string,
    version: string,
    platform: string,
  ): Promise<ModuleDownload> {
    const { db, repos } = this.deps;
    const owned = await this.readableModule(principal, moduleId);
    const file = await repos.registry.findFile(db, owned.item.id, version, platform);
    if (!file)
      throw notFound(`module ${moduleId} has no file for version ${version} and platform ${platform}`);
    const body = await this.blobs.open(file.id);
    if (!body)
      throw notFound(`the file of module ${moduleId} ${version} ${platform} is missing from storage`);
    return { sizeBytes: file.size_bytes, sha256: file.sha256, body };
  }

  /** A module as its page shows it, for a user, key or machine part that may read it. */
  async describe(principal: Principal, moduleId: string): Promise<RegistryItem> {
    const owned = await this.readableModule(principal, moduleId);
    return (await this.registry.views(this.deps.db, [owned.item]))[0] as RegistryItem;
  }

  private async readableModule(principal: Principal, moduleId: string): Promise<OwnedItem> {
    return requireModule(
      await this.access.requireReadable(this.deps.db, principal, moduleId, 'module id'),
      moduleId,
    );
  }

  /** Everything an upload needs besides its bytes; locks the module inside `trx`. */
  private async checkUpload(
    trx: Db,
    principal: FleetPrincipal,
    info: ModuleFileInfo,
    version: string,
    platform: string,
  ): Promise<OwnedItem> {
    const owned = await this.access.requireWritable(
      trx,
      principal,
      info.moduleId,
      'module_file_info.module_id',
    );
    if (owned.item.type !== 'module')
      throw notFound(`module ${info.moduleId} not found (the item is not a module)`);
    if (owned.item.entrypoint === '') {
      throw failedPrecondition('the module has no entrypoint yet; set it with UpdateModule before uploading');
    }
    if (await this.deps.repos.registry.findFile(trx, owned.item.id, version, platform)) {
      throw duplicate(version, platform);
    }
    return owned;
  }
}

const duplicate = (version: string, platform: string) =>
  alreadyExists(`version ${version} already has a file for platform ${platform}`);

function requirePlatformTags(tags: readonly string[]): string[] {
  if (tags.length > MAX_PLATFORM_TAGS) throw invalidArgument(`at most ${MAX_PLATFORM_TAGS} platform tags`);
  for (const tag of tags) {
    if (tag === '' || tag.length > MAX_PLATFORM_TAG_LENGTH) {
      throw invalidArgument(`platform tags must be 1 to ${MAX_PLATFORM_TAG_LENGTH} characters`);
    }
  }
  return [...tags];
}
