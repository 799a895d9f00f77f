-- The audit trail: one row per API request, MCP tool call, sign-in and system change. Each
-- row's hash covers its content and the previous row's hash (`rampart audit verify`).
CREATE TABLE audit_events (
    id BIGINT PRIMARY KEY,
    ts BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    transport TEXT NOT NULL,
    tool TEXT,
    principal TEXT NOT NULL,
    user_id BIGINT,
    email TEXT,
    provider TEXT,
    app_id BIGINT,
    role_id BIGINT,
    client TEXT NOT NULL,
    method TEXT NOT NULL,
    service TEXT,
    resource TEXT,
    params TEXT NOT NULL,
    status BIGINT NOT NULL,
    error_code TEXT,
    rows_count BIGINT,
    latency_us BIGINT NOT NULL,
    changes TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_user ON audit_events (user_id);

-- The end of the chain; writers take its row lock, so nodes sharing a store append in turn.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    last_id BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '');
