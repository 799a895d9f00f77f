-- Most events have no user (apps by API key, anonymous callers), and every one of them added
-- an entry under NULL to the user index, in the middle of it, for lookups that only ever ask
-- for a user. Partial, the index holds only events that have one; `user_id = ?` still uses it.
-- Keep in step with sqlite_013_audit_user_index.sql.
DROP INDEX audit_events_user;
CREATE INDEX audit_events_user ON audit_events (user_id) WHERE user_id IS NOT NULL;
