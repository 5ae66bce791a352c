import { pipeline } from 'node:stream/promises';
import { bearerTokenOf } from '../domain/bearer.js';
import { notFound, unauthenticated } from '../domain/errors.js';
import type { RegistryItem } from '../domain/models.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { ModuleFileService } from '../services/module-file-service.js';
import type { RegistryService } from '../services/registry-service.js';
import type { StatusOverrides } from './http-errors.js';
import { replyFailure, replyJson, type HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';

const PREFIX = '/modules/';

/** Missing, hidden and malformed alike: nothing here for this caller. Only a bad token is 401. */
const MODULE_STATUSES: StatusOverrides = {
  invalid_argument: 404,
  permission_denied: 404,
  already_exists: 404,
  failed_precondition: 404,
  resource_exhausted: 404,
};

/** Path segments after `/modules/`, decoded; undefined if one is not valid percent-encoding. */
function segmentsOf(path: string): string[] | undefined {
  try {
    return path.slice(PREFIX.length).split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** What `GET /modules/<module id>` shows: the module, its versions and where each file is. */
function describe(item: RegistryItem, url: string) {
  return {
    module_id: item.itemId,
    name: item.name,
    organization_id: item.organizationId,
    visibility: item.visibility,
    description: item.description,
    url: item.url,
    entrypoint: item.entrypoint,
    models: item.models.map((m) => ({ api: m.api, model: m.model })),
    versions: item.versions.map((v) => ({
      version: v.version,
      entrypoint: v.entrypoint,
      files: v.files.map((f) => ({
        platform: f.platform,
        size_bytes: f.sizeBytes,
        sha256: f.sha256,
        uploaded_at: f.uploadedAt.toISOString(),
        download_url: `${url}/${v.version}/${f.platform}`,
      })),
    })),
  };
}

/**
 * Module files over plain HTTP, with `authorization: Bearer <token>` (a user's, a key's, or a
 * machine part's):
 * - `GET /modules/<module id>/<version>/<platform>`: the bytes, with `Content-Length` and
 *   `X-Content-SHA256`;
 * - `GET /modules/<module id>`: the module and its files as JSON.
 *
 * 401 without a valid token; 404 for anything that does not exist or that the caller may not read.
 */
export function moduleDownloadRoute(
  registry: RegistryService,
  moduleFiles: ModuleFileService,
  auth: AuthenticationService,
  logger: Logger,
): HttpRoute {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !path.startsWith(PREFIX)) return false;
    const head = req.method === 'HEAD';
    const token = bearerTokenOf(req.headers.authorization);
    void (async () => {
      if (!token) throw unauthenticated('missing bearer token');
      const principal = await auth.principalFor(token);
      const [moduleId = '', version, ...platform] = segmentsOf(path) ?? [];
      if (version === undefined) {
        const item = await moduleFiles.describe(principal, moduleId);
        replyJson(res, 200, describe(item, registry.moduleUrl(item.itemId)));
        return;
      }
      if (platform.length === 0) throw notFound('the path must be /modules/<module id>/<version>/<platform>');
      const file = await moduleFiles.download(principal, moduleId, version, platform.join('/'));
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(file.sizeBytes),
        'x-content-sha256': file.sha256,
        etag: `"${file.sha256}"`,
      });
      if (head) {
        file.body.destroy();
        res.end();
        return;
      }
      await pipeline(file.body, res as NodeJS.WritableStream);
    })().catch((error: unknown) => replyFailure(res, error, logger, 'module download', MODULE_STATUSES));
    return true;
  };
}
