#!/usr/bin/env bash
# Measures the latency MCP authorization adds per call: starts a release `rampart` on a copy
# of the test shop database, registers it, a reader role, an app, a user and an OAuth client,
# and runs mcp_auth.py (API key against OAuth access token, same role).
# Needs what `scripts/setup-test-env.sh` installs. Usage: bash bench/mcp_auth.sh [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart
source bench/shop_server.sh
start_shop_server 18182 rampart_bench_mcp_auth
role=$(curl -sf "$base/api/v2/system/role" "${auth[@]}" -d '{"resource":[{"name":"reader","role_service_access_by_role_id":[{"service_id":1,"component":"_table/*","verb_mask":1}]}]}' | json "['resource'][0]['id']")
app=$(curl -sf "$base/api/v2/system/app" "${auth[@]}" -d "{\"resource\":[{\"name\":\"bench\",\"role_id\":$role}]}")
key=$(echo "$app" | json "['resource'][0]['api_key']")
app_id=$(echo "$app" | json "['resource'][0]['id']")
password=amber-harbour-lantern-9
curl -sf "$base/api/v2/system/user" "${auth[@]}" -d "{\"resource\":[{\"email\":\"agent-user@example.com\",\"password\":\"$password\"}]}" >/dev/null
curl -sf "$base/api/v2/system/oauth_client" "${auth[@]}" -d "{\"resource\":[{\"client_id\":\"bench-agent\",\"name\":\"Bench agent\",\"app_id\":$app_id,\"redirect_uris\":[\"http://127.0.0.1/callback\"]}]}" >/dev/null
"$py" bench/mcp_auth.py "$base" "$key" bench-agent agent-user@example.com "$password" "${1:-1000}"
