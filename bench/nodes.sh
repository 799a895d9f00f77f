#!/usr/bin/env bash
# How fast a change made through one node holds on another sharing the PostgreSQL system
# store (role deactivated on A → refused on B), with a release `rampart`.
# Usage: bash bench/nodes.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart
RAMPART_BIN="$PWD/target/release/rampart" cargo run --release -q -p rampart-tests --bin nodes-bench -- "${1:-20}"
