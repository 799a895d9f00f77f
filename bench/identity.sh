#!/usr/bin/env bash
# Sign-in latency per identity provider (local, LDAP, OpenID Connect, SAML) and the per-request
# cost of session verification, against a release `rampart` and the real providers the tests
# use. Needs what `scripts/setup-test-env.sh` installs. Usage: bash bench/identity.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart
RAMPART_BIN="$PWD/target/release/rampart" cargo run --release -q -p rampart-tests --bin identity-bench -- "${1:-30}"
