-- Users signed in through an identity provider (a service): keyed by (provider, subject),
-- never matched to another account by e-mail; the provider's attributes kept as `claims`.
-- Keep in step with sqlite_002_external_users.sql.
ALTER TABLE users ADD COLUMN provider_service_id BIGINT REFERENCES services(id) ON DELETE CASCADE;
ALTER TABLE users ADD COLUMN provider_subject TEXT;
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX users_provider_subject ON users(provider_service_id, provider_subject);
-- An app whose key may only read (no writes, no function calls), for agents and dashboards.
ALTER TABLE apps ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT false;
