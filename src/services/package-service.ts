import type { OwnedItem } from '../authz/authorizer.js';
import { writePermissionFor } from '../authz/permissions.js';
import type { Readable } from 'node:stream';
import type { FleetPrincipal, PartPrincipal, Principal } from '../authz/principal.js';
import { crc32c } from '../crypto/crc32c.js';
import type { UrlSigner } from '../crypto/url-signer.js';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
  unauthenticated,
} from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import {
  chooseVersion,
  LATEST,
  packageIdOf,
  packageNameForModule,
  requirePackageVersion,
  splitPlatformSuffix,
  type VersionCandidate,
} from '../domain/packages.js';
import { requireItemName, requirePlatform, type RegistryItemType } from '../domain/registry.js';
import { requireId } from '../domain/validation.js';
import type { BlobRange, BlobStore } from '../store/blob-store.js';
import { isUniqueViolation, nowIso, type Db } from '../store/db.js';
import type { ItemFileRecord, RegistryItemRecord } from '../store/records.js';
import { requirePublicUrl, type ServiceDeps } from './context.js';
import { duplicateFile, receiveFile, recordItemFile } from './file-upload.js';

/** One stored file of a package version, as GetPackage and ListPackages describe it. */
export interface PackageFile {
  /** `<organization id>/<name>`. */
  packageId: string;
  organizationId: string;
  name: string;
  type: RegistryItemType;
  version: string;
  platform: string;
  sizeBytes: number;
  sha256: string;
  /** CRC-32C of the bytes, unsigned. */
  crc32c: number;
  uploadedAt: Date;
  /** A signed download URL, when asked for. */
  url: string | undefined;
}

/** The first message of CreatePackage. */
export interface NewPackage {
  organizationId: string;
  name: string;
  version: string;
  type: RegistryItemType | undefined;
  platform: string | undefined;
}

/** What a download request carries to prove it may read the file. */
export interface DownloadCredentials {
  /** The caller behind the request's headers (a part secret, a key, a bearer token), if any. */
  principal: Principal | undefined;
  /** The URL's signature, if it has one. */
  signature: { expires: string; signature: string } | undefined;
}

/** A file to send: its size and checksums, and its bytes (or a range of them) on demand. */
export interface PackageDownload {
  sizeBytes: number;
  sha256: string;
  crc32c: number;
  open(range?: BlobRange): Promise<Readable>;
}

/** A registry module of a served config, resolved for one machine. */
export type ResolvedModule =
  | {
      ok: true;
      /** The `packages` entry viam-server downloads. */
      package: { name: string; package: string; version: string; type: 'module' };
      /** `${packages.module.<name>}/<entrypoint>`. */
      executablePath: string;
    }
  | { ok: false; error: string };

export interface PackageSettings {
  /** Largest package accepted by CreatePackage, in bytes. */
  maxFileBytes: number;
  /** How long a signed download URL stays valid, in seconds. */
  urlTtlSeconds: number;
}

const DOWNLOAD_PATH = '/packages/';

/** The path a package file downloads from (signed, or with credentials in headers). */
export const downloadPathOf = (fileId: string) => `${DOWNLOAD_PATH}${fileId}`;

/**
 * Packages (`viam.app.packages.v1.PackageService`): the files of registry items, by version and
 * platform, as machines download them. Module files uploaded with UploadModuleFile are packages
 * of type `module`; CreatePackage stores the other types (and modules) the same way. Reading
 * follows the registry's rule (public items for anyone authenticated, private ones inside their
 * organization, its machines included); writing needs owner on the organization.
 */
export class PackageService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly blobs: BlobStore,
    private readonly signer: UrlSigner,
    private readonly settings: PackageSettings,
  ) {}

  /**
   * One file of a package: the version asked for (a concrete one, or `latest` / empty), for the
   * platform given, else the one its version names (`1.2.0-linux-arm64`), else the calling
   * machine's; the file built for that platform, or the one for `any`.
   */
  async get(
    principal: Principal,
    request: {
      id: string;
      version: string;
      type: RegistryItemType | undefined;
      platform: string | undefined;
      includeUrl: boolean;
    },
  ): Promise<PackageFile> {
    const { db } = this.deps;
    const owned = await this.readable(db, principal, request.id);
    if (request.type !== undefined && owned.item.type !== request.type) {
      throw notFound(`package ${request.id} not found`);
    }
    const versions = await this.candidates(db, owned.item);
    let wanted = request.version === '' ? LATEST : request.version;
    let platform = request.platform ? requirePlatform(request.platform) : undefined;
    if (!versions.some((v) => v.version === wanted)) {
      const split = splitPlatformSuffix(wanted);
      wanted = split.version;
      platform ??= split.platform;
    }
    platform ??= (await this.platformOf(db, principal)) ?? 'any';
    const chosen = chooseVersion(versions, wanted, platform);
    if (!chosen) {
      throw notFound(
        `package ${request.id} has no version "${wanted.slice(0, 64)}" with a file for platform ${platform}`,
      );
    }
    return this.describe(db, owned, chosen.version.version, chosen.file, request.includeUrl);
  }

  /** Every file of every package of an organization, filtered by name, version and type. */
  async list(
    principal: Principal,
    request: {
      organizationId: string;
      name: string | undefined;
      version: string | undefined;
      type: RegistryItemType | undefined;
      includeUrl: boolean;
    },
  ): Promise<PackageFile[]> {
    const { db, repos, authz } = this.deps;
    const organizationId = requireId(request.organizationId, 'organization_id');
    const organization = await repos.organizations.findById(db, organizationId);
    if (!organization || !(await authz.isInsideOrganization(db, principal, organizationId))) {
      throw notFound(`organization ${organizationId} not found`);
    }
    const items = (
      await repos.registry.list(db, {
        organizationId,
        includePublic: false,
        types: request.type ? [request.type] : [],
        visibilities: [],
      })
    ).filter((item) => !request.name || item.name === request.name);
    const files = (
      await repos.registry.listFiles(
        db,
        items.map((i) => i.id),
      )
    )
      .filter((f) => !request.version || f.version === request.version)
      .sort((a, b) => a.uploadedAt.localeCompare(b.uploadedAt) || byCodePoint(a.platform, b.platform));
    const byId = new Map(items.map((item) => [item.id, item]));
    const listed: PackageFile[] = [];
    for (const file of files) {
      const item = byId.get(file.itemId);
      if (item)
        listed.push(await this.describe(db, { item, organization }, file.version, file, request.includeUrl));
    }
    return listed;
  }

  /**
   * Stores a package file (a `.tar.gz`) under its organization's item of that name, creating the
   * item (private) on its first package. A module must exist already and have an entrypoint,
   * as for UploadModuleFile. Needs owner on the organization.
   */
  async create(
    principal: FleetPrincipal,
    info: NewPackage,
    chunks: AsyncIterable<Uint8Array>,
    cancelled: AbortSignal,
  ): Promise<{ id: string; version: string }> {
    const organizationId = requireId(info.organizationId, 'package.organization_id');
    const name = requireItemName(info.name, 'package.name');
    if (info.type === undefined) throw invalidArgument('package.type must be set');
    const type = info.type;
    const version = requirePackageVersion(type, info.version);
    const platform = requirePlatform(info.platform || 'any');
    const target = { organizationId, name, type, version, platform };
    // Refuse before reading any bytes when the answer is already known.
    await this.deps.db.transaction().execute((trx) => this.checkCreate(trx, principal, target, false));
    return receiveFile(
      this.deps,
      this.blobs,
      chunks,
      { maxBytes: this.settings.maxFileBytes, gzip: true, cancelled },
      async (trx, file) => {
        const item = await this.checkCreate(trx, principal, target, true);
        if (!item) throw notFound(`package ${name} not found`);
        await recordItemFile(trx, this.deps.repos, item, { version, platform, platformTags: [] }, file);
        return { id: packageIdOf(organizationId, name), version };
      },
    );
  }

  /** Deletes a version of a package with all its files. Needs owner on the organization. */
  async delete(
    principal: FleetPrincipal,
    id: string,
    version: string,
    type: RegistryItemType | undefined,
  ): Promise<void> {
    if (version === '') throw invalidArgument('version is required');
    const fileIds = await this.deps.db.transaction().execute(async (trx) => {
      const { record: owned } = await this.deps.authz.require(
        trx,
        principal,
        { type: 'package', id },
        (found) => writePermissionFor(found.item.visibility),
        { lock: true },
      );
      if (type !== undefined && owned.item.type !== type) throw notFound(`package ${id} not found`);
      const ids = await this.deps.repos.registry.deleteVersion(trx, owned.item.id, version);
      if (ids.length === 0) throw notFound(`package ${id} has no version "${version.slice(0, 64)}"`);
      await this.deps.repos.registry.update(trx, owned.item.id, { updatedAt: nowIso() });
      return ids;
    });
    // After the commit: a crash here leaves unreferenced blobs, never a record without its file.
    for (const fileId of fileIds) await this.blobs.delete(fileId);
  }

  /**
   * A file for the download route: with a valid signature, or for a caller who may read its
   * package. A bad signature or an expired URL is PERMISSION_DENIED; no proof at all is
   * UNAUTHENTICATED; a file the caller may not read is NOT_FOUND, like a missing one.
   */
  async download(fileId: string, credentials: DownloadCredentials): Promise<PackageDownload> {
    const { db, repos } = this.deps;
    const { principal, signature } = credentials;
    if (principal === undefined) {
      if (!signature)
        throw unauthenticated(
          'a signed URL or credentials (part_id and secret, key_id and key, or a bearer token) are required',
        );
      const check = this.signer.check(
        downloadPathOf(fileId),
        signature.expires,
        signature.signature,
        Math.floor(Date.now() / 1000),
      );
      if (check === 'expired') throw permissionDenied('the download URL has expired; ask for a new one');
      if (check === 'invalid') throw permissionDenied('the download URL signature is not valid');
    }
    const file = /^[0-9a-f-]{36}$/.test(fileId) ? await repos.registry.findFileById(db, fileId) : undefined;
    const item = file ? await repos.registry.findById(db, file.itemId) : undefined;
    const readable =
      !item ||
      !principal ||
      (await this.deps.authz.find(
        db,
        principal,
        { type: 'package', id: packageIdOf(item.organizationId, item.name) },
        'read_packages',
      ));
    if (!file || !item || !readable) {
      throw notFound('package file not found');
    }
    const checksum = await this.crc32cOf(db, file);
    return {
      sizeBytes: file.sizeBytes,
      sha256: file.sha256,
      crc32c: checksum,
      open: async (range) => {
        const body = await this.blobs.open(file.id, range);
        if (!body) throw notFound('the package file is missing from storage');
        return body;
      },
    };
  }

  /**
   * The `packages` entry and executable path of each registry module in a served config, for a
   * machine on `platform`: the version the config asks for (a semver, `latest` or
   * `latest-with-prerelease`) among those with a file for that platform or for `any`. A module
   * that can't be resolved gets the reason instead, so the rest of the machine still starts.
   */
  async resolveModules(
    db: Db,
    principal: PartPrincipal,
    platform: string,
    modules: readonly { moduleId: string; version: string }[],
  ): Promise<ResolvedModule[]> {
    const resolved: ResolvedModule[] = [];
    for (const { moduleId, version } of modules) {
      let owned: OwnedItem | undefined;
      try {
        const ref = { type: 'registry-item', id: moduleId, field: 'module_id' } as const;
        owned = (await this.deps.authz.find(db, principal, ref, 'read_packages'))?.record;
      } catch {
        // A malformed module id in a config: reported like a missing module.
        owned = undefined;
      }
      if (!owned || owned.item.type !== 'module') {
        resolved.push({ ok: false, error: `module ${moduleId} was not found in the registry` });
        continue;
      }
      const candidates = await this.candidates(db, owned.item);
      const chosen = chooseVersion(candidates, version || LATEST, platform);
      if (!chosen) {
        resolved.push({
          ok: false,
          error: `module ${moduleId} has no version "${version || LATEST}" with a file for platform ${platform}`,
        });
        continue;
      }
      const name = packageNameForModule(moduleId);
      resolved.push({
        ok: true,
        package: {
          name,
          package: packageIdOf(owned.organization.id, owned.item.name),
          version: chosen.version.version,
          type: 'module',
        },
        executablePath: `\${packages.module.${name}}/${chosen.version.entrypoint}`,
      });
    }
    return resolved;
  }

  private async readable(db: Db, principal: Principal, id: string): Promise<OwnedItem> {
    return (await this.deps.authz.require(db, principal, { type: 'package', id }, 'read_packages')).record;
  }

  /** The item's versions with their files and entrypoints. */
  private async candidates(
    db: Db,
    item: RegistryItemRecord,
  ): Promise<(VersionCandidate & { entrypoint: string; files: ItemFileRecord[] })[]> {
    const { registry } = this.deps.repos;
    const files = await registry.listFiles(db, [item.id]);
    return (await registry.listVersions(db, [item.id])).map((v) => ({
      version: v.version,
      createdAt: v.createdAt,
      entrypoint: v.entrypoint,
      files: files.filter((f) => f.version === v.version),
    }));
  }

  /** The platform a machine part last reported (`linux/arm64`), for callers that are parts. */
  private async platformOf(db: Db, principal: Principal): Promise<string | undefined> {
    if (principal.kind !== 'robot-part') return undefined;
    const part = await this.deps.repos.parts.findById(db, principal.id);
    const platform = part?.agentInfo?.platform;
    return typeof platform === 'string' && platform !== '' ? platform.slice(0, 64) : undefined;
  }

  private async describe(
    db: Db,
    owned: OwnedItem,
    version: string,
    file: ItemFileRecord,
    includeUrl: boolean,
  ): Promise<PackageFile> {
    return {
      packageId: packageIdOf(owned.organization.id, owned.item.name),
      organizationId: owned.organization.id,
      name: owned.item.name,
      type: owned.item.type,
      version,
      platform: file.platform,
      sizeBytes: file.sizeBytes,
      sha256: file.sha256,
      crc32c: await this.crc32cOf(db, file),
      uploadedAt: new Date(file.uploadedAt),
      url: includeUrl ? this.signedUrl(file.id) : undefined,
    };
  }

  private signedUrl(fileId: string): string {
    const base = requirePublicUrl(this.deps.settings);
    const path = downloadPathOf(fileId);
    const expiresAt = Math.floor(Date.now() / 1000) + this.settings.urlTtlSeconds;
    return `${base}${path}?${this.signer.query(path, expiresAt)}`;
  }

  /** The file's CRC-32C; computed from its blob (once) for files uploaded before it was recorded. */
  private async crc32cOf(db: Db, file: ItemFileRecord): Promise<number> {
    if (file.crc32c !== undefined) return file.crc32c;
    const body = await this.blobs.open(file.id);
    if (!body) throw notFound('the package file is missing from storage');
    let crc = 0;
    for await (const chunk of body) crc = crc32c(chunk as Buffer, crc);
    await this.deps.repos.registry.setFileCrc32c(db, file.id, crc);
    file.crc32c = crc;
    return crc;
  }

  /**
   * Everything CreatePackage needs besides the bytes. The item, locked; a missing one is created
   * in the final pass (`create`) and left undefined before it.
   */
  private async checkCreate(
    trx: Db,
    principal: FleetPrincipal,
    target: {
      organizationId: string;
      name: string;
      type: RegistryItemType;
      version: string;
      platform: string;
    },
    create: boolean,
  ): Promise<RegistryItemRecord | undefined> {
    const { repos } = this.deps;
    const { authz } = this.deps;
    await authz.require(
      trx,
      principal,
      { type: 'organization', id: target.organizationId },
      'write_packages',
    );
    let item = await repos.registry.findByName(trx, target.organizationId, target.name);
    if (item) {
      const { record: owned } = await authz.require(
        trx,
        principal,
        { type: 'package', id: packageIdOf(target.organizationId, item.name), field: 'package.name' },
        (found) => writePermissionFor(found.item.visibility),
        { lock: true },
      );
      item = owned.item;
      if (item.type !== target.type) {
        throw failedPrecondition(
          `package ${target.name} is a registry item of type ${item.type}, not ${target.type}`,
        );
      }
    } else if (target.type === 'module') {
      throw notFound(
        `module ${target.organizationId}:${target.name} not found; create it with CreateModule first`,
      );
    } else if (create) {
      try {
        item = await repos.registry.createPrivate(trx, {
          id: newId(),
          organizationId: target.organizationId,
          name: target.name,
          type: target.type,
          now: nowIso(),
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw alreadyExists(`package ${target.name} was created meanwhile; retry`);
        throw error;
      }
    } else {
      return undefined;
    }
    if (target.type === 'module' && item.entrypoint === '') {
      throw failedPrecondition('the module has no entrypoint yet; set it with UpdateModule before uploading');
    }
    if (await repos.registry.findFile(trx, item.id, target.version, target.platform)) {
      throw duplicateFile(target.version, target.platform);
    }
    return item;
  }
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
