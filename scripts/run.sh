#!/usr/bin/env bash
# Builds the release site and runs ferrochat on http://127.0.0.1:3000 (LEPTOS_SITE_ADDR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
scripts/build-site.sh
node scripts/precompress.mjs target/site
exec target/release/ferrochat
