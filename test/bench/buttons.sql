-- Rows for the per-button figures of test/bench/run, loaded after
-- bulk_update.sql (which leaves orders 1..:rows shipped).  Every row reaches
-- its state through the rule triggers (raw DML, triggers on) or a button, so
-- the triggers' invariants hold; test/bench/run checks customorder.verify().
-- With B = :brows, three ranges of custom orders of a high-score shop, all
-- paid at 2026-01-01 00:00 (the start lock, 1 hour, is past at 02:00):
--   :rows + 1    .. :rows + B    in_production  (ship)
--   :rows + B+1  .. :rows + 2B   paid           (start_customization)
--   :rows + 2B+1 .. :rows + 3B   in_production with an open refund_only
--                                case, requested  (agree_refund)
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET customorder.clock = '2026-01-01 00:00:00+00';
SELECT customorder.approve_custom_category(1, 1);
INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (1, 1, 'bench custom', 10, true, '15 days');
INSERT INTO customorder.orders (product_id, buyer_id, amount)
SELECT 2, g, 10 FROM pg_catalog.generate_series(1, 3 * :brows) g;
SET customorder.clock = '2026-01-01 02:00:00+00';
UPDATE customorder.orders SET state = 'in_production'
WHERE order_id BETWEEN :rows + 1 AND :rows + :brows
   OR order_id BETWEEN :rows + 2 * :brows + 1 AND :rows + 3 * :brows;
SELECT count(customorder.request_refund(o.order_id, 'refund_only', 'no_reason'))
FROM customorder.orders o
WHERE o.order_id BETWEEN :rows + 2 * :brows + 1 AND :rows + 3 * :brows;
VACUUM FREEZE ANALYZE customorder.orders, customorder.aftersales;
