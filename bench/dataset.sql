-- The benchmark dataset: the test shop's schema at scale, generated deterministically (no
-- random(): every value is a function of its row number), so every run and every system sees
-- the same rows. psql variable :scale multiplies the sizes (1 = customers 100k, products 10k,
-- orders 1M, order_items 3M; the CI smoke run uses 0.001).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\if :{?scale}
\else
\set scale 1
\endif

DROP TABLE IF EXISTS order_items, orders, products, customers CASCADE;
DROP TYPE IF EXISTS order_status;
CREATE TYPE order_status AS ENUM ('pending', 'shipped', 'cancelled');

CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    ssn text,
    tenant_id int NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE products (
    id serial PRIMARY KEY,
    name text NOT NULL,
    price numeric(16, 2) NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers (id),
    status order_status NOT NULL DEFAULT 'pending',
    total numeric(12, 2) NOT NULL,
    note text,
    placed_at timestamptz NOT NULL DEFAULT '2026-02-01T00:00:00Z'
);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id int NOT NULL REFERENCES products (id),
    qty int NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, product_id)
);

SELECT greatest(1, (100000 * :scale)::int) AS n_customers,
       greatest(1, (10000 * :scale)::int) AS n_products,
       greatest(1, (1000000 * :scale)::int) AS n_orders \gset

INSERT INTO customers (email, name, ssn, tenant_id, created_at)
SELECT 'customer' || i || '@example.com', 'Customer ' || i,
       lpad((i::bigint * 7919 % 1000)::text, 3, '0') || '-' || lpad((i % 100)::text, 2, '0') || '-' || lpad((i * 31 % 10000)::text, 4, '0'),
       i % 10 + 1, '2026-01-01T00:00:00Z'::timestamptz + (i || ' minutes')::interval
FROM generate_series(1, :n_customers) AS i;

INSERT INTO products (name, price)
SELECT 'Product ' || i, (i * 37 % 50000) / 100.0 + 1
FROM generate_series(1, :n_products) AS i;

INSERT INTO orders (customer_id, status, total, note)
SELECT i % :n_customers + 1,
       (ARRAY['pending', 'shipped', 'cancelled']::order_status[])[i % 3 + 1],
       (i::bigint * 7907 % 100000) / 100.0,
       CASE WHEN i % 5 = 0 THEN 'note ' || i END
FROM generate_series(1, :n_orders) AS i;

-- Three lines per order, on three different products.
INSERT INTO order_items (order_id, product_id, qty)
SELECT o, (o * 3 + k) % :n_products + 1, k + 1
FROM generate_series(1, :n_orders) AS o, generate_series(0, least(2, :n_products - 1)) AS k;

CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_status_total ON orders (status, total);
ANALYZE;
