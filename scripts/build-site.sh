#!/usr/bin/env bash
# Builds the release site: the server binary (target/release/ferrochat) and what it serves
# (target/site), the same steps `cargo leptos build --release` takes, with tools that install in
# seconds (wasm-bindgen-cli from crates.io; wasm-opt, esbuild and lightningcss from npm).
#
# Why not cargo-leptos itself: compiling it (it links a JS minifier, a CSS engine and WASM tools)
# takes 12 minutes of a 2-core machine's both cores, which alone put a cold test run over issue
# #13's 30-minute budget. It stays the dev loop's tool (`make watch`), installed on demand.
#
# The settings mirror [package.metadata.leptos] in Cargo.toml (output-name, site-root,
# site-pkg-dir, style-file, assets-dir, browserquery, hash-files, lib-profile-release); the size
# budget and the Playwright suites run against this script's output.
#
# Arguments go to the server's cargo build (the test command passes its build settings).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

name=ferrochat
site=target/site
pkg=$site/pkg

# What cargo-leptos exports to both builds: Leptos reads LEPTOS_OUTPUT_NAME at compile time (the
# bundle's name in the page), so the server and the browser build must agree on it.
export LEPTOS_OUTPUT_NAME=$name LEPTOS_SITE_ROOT=$site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=. LEPTOS_BIN_DIR=. \
  LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=true LEPTOS_HASH_FILE_NAME=hash.txt

# The two compiles share the cores; the browser build has a target directory of its own so that
# neither waits for the other's lock.
cargo build --package=$name --lib --target-dir=target/front --target=wasm32-unknown-unknown \
  --profile=wasm-release --no-default-features --features=hydrate &
front=$!
cargo build --package=$name --bin=$name --no-default-features --features=ssr --release "$@"
wait "$front"

rm -rf "$site"
mkdir -p "$pkg"
cp -R public/. "$site/"

# The bundle: wasm-bindgen's glue, the WASM optimised for size, the glue minified.
wasm-bindgen --target=web --no-typescript --out-name=$name --out-dir="$pkg" \
  target/front/wasm32-unknown-unknown/wasm-release/$name.wasm
mv "$pkg/${name}_bg.wasm" "$pkg/$name.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$pkg/$name.wasm" \
  -o "$pkg/$name.wasm"
esbuild "$pkg/$name.js" --minify --format=esm --log-level=warning --outfile="$pkg/$name.min.js"
mv "$pkg/$name.min.js" "$pkg/$name.js"

# The stylesheet, minified and lowered for the browsers of `browserquery`.
lightningcss --minify --targets defaults style/main.css -o "$pkg/$name.css"

# Content-hashed names (cargo-leptos' scheme: base64url MD5 of the file), so browsers may cache
# them for a year (src/assets.rs); the server finds them in hash.txt beside its binary.
# wasm-bindgen's snippets would be imported by their plain names from the glue: the app has none,
# and this stops here if that changes rather than ship a glue that imports what is not there.
if [ -d "$pkg/snippets" ]; then
  echo "build-site: $pkg/snippets exists; hashing wasm-bindgen snippets is not supported" >&2
  exit 1
fi
node - "$pkg" "$name" target/release/hash.txt <<'JS'
const { createHash } = require('node:crypto');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const [pkg, name, hashFile] = process.argv.slice(2);
let lines = '';
for (const ext of ['js', 'wasm', 'css']) {
  const file = `${pkg}/${name}.${ext}`;
  const hash = createHash('md5').update(readFileSync(file)).digest('base64url');
  renameSync(file, `${pkg}/${name}.${hash}.${ext}`);
  lines += `${ext}: ${hash}\n`;
}
writeFileSync(hashFile, lines);
JS
ls -l "$pkg"
