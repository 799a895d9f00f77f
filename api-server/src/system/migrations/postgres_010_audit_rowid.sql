-- Nothing to change on PostgreSQL: its audit table's primary key is its only key on `id`
-- (the SQLite store's table is rebuilt by its migration 010).
SELECT 1;
