import type { ServiceImpl } from '@connectrpc/connect';
import { Timestamp } from '@bufbuild/protobuf';
import { crc32cBase64 } from '../crypto/crc32c.js';
import type { PackageFile, PackageService } from '../services/package-service.js';
import { callerOf, anyCallerOf } from './call-context.js';
import {
  type CreatePackageRequest,
  FileInfo,
  Package,
  PackageInfo,
  type PackageService as PackageServiceDescriptor,
} from './package-service.generated.js';
import { enumOf, PACKAGE_TYPE_NUMBERS, PACKAGE_TYPES } from './wire-enums.js';
import { splitUpload } from './upload-stream.js';

/** A stored package file as `viam.app.packages.v1.Package`; `checksum` is its CRC-32C, as in `x-goog-hash`. */
function toPackage(file: PackageFile): Package {
  return new Package({
    id: file.packageId,
    info: new PackageInfo({
      organizationId: file.organizationId,
      name: file.name,
      version: file.version,
      type: PACKAGE_TYPE_NUMBERS[file.type],
      platform: file.platform,
      files: [new FileInfo({ name: `${file.name}-${file.version}.tar.gz`, size: BigInt(file.sizeBytes) })],
    }),
    url: file.url ?? '',
    createdOn: Timestamp.fromDate(file.uploadedAt),
    checksum: crc32cBase64(file.crc32c),
  });
}

/** viam.app.packages.v1.PackageService: what machines download, and what owners upload. */
export function packageHandlers(packages: PackageService): ServiceImpl<typeof PackageServiceDescriptor> {
  return {
    async getPackage(req, ctx) {
      const file = await packages.get(anyCallerOf(ctx), {
        id: req.id,
        version: req.version,
        type: enumOf(PACKAGE_TYPES, req.type ?? 0, 'type'),
        platform: req.platform,
        includeUrl: req.includeUrl ?? false,
      });
      return { package: toPackage(file) };
    },
    async listPackages(req, ctx) {
      const files = await packages.list(anyCallerOf(ctx), {
        organizationId: req.organizationId,
        name: req.name,
        version: req.version,
        type: enumOf(PACKAGE_TYPES, req.type ?? 0, 'type'),
        includeUrl: req.includeUrl ?? false,
      });
      return { packages: files.map(toPackage) };
    },
    async createPackage(requests, ctx) {
      const principal = callerOf(ctx);
      const { info, bytes } = await splitUpload<CreatePackageRequest, PackageInfo>(
        requests,
        ({ package: part }) =>
          part.case === 'info'
            ? { info: part.value }
            : part.case === 'contents'
              ? { bytes: part.value }
              : undefined,
        'info',
      );
      return packages.create(
        principal,
        {
          organizationId: info.organizationId,
          name: info.name,
          version: info.version,
          type: enumOf(PACKAGE_TYPES, info.type, 'package.type'),
          platform: info.platform,
        },
        bytes,
        ctx.signal,
      );
    },
    async deletePackage(req, ctx) {
      await packages.delete(callerOf(ctx), req.id, req.version, enumOf(PACKAGE_TYPES, req.type, 'type'));
      return {};
    },
  };
}
