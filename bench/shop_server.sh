# Sourced by the benchmarks that need one release `rampart` over a copy of the test shop
# database: `start_shop_server PORT DB` creates the database, starts the server (stopped and
# cleaned up when the script exits), signs the admin in and registers the shop as service
# `db`. It sets `py` (the virtualenv's Python), `base`, `auth` (the admin's header) and the
# helper `json`. Needs what `scripts/setup-test-env.sh` installs.
py=target/ci-venv/bin/python3
json() { "$py" -c "import sys, json; print(json.load(sys.stdin)$1)"; }

start_shop_server() {
  local port=$1
  db=$2
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql -h 127.0.0.1 -U postgres -q -d "$db" -f tests/fixtures/shop.sql >/dev/null
  data=$(mktemp -d)
  RAMPART_LISTEN=127.0.0.1:$port RAMPART_DATA_DIR="$data" RUST_LOG=warn \
    RAMPART_ADMIN_EMAIL=bench@example.com RAMPART_ADMIN_PASSWORD=quiet-lantern-meadow \
    target/release/rampart serve >"$data/log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$data"; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db"' EXIT
  base=http://127.0.0.1:$port
  for _ in $(seq 1 50); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
  local token
  token=$(curl -sf "$base/api/v2/system/admin/session" -d '{"email":"bench@example.com","password":"quiet-lantern-meadow"}' | json "['session_token']")
  auth=(-H "Authorization: Bearer $token")
  curl -sf "$base/api/v2/system/service" "${auth[@]}" -d "{\"resource\":[{\"name\":\"db\",\"type\":\"pgsql\",\"config\":{\"host\":\"127.0.0.1\",\"port\":5432,\"database\":\"$db\",\"username\":\"postgres\"}}]}" >/dev/null
}
