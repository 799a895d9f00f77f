-- Local users: DreamFactory's per-app roles (`user_to_app_to_role`), single-use password
-- reset codes, and a session epoch per user (tokens carry the epoch they were issued in; a
-- password change, a disable or a role change bumps it and so revokes every older session).
-- Keep in step with postgres_003_local_users.sql.
CREATE TABLE user_app_roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    UNIQUE (user_id, app_id)
);
CREATE INDEX user_app_roles_role ON user_app_roles(role_id);
CREATE TABLE password_resets (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
-- Session-token signing keys, sealed with the master key. The newest unretired key signs;
-- retired keys still verify the tokens they signed until those expire (`rampart keys rotate`).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
-- Moves on with every change to the system data: each instance watches it and drops its
-- caches (roles, users, apps, keys, revocations) when it moves, so a change made on one
-- instance (or by the CLI) holds on all of them.
CREATE TABLE system_version (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO system_version (id, version) VALUES (1, 0);
-- The groups an identity provider reported at a user's last sign-in (a JSON list), which its
-- role mapping reads on every request of their session.
ALTER TABLE users ADD COLUMN provider_groups TEXT NOT NULL DEFAULT '[]';
-- Browser sign-ins in flight (OpenID Connect, SAML): the hash of the state sent to the
-- provider, what is needed to finish (sealed), until when. Taken once.
CREATE TABLE login_states (
    state_hash TEXT PRIMARY KEY,
    service_id BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
