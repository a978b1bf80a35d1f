#!/usr/bin/env bash
# Installs what ferrochat needs to build, run and test, from crates.io, npm and Debian only.
# Idempotent: each step checks first, so a second run takes seconds. Tool versions live here.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.6
PYJWT_VERSION=2.10.1
AIOSMTPD_VERSION=1.4.6

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# no_downloads: cargo-leptos must use the wasm-bindgen and wasm-opt installed here instead of
# fetching its own from GitHub, which is not reachable.
if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly. Not --locked: its lockfile pins a
# crate version the registry no longer serves.
wasm_bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  step "installing wasm-bindgen-cli $wasm_bindgen_version"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# Debian packages: the browser Playwright drives, and PostgreSQL for the store suites (the test
# harness starts a throwaway server of its own; no service is set up).
debian_packages=()
[ -x /usr/bin/chromium ] || debian_packages+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || debian_packages+=(postgresql)
if [ ${#debian_packages[@]} -gt 0 ]; then
  step "installing Debian's ${debian_packages[*]}"
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends "${debian_packages[@]}"
fi

# Playwright, and binaryen for wasm-opt (cargo-leptos finds it on PATH, see scripts/env.sh).
if [ ! -f end2end/node_modules/.package-lock.json ] ||
  [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "installing end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund)
fi

# Python test peers: PyJWT (the seed backend's token verification) and aiosmtpd (a real SMTP
# server for the mail tests).
if ! .tools/venv/bin/python -c "
import jwt, cryptography, aiosmtpd
assert jwt.__version__ == '$PYJWT_VERSION' and aiosmtpd.__version__ == '$AIOSMTPD_VERSION'" 2>/dev/null; then
  step "installing PyJWT $PYJWT_VERSION and aiosmtpd $AIOSMTPD_VERSION in .tools/venv"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check \
    "PyJWT[crypto]==$PYJWT_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
fi
