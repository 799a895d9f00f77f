-- Expired authorization requests, codes and refresh tokens are deleted by expiry on every new
-- one: without these indexes each deletion would scan its whole table.
-- Keep in step with postgres_012_oauth_expiry.sql.
CREATE INDEX oauth_requests_expiry ON oauth_requests(expires_at);
CREATE INDEX oauth_codes_expiry ON oauth_codes(expires_at);
CREATE INDEX oauth_refresh_tokens_expiry ON oauth_refresh_tokens(expires_at);
