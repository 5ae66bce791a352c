// Reports the size of the built console (dist/console): every file, raw and gzip-compressed,
// and the totals. Run by `npm run build` after Vite; writes dist/console/bundle-size.json too.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('../dist/console', import.meta.url).pathname;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const rows = files(root)
  .filter((path) => !path.endsWith('bundle-size.json'))
  .map((path) => {
    const bytes = readFileSync(path);
    return { file: relative(root, path), bytes: bytes.length, gzip: gzipSync(bytes).length };
  })
  .sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((sum, r) => ({ bytes: sum.bytes + r.bytes, gzip: sum.gzip + r.gzip }), {
  bytes: 0,
  gzip: 0,
});
writeFileSync(join(root, 'bundle-size.json'), `${JSON.stringify({ total, files: rows }, null, 2)}\n`);
console.log(
  `console bundle: ${rows.length} files, ${kb(total.bytes)} (${kb(total.gzip)} gzip) in dist/console`,
);
for (const r of rows.slice(0, 4)) console.log(`  ${r.file}  ${kb(r.bytes)} (${kb(r.gzip)} gzip)`);
