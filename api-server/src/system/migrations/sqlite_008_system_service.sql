-- The system API as a service of its own, with the fixed id 0, so a role's access rows can
-- grant one of its resources (`audit`) to people who are not sys-admins. It is not a
-- database: the service API neither lists nor changes it.
INSERT INTO services (id, name, label, description, is_active, type, config, created_date, last_modified_date)
VALUES (0, 'system', 'System', 'The system API: grant its resources to roles with service_id 0.', TRUE, 'system', '{}',
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
