-- Where the chain starts: the last row retention purged (0 and '' before any), so that
-- `rampart audit verify` can tell a purge from rows deleted behind Rampart's back (the first
-- row left must follow it). A store purged before this records its first row's predecessor.
-- Keep in step with sqlite_014_audit_start.sql.
ALTER TABLE audit_head ADD COLUMN purged_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN purged_hash TEXT NOT NULL DEFAULT '';
UPDATE audit_head SET
    purged_id = COALESCE((SELECT MIN(id) FROM audit_events) - 1, last_id),
    purged_hash = COALESCE(
        (SELECT prev_hash FROM audit_events ORDER BY id LIMIT 1),
        hash
    );
