-- CORS entries (DreamFactory's `cors_config`): which browser origins may call which paths,
-- with which methods and headers. `method` is a JSON list of verbs.
CREATE TABLE cors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    description TEXT,
    origin TEXT NOT NULL,
    header TEXT NOT NULL DEFAULT '',
    exposed_header TEXT NOT NULL DEFAULT '',
    max_age BIGINT NOT NULL DEFAULT 0,
    method TEXT NOT NULL DEFAULT '[]',
    supports_credentials BOOLEAN NOT NULL DEFAULT FALSE,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
