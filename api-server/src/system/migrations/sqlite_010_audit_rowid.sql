-- `id BIGINT PRIMARY KEY` made SQLite keep the audit table in rowid order plus a separate
-- unique index on `id`: every event written updated one b-tree more than needed. As
-- `INTEGER PRIMARY KEY`, `id` is the rowid itself. Same rows, same order, same hashes.
CREATE TABLE audit_events_by_id (
    id INTEGER PRIMARY KEY,
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
    hash TEXT NOT NULL,
    response TEXT
);
INSERT INTO audit_events_by_id (id, ts, request_id, kind, transport, tool, principal, user_id,
    email, provider, app_id, role_id, client, method, service, resource, params, status,
    error_code, rows_count, latency_us, changes, prev_hash, hash, response)
SELECT id, ts, request_id, kind, transport, tool, principal, user_id, email, provider, app_id,
    role_id, client, method, service, resource, params, status, error_code, rows_count,
    latency_us, changes, prev_hash, hash, response
FROM audit_events ORDER BY id;
DROP TABLE audit_events;
ALTER TABLE audit_events_by_id RENAME TO audit_events;
CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_user ON audit_events (user_id);
