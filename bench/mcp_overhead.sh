#!/usr/bin/env bash
# Measures what an MCP `query_rows` call costs over the REST GET it becomes: starts a release
# `rampart` on a copy of the test shop database, registers it, and runs mcp_overhead.py.
# Needs what `scripts/setup-test-env.sh` installs. Usage: bash bench/mcp_overhead.sh [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin rampart --bin rampart-mcp
source bench/shop_server.sh
start_shop_server 18181 rampart_bench_mcp
role=$(curl -sf "$base/api/v2/system/role" "${auth[@]}" -d '{"resource":[{"name":"reader","role_service_access_by_role_id":[{"service_id":1,"component":"_table/*","verb_mask":1}]}]}' | json "['resource'][0]['id']")
key=$(curl -sf "$base/api/v2/system/app" "${auth[@]}" -d "{\"resource\":[{\"name\":\"bench\",\"role_id\":$role}]}" | json "['resource'][0]['api_key']")
"$py" bench/mcp_overhead.py "$base" "$key" target/release/rampart-mcp "${1:-500}"
