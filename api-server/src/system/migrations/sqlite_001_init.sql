-- Rampart system store, SQLite flavour. Keep in step with postgres_001_init.sql.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    username TEXT UNIQUE,
    first_name TEXT,
    last_name TEXT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    is_sys_admin BOOLEAN NOT NULL DEFAULT 0,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    phone TEXT,
    last_login_date TEXT,
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
CREATE TABLE roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    description TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    type TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
CREATE TABLE role_service_access (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    service_id INTEGER REFERENCES services(id) ON DELETE CASCADE,
    component TEXT NOT NULL DEFAULT '*',
    verb_mask INTEGER NOT NULL DEFAULT 0,
    requestor_mask INTEGER NOT NULL DEFAULT 1,
    filters TEXT NOT NULL DEFAULT '[]',
    filter_op TEXT NOT NULL DEFAULT 'AND',
    field_rules TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX role_service_access_role ON role_service_access(role_id);
CREATE TABLE apps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    api_key_hash TEXT NOT NULL UNIQUE,
    role_id INTEGER REFERENCES roles(id) ON DELETE SET NULL,
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
CREATE TABLE lookups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT '',
    private BOOLEAN NOT NULL DEFAULT 0,
    description TEXT,
    app_id INTEGER REFERENCES apps(id) ON DELETE CASCADE,
    role_id INTEGER REFERENCES roles(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX lookups_role ON lookups(role_id);
CREATE TABLE revoked_sessions (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
