#!/usr/bin/env bash
# Installs what ferrochat needs to build, run and test, from crates.io, npm, Debian and PyPI only.
# Idempotent: each step checks first, so a second run takes seconds. Tool versions live here.
# `scripts/setup.sh watch` adds cargo-leptos, the dev loop's tool (`make watch`); the release
# build (scripts/build-site.sh) and the tests do without it.
#
# The installs are independent, so they run side by side: the `cargo install`s keep the CPU
# busy while apt, npm and pip mostly wait on the network. On a fresh machine that saves minutes
# of the test command. Each install's output is kept and printed whole when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.6
PYJWT_VERSION=2.10.1
AIOSMTPD_VERSION=1.4.6

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Quick and needed by the compiles below (and by the caller's clippy of the browser build).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

cargo_leptos() {
  # no_downloads: cargo-leptos must use the wasm-bindgen and wasm-opt installed here instead of
  # fetching its own from GitHub, which is not reachable.
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
    cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
  fi
}

wasm_bindgen() {
  # wasm-bindgen-cli must match the wasm-bindgen crate exactly. Not --locked: its lockfile pins a
  # crate version the registry no longer serves. No default features: they only add TLS to the
  # test runner's HTTP client (a C build of `ring`), and only the wasm-bindgen binary is used.
  local version
  version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print }' Cargo.lock)
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
    step "installing wasm-bindgen-cli $version"
    cargo install wasm-bindgen-cli --version "$version" --no-default-features --bin wasm-bindgen
  fi
}

debian() {
  # The browser Playwright drives (its headless shell for the browser suite, full Chromium for
  # one of its tests and the first-load benchmark: end2end/support/chromium.js), and PostgreSQL
  # for the store suites (the test harness starts a throwaway server of its own; no service is
  # set up).
  local packages=()
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  [ -x /usr/bin/chromium-headless-shell ] || packages+=(chromium-headless-shell)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
  if [ ${#packages[@]} -gt 0 ]; then
    step "installing Debian's ${packages[*]}"
    as_root apt-get update
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends "${packages[@]}"
  fi
}

npm_packages() {
  # Playwright, and the release build's tools: binaryen (wasm-opt), esbuild and lightningcss.
  if [ ! -f end2end/node_modules/.package-lock.json ] ||
    [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    step "installing end2end npm packages"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
}

python_peers() {
  # PyJWT (the seed backend's token verification) and aiosmtpd (a real SMTP server for the mail
  # tests).
  if ! .tools/venv/bin/python -c "
import jwt, cryptography, aiosmtpd
assert jwt.__version__ == '$PYJWT_VERSION' and aiosmtpd.__version__ == '$AIOSMTPD_VERSION'" 2>/dev/null; then
    step "installing PyJWT $PYJWT_VERSION and aiosmtpd $AIOSMTPD_VERSION in .tools/venv"
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install --quiet --disable-pip-version-check \
      "PyJWT[crypto]==$PYJWT_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
  fi
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
installs=(wasm_bindgen debian npm_packages python_peers)
if [ "${1:-}" = watch ]; then installs+=(cargo_leptos); fi
declare -A pids
for install in "${installs[@]}"; do
  "$install" >"$logs/$install.log" 2>&1 &
  pids[$install]=$!
done
failed=()
for install in "${installs[@]}"; do
  wait "${pids[$install]}" || failed+=("$install")
  cat "$logs/$install.log"
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'setup: failed: %s\n' "${failed[*]}" >&2
  exit 1
fi
