import { pipeline } from 'node:stream/promises';
import type { Principal } from '../authz/principal.js';
import { crc32cBase64 } from '../crypto/crc32c.js';
import { bearerTokenOf } from '../domain/bearer.js';
import type { BlobRange } from '../store/blob-store.js';
import type { AuthenticationService } from '../services/authentication-service.js';
import type { PackageService } from '../services/package-service.js';
import type { AnyRequest } from './http-front.js';
import type { StatusOverrides } from './http-errors.js';
import { replyFailure, type HttpRoute } from './http-replies.js';
import type { Logger } from '../domain/logger.js';

const PATH = /^\/packages\/([^/]+)$/;

/** Malformed ids read as missing files; every other kind keeps its shared status. */
const PACKAGE_STATUSES: StatusOverrides = { invalid_argument: 404 };

/** The caller that a request's headers prove, if they carry credentials (viam-server's, or a token). */
async function principalOfHeaders(
  req: AnyRequest,
  auth: AuthenticationService,
): Promise<Principal | undefined> {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const partId = header('part_id');
  const keyId = header('key_id');
  if (keyId !== undefined) return auth.principalForCredentials(keyId, 'api-key', header('key') ?? '');
  if (partId !== undefined)
    return auth.principalForCredentials(partId, 'robot-secret', header('secret') ?? '');
  const token = bearerTokenOf(req.headers.authorization);
  return token === undefined ? undefined : auth.principalFor(token);
}

/**
 * A `Range` header for a file of `size` bytes: the one range asked for, `'unsatisfiable'`, or
 * undefined for the whole file (no header, or one this route does not serve, such as several
 * ranges, which HTTP lets a server answer with the whole file).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): BlobRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, from = '', to = ''] = match;
  if (from === '' && to === '') return undefined;
  if (from === '') {
    // The last N bytes.
    const length = Number(to);
    if (length === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(from);
  if (start >= size) return 'unsatisfiable';
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (end < start) return undefined;
  return { start, end };
}

/**
 * `GET` / `HEAD /packages/<file id>`: a package file, as viam-server downloads it. Proof of
 * access is either the URL's signature (from GetPackage with `include_url`; no header needed) or
 * credentials in headers (`part_id` + `secret`, `key_id` + `key`, or `authorization: Bearer`).
 * Replies carry `Content-Type: application/x-gzip`, `Content-Length`, `Accept-Ranges: bytes`
 * and `x-goog-hash: crc32c=<base64>`; a `Range` request gets `206`. Wrong credentials: 401; a bad
 * or expired signature: 403; a missing file, or one the caller may not read: 404.
 */
export function packageDownloadRoute(
  packages: PackageService,
  auth: AuthenticationService,
  logger: Logger,
): HttpRoute {
  return (req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?', 2);
    const match = PATH.exec(path);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !match?.[1]) return false;
    const fileId = match[1];
    const params = new URLSearchParams(query);
    const expires = params.get('expires');
    const signature = params.get('signature');
    void (async () => {
      const principal = await principalOfHeaders(req, auth);
      const file = await packages.download(fileId, {
        principal,
        signature: expires !== null && signature !== null ? { expires, signature } : undefined,
      });
      const headers = {
        'content-type': 'application/x-gzip',
        'accept-ranges': 'bytes',
        'x-goog-hash': `crc32c=${crc32cBase64(file.crc32c)}`,
        etag: `"${file.sha256}"`,
        'cache-control': 'private, no-transform',
      };
      const range = parseRange(
        typeof req.headers.range === 'string' ? req.headers.range : undefined,
        file.sizeBytes,
      );
      if (range === 'unsatisfiable') {
        res.writeHead(416, {
          ...headers,
          'content-range': `bytes */${file.sizeBytes}`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      const length = range ? range.end - range.start + 1 : file.sizeBytes;
      const status = range ? 206 : 200;
      res.writeHead(status, {
        ...headers,
        'content-length': String(length),
        ...(range && { 'content-range': `bytes ${range.start}-${range.end}/${file.sizeBytes}` }),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(await file.open(range), res as NodeJS.WritableStream);
    })().catch((error: unknown) => replyFailure(res, error, logger, 'package download', PACKAGE_STATUSES));
    return true;
  };
}
