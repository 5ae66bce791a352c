import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRoute } from './http-replies.js';

/** Where `npm run build` puts the console (console/vite.config.ts), from src/server or dist/server. */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Everything the console loads comes from this origin: scripts and connections only to 'self';
 * inline styles are allowed because the JSON editor (CodeMirror) sets them.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * A path the console's router may own: not an RPC (`/viam.app.v1.AppService/...`), not a file
 * (`/x.js`), not under `/assets/`.
 */
function isPagePath(path: string): boolean {
  const segments = path.split('/');
  if (segments[1] === 'assets') return false;
  return !(segments[1] ?? '').includes('.') && !(segments.at(-1) ?? '').includes('.');
}

interface StaticFile {
  body: Buffer;
  type: string;
  /** Hashed assets never change under their name; everything else is checked on each load. */
  immutable: boolean;
}

/** Every file of the built console, read once at start (a few hundred KB). */
function readConsole(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const url = `/${relative(dir, path).split(sep).join('/')}`;
        files.set(url, {
          body: readFileSync(path),
          type: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
          immutable: url.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * The web console (console/, built into static files): `GET` and `HEAD` of its files, and of
 * `index.html` for any other page path, so the console's own links can be opened and reloaded.
 * Anything else goes on to the next handler. Returns undefined when the console was not built.
 */
export function consoleRoute(dir = BUILT_CONSOLE_DIR): HttpRoute | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = readConsole(dir);
  const index = files.get('/index.html');
  if (!index) return undefined;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let file = files.get(path);
    if (!file) {
      if (!isPagePath(path)) return false;
      file = index;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': String(file.body.length),
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(file.body);
    return true;
  };
}
