-- Rate limits (DreamFactory's df-limits model): who and what a limit counts, how many
-- requests it allows, and per which period (0 minute, 1 hour, 2 day, 3 7-day, 4 30-day).
CREATE TABLE limits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    rate BIGINT NOT NULL,
    period BIGINT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT REFERENCES roles (id) ON DELETE CASCADE,
    app_id BIGINT REFERENCES apps (id) ON DELETE CASCADE,
    service_id BIGINT REFERENCES services (id) ON DELETE CASCADE,
    endpoint TEXT,
    verb TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TEXT NOT NULL,
    last_modified_date TEXT NOT NULL
);
