-- Response capture: the body a request was answered with, for the roles and tables
-- `audit.capture_roles` / `audit.capture_tables` name (NULL otherwise). Part of the row's hash
-- when present.
ALTER TABLE audit_events ADD COLUMN response TEXT;
