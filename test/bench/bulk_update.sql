-- Bulk raw UPDATE of customorder.orders with the rule trigger on and off.
-- Driven by test/bench/run, which times each statement (\timing) and prints
-- the best of several runs.  Each UPDATE runs in a rolled-back transaction.
\set QUIET on
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS customorder CASCADE;
CREATE EXTENSION customorder;
SET customorder.clock = '2026-01-01 00:00:00+00';
INSERT INTO customorder.categories (name, custom_enabled) VALUES ('bench', true);
INSERT INTO customorder.shops (name, service_score) VALUES ('bench', 4.90);
INSERT INTO customorder.products (shop_id, category_id, title, price)
VALUES (1, 1, 'bench ordinary', 10);
INSERT INTO customorder.orders (product_id, buyer_id, amount)
SELECT 1, g, 10 FROM pg_catalog.generate_series(1, :rows) g;
UPDATE customorder.orders SET state = 'shipped', tracking_no = 'T' || order_id;
VACUUM FREEZE ANALYZE customorder.orders;
\timing on
\set QUIET off
