#!/usr/bin/env bash
# The long soak: the load test of tests/server/load.rs, bigger and longer than in the test
# command. Default: 500 virtual users for 10 minutes; set FERROCHAT_LOAD_USERS and
# FERROCHAT_LOAD_SECS to change them. Loopback only; prints sends, stops and the server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
export FERROCHAT_LOAD_USERS=${FERROCHAT_LOAD_USERS:-500}
export FERROCHAT_LOAD_SECS=${FERROCHAT_LOAD_SECS:-600}
exec cargo test --release --features ssr --test server -- load:: --nocapture
