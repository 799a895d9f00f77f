#!/usr/bin/env bash
# Builds Rampart (release), installs the load generator and the peer when missing, then runs
# bench/run.py with the given arguments (e.g. --scale 1 --duration 10, or --smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh >/dev/null
if [[ " $* " != *" --rampart-bin "* ]]; then
  cargo build --release --bin rampart
fi
exec target/ci-venv/bin/python3 bench/run.py "$@"
