#!/usr/bin/env bash
# The audit trail's cost: HEAD's release build against the same source with
# bench/no-audit.patch applied (no request audited), measured by bench/audit_cost.py.
# Needs PostgreSQL, wrk and the virtualenv of scripts/setup-test-env.sh. The second build goes
# to target/bench-no-audit (a separate target dir: about as long as a first release build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK="$ROOT/target/bench-no-audit"
rm -rf "$WORK/src" && mkdir -p "$WORK/src"
git -C "$ROOT" archive HEAD | tar -x -C "$WORK/src"
(cd "$WORK/src" && patch -s -p1 < "$ROOT/bench/no-audit.patch" \
  && cargo build -q --release --bin rampart --target-dir "$WORK/target")
(cd "$ROOT" && cargo build -q --release --bin rampart)
PY="$ROOT/target/ci-venv/bin/python3"
[ -x "$PY" ] || PY=python3
exec "$PY" "$ROOT/bench/audit_cost.py" --with "$ROOT/target/release/rampart" \
  --without "$WORK/target/release/rampart" "$@"
