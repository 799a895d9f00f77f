#!/usr/bin/env bash
# Measures what an MCP `query_rows` call costs over the REST GET it becomes: starts a release
# `rampart` on a copy of the test shop database, registers it, and runs mcp_overhead.py.
# Needs what `scripts/setup-test-env.sh` installs. Usage: bash bench/mcp_overhead.sh [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart --bin rampart-mcp
py=target/ci-venv/bin/python3
db=rampart_bench_mcp
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -h 127.0.0.1 -U postgres -q -d "$db" -f tests/fixtures/shop.sql >/dev/null
data=$(mktemp -d)
port=18181
RAMPART_LISTEN=127.0.0.1:$port RAMPART_DATA_DIR="$data" RUST_LOG=warn \
  RAMPART_ADMIN_EMAIL=bench@example.com RAMPART_ADMIN_PASSWORD=quiet-lantern-meadow \
  target/release/rampart serve >"$data/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 1 50); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
json() { "$py" -c "import sys, json; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf "$base/api/v2/system/admin/session" -d '{"email":"bench@example.com","password":"quiet-lantern-meadow"}' | json "['session_token']")
auth=(-H "Authorization: Bearer $token")
curl -sf "$base/api/v2/system/service" "${auth[@]}" -d "{\"resource\":[{\"name\":\"db\",\"type\":\"pgsql\",\"config\":{\"host\":\"127.0.0.1\",\"port\":5432,\"database\":\"$db\",\"username\":\"postgres\"}}]}" >/dev/null
role=$(curl -sf "$base/api/v2/system/role" "${auth[@]}" -d '{"resource":[{"name":"reader","role_service_access_by_role_id":[{"service_id":1,"component":"_table/*","verb_mask":1}]}]}' | json "['resource'][0]['id']")
key=$(curl -sf "$base/api/v2/system/app" "${auth[@]}" -d "{\"resource\":[{\"name\":\"bench\",\"role_id\":$role}]}" | json "['resource'][0]['api_key']")
"$py" bench/mcp_overhead.py "$base" "$key" target/release/rampart-mcp "${1:-500}"
