#!/usr/bin/env bash
# Runs every benchmark of ferrochat, side by side in one run on this machine, and writes
# bench/RESULTS.md: the budgets of issue #13 (metric, ferrochat, baseline, ratio, budget, pass or
# fail) on top, the details below, with the machine and the date.
#
# Needs what scripts/setup.sh installs (Rust, Debian's postgresql, python3-venv). The baseline's
# Python stack (bench/baseline/requirements.txt: FastAPI, SQLAlchemy, PyJWT, uvicorn, psycopg) is
# installed from PyPI into .tools/bench-venv on first use.
#
#   scripts/bench.sh                              everything
#   FERROCHAT_BENCH_ONLY=auth scripts/bench.sh    one section (relay, store, auth, baseline, storm, render, streams)
#
# Exit status: 0 when the run completed, whatever the budgets say (RESULTS.md says that).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.tools/bench-venv
requirements=bench/baseline/requirements.txt
if [ ! -f "$venv/.installed" ] || [ "$requirements" -nt "$venv/.installed" ]; then
  echo "==> installing the baseline's Python stack into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  touch "$venv/.installed"
fi

FERROCHAT_BENCH_VENV="$PWD/$venv" cargo bench --features ssr --bench chat
