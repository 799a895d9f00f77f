-- The record of the last purge (purged_id, purged_hash) signed with the audit chain's key
-- (HMAC-SHA256; '' before any purge signed it), so that someone who can write to the store
-- but does not hold the master key cannot delete the oldest events and move the record on.
-- Keep in step with sqlite_015_audit_purge_mac.sql.
ALTER TABLE audit_head ADD COLUMN purged_mac TEXT NOT NULL DEFAULT '';
