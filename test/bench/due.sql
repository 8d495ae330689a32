-- Rows for the run_due figure of test/bench/run, in a database of their own:
-- :orders orders, of which :due are custom orders in production whose
-- refund request the merchant ignored (merchant_response, 48 hours, passed
-- at 2026-01-04), the rest signed ordinary orders with nothing due.  The
-- bulk is written with the triggers off, every column as the triggers
-- would have set it (test/bench/run checks customorder.verify()); the due
-- work goes through the buttons.
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION customorder;
SET customorder.clock = '2026-01-01 00:00:00+00';
INSERT INTO customorder.categories (name, custom_enabled, start_lock)
VALUES ('bench bedroom', true, '0');
INSERT INTO customorder.shops (name, service_score) VALUES ('bench shop', 4.90);
SELECT customorder.approve_custom_category(1, 1);
INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (1, 1, 'bench ordinary', 10, false, NULL),
       (1, 1, 'bench custom', 10, true, '15 days');
ALTER TABLE customorder.orders DISABLE TRIGGER USER;
INSERT INTO customorder.orders
    (shop_id, product_id, buyer_id, amount, is_custom, paid_at, ship_by, state,
     tracking_no, shipped_at, signed_at, refunded_amount, category_id,
     start_lock, high_score_threshold, evidence_review, promised_ship,
     late_refund_instant)
SELECT 1, 1, g, 10, false, '2025-12-01 00:00:00+00', NULL, 'signed',
       'T' || g, '2025-12-02 00:00:00+00', '2025-12-03 00:00:00+00', 0, 1,
       '0', 4.80, false, NULL, true
FROM pg_catalog.generate_series(1, :orders - :due) g;
ALTER TABLE customorder.orders ENABLE TRIGGER USER;
INSERT INTO customorder.orders (product_id, buyer_id, amount)
SELECT 2, g, 10 FROM pg_catalog.generate_series(1, :due) g;
SELECT count(customorder.start_customization(o.order_id))
FROM customorder.orders o WHERE o.product_id = 2;
SELECT count(customorder.request_refund(o.order_id, 'refund_only', 'quality'))
FROM customorder.orders o WHERE o.product_id = 2;
VACUUM FREEZE ANALYZE customorder.orders, customorder.aftersales;
