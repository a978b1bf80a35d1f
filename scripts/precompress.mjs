// Writes .br and .gz files next to the site's static assets, at the strongest settings, so the
// server sends them as they are (ServeDir's precompressed mode) instead of compressing per request.
// Usage: node scripts/precompress.mjs <site-root>
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, extname } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const COMPRESSIBLE = new Set(['.js', '.wasm', '.css', '.svg', '.html', '.json', '.txt']);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (COMPRESSIBLE.has(extname(entry.name))) yield path;
  }
}

function isFresh(target, source) {
  try {
    return statSync(target).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

const root = process.argv[2];
if (!root) {
  console.error('usage: node scripts/precompress.mjs <site-root>');
  process.exit(2);
}
let written = 0;
for (const path of files(root)) {
  const data = readFileSync(path);
  if (!isFresh(`${path}.br`, path)) {
    const br = brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    });
    writeFileSync(`${path}.br`, br);
    written++;
  }
  if (!isFresh(`${path}.gz`, path)) {
    writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
    written++;
  }
}
console.log(`precompress: ${written} files written under ${root}`);
