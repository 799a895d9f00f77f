-- MCP authorization: Rampart as the OAuth 2.1 authorization server of its /mcp resource.
-- Keep in step with postgres_011_oauth.sql.
--
-- Pre-registered clients. Each lives in an app, whose role rules apply to what it does.
-- Clients are public (PKCE, no secret): nothing here is a credential.
CREATE TABLE oauth_clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
-- Authorization requests in flight (sign-in and consent), keyed by the hash of their handle.
CREATE TABLE oauth_requests (
    handle_hash TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Authorization codes, keyed by their hash. A code is exchanged once: grant_id is set then,
-- and a second exchange revokes that grant (RFC 9700 §4.2.4). Kept a while after expiry.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    grant_id INTEGER
);
-- What a user allowed a client: its role and scopes at consent. Tokens name their grant,
-- and every use checks it is still in force.
CREATE TABLE oauth_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    session_epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX oauth_grants_user ON oauth_grants(user_id);
-- Refresh tokens by hash. Each use rotates the token; a used one presented again revokes
-- its grant (reuse detection).
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens(grant_id);
