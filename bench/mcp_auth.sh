#!/usr/bin/env bash
# Measures the latency MCP authorization adds per call: starts a release `rampart` on a copy
# of the test shop database, registers it, a reader role, an app, a user and an OAuth client,
# and runs mcp_auth.py (API key against OAuth access token, same role).
# Needs what `scripts/setup-test-env.sh` installs. Usage: bash bench/mcp_auth.sh [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart
py=target/ci-venv/bin/python3
db=rampart_bench_mcp_auth
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -h 127.0.0.1 -U postgres -q -d "$db" -f tests/fixtures/shop.sql >/dev/null
data=$(mktemp -d)
port=18182
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
app=$(curl -sf "$base/api/v2/system/app" "${auth[@]}" -d "{\"resource\":[{\"name\":\"bench\",\"role_id\":$role}]}")
key=$(echo "$app" | json "['resource'][0]['api_key']")
app_id=$(echo "$app" | json "['resource'][0]['id']")
password=amber-harbour-lantern-9
curl -sf "$base/api/v2/system/user" "${auth[@]}" -d "{\"resource\":[{\"email\":\"agent-user@example.com\",\"password\":\"$password\"}]}" >/dev/null
curl -sf "$base/api/v2/system/oauth_client" "${auth[@]}" -d "{\"resource\":[{\"client_id\":\"bench-agent\",\"name\":\"Bench agent\",\"app_id\":$app_id,\"redirect_uris\":[\"http://127.0.0.1/callback\"]}]}" >/dev/null
"$py" bench/mcp_auth.py "$base" "$key" bench-agent agent-user@example.com "$password" "${1:-1000}"
