import type { OwnedItem } from '../authz/authorizer.js';
import { writePermissionFor } from '../authz/permissions.js';
import type { Readable } from 'node:stream';
import type { FleetPrincipal, Principal } from '../authz/principal.js';
import { failedPrecondition, invalidArgument, notFound } from '../domain/errors.js';
import type { RegistryItem } from '../domain/models.js';
import { itemIdOf, requireModuleVersion, requirePlatform } from '../domain/registry.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Db } from '../store/db.js';
import type { ServiceDeps } from './context.js';
import { duplicateFile, receiveFile, recordItemFile } from './file-upload.js';
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
  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
    private readonly registry: RegistryService,
    /** Largest file accepted, in bytes. */
    private readonly maxFileBytes: number,
  ) {}

  /**
   * Stores one file for a module version and platform; returns the module's URL. The caller must
   * own the module's organization, and the module needs an entrypoint. The bytes go to a new blob
   * and are recorded in one transaction (`receiveFile`): a refused, interrupted or cancelled
   * upload leaves nothing behind.
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

    return receiveFile(
      this.deps,
      this.blobs,
      chunks,
      { maxBytes: this.maxFileBytes, gzip: false, cancelled },
      async (trx, file) => {
        const owned = await this.checkUpload(trx, principal, info, version, platform);
        if (owned.item.id !== first.item.id) throw notFound(`module ${info.moduleId} not found`);
        await recordItemFile(trx, this.deps.repos, owned.item, { version, platform, platformTags }, file);
        return this.registry.moduleUrl(itemIdOf(owned.organization, owned.item.name));
      },
    );
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
    return { sizeBytes: file.sizeBytes, sha256: file.sha256, body };
  }

  /** A module as its page shows it, for a user, key or machine part that may read it. */
  async describe(principal: Principal, moduleId: string): Promise<RegistryItem> {
    const owned = await this.readableModule(principal, moduleId);
    return (await this.registry.views(this.deps.db, [owned.item]))[0] as RegistryItem;
  }

  private async readableModule(principal: Principal, moduleId: string): Promise<OwnedItem> {
    return requireModule(
      (
        await this.deps.authz.require(
          this.deps.db,
          principal,
          { type: 'registry-item', id: moduleId, field: 'module id' },
          'read_packages',
        )
      ).record,
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
    const { record: owned } = await this.deps.authz.require(
      trx,
      principal,
      { type: 'registry-item', id: info.moduleId, field: 'module_file_info.module_id' },
      (found) => writePermissionFor(found.item.visibility),
      { lock: true },
    );
    if (owned.item.type !== 'module')
      throw notFound(`module ${info.moduleId} not found (the item is not a module)`);
    if (owned.item.entrypoint === '') {
      throw failedPrecondition('the module has no entrypoint yet; set it with UpdateModule before uploading');
    }
    if (await this.deps.repos.registry.findFile(trx, owned.item.id, version, platform)) {
      throw duplicateFile(version, platform);
    }
    return owned;
  }
}

function requirePlatformTags(tags: readonly string[]): string[] {
  if (tags.length > MAX_PLATFORM_TAGS) throw invalidArgument(`at most ${MAX_PLATFORM_TAGS} platform tags`);
  for (const tag of tags) {
    if (tag === '' || tag.length > MAX_PLATFORM_TAG_LENGTH) {
      throw invalidArgument(`platform tags must be 1 to ${MAX_PLATFORM_TAG_LENGTH} characters`);
    }
  }
  return [...tags];
}
