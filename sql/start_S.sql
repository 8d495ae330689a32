--
-- start_S: Start customization (rules S1-S6)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-05-07 09:00:00-07';

SELECT place_order(prod('wardrobe-high'), 2001, 9800.00) AS o_high \gset
SELECT place_order(prod('wardrobe-edge'), 2002, 9800.00) AS o_edge \gset
SELECT place_order(prod('wardrobe-low'), 2003, 9800.00) AS o_low \gset
SELECT place_order(prod('wardrobe-unscored'), 2004, 9800.00) AS o_unscored \gset
SELECT place_order(prod('lenses-high'), 2005, 680.00) AS o_lenses \gset
SELECT place_order(prod('suit-low'), 2006, 3200.00) AS o_suit \gset
SELECT place_order(prod('suit-high'), 2007, 3200.00) AS o_suit_high \gset
SELECT place_order(prod('wok'), 2008, 199.00) AS o_wok \gset
SELECT place_order(prod('wardrobe-high'), 2009, 9800.00) AS o_raw \gset

-- S1: every order starts paid
SELECT o.order_id, p.title, o.is_custom, o.state, o.paid_at, o.start_lock
FROM orders o JOIN products p USING (product_id)
WHERE o.order_id BETWEEN :o_high AND :o_raw ORDER BY o.order_id;

--
-- S2: grey until paid_at + start_lock, then blue
--
SET customorder.clock = '2024-05-07 09:59:00-07';
SELECT button, enabled, why_disabled FROM order_buttons(:o_high) WHERE button = 'start_customization';
SELECT err_full('SELECT start_customization(' || :o_high || ')');
SELECT state, custom_started_at FROM orders WHERE order_id = :o_high;
SET customorder.clock = '2024-05-07 09:59:59.999999-07';
SELECT err('SELECT start_customization(' || :o_high || ')');
SET customorder.clock = '2024-05-07 10:00:00-07';
SELECT button, enabled, why_disabled FROM order_buttons(:o_high) WHERE button = 'start_customization';
-- S3: a shop above the threshold is in production at once
SELECT start_customization(:o_high);
SELECT state, custom_started_at FROM orders WHERE order_id = :o_high;
-- at the threshold counts as high
SELECT start_customization(:o_edge);
-- S4: below the threshold, or no score, awaits evidence
SELECT start_customization(:o_low);
SELECT start_customization(:o_unscored);
-- a category with a 2-hour lock: grey at 119 minutes, blue at 120
SET customorder.clock = '2024-05-07 10:59:00-07';
SELECT err_full('SELECT start_customization(' || :o_lenses || ')');
SET customorder.clock = '2024-05-07 11:00:00-07';
SELECT start_customization(:o_lenses);
SELECT o.order_id, s.name AS shop, s.service_score, o.high_score_threshold,
       o.state, o.custom_started_at
FROM orders o JOIN shops s USING (shop_id)
WHERE o.order_id IN (:o_high, :o_edge, :o_low, :o_unscored, :o_lenses)
ORDER BY o.order_id;

-- S1: an ordinary order has no Start button and cannot start
SELECT count(*) AS start_buttons FROM order_buttons(:o_wok) WHERE button = 'start_customization';
SELECT err_full('SELECT start_customization(' || :o_wok || ')');
-- Start only in paid
SELECT err_full('SELECT start_customization(' || :o_high || ')');
SELECT err('SELECT start_customization(' || :o_low || ')');

-- Start reads the shop's score at the moment it is pressed
BEGIN;
UPDATE shops SET service_score = 4.90 WHERE name = 'low';
SELECT start_customization(:o_suit);
ROLLBACK;

--
-- raw UPDATE of the state is judged like the button
--
SET customorder.clock = '2024-05-07 09:30:00-07';
SELECT err_full('UPDATE orders SET state = ''in_production'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET state = ''awaiting_evidence'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET state = ''shipped'', tracking_no = ''SF1'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET state = ''evidence_review'' WHERE order_id = ' || :o_raw);
SET customorder.clock = '2024-05-07 11:15:00-07';
-- a high-score shop cannot take the low-score path, and vice versa
SELECT err_full('UPDATE orders SET state = ''awaiting_evidence'' WHERE order_id = ' || :o_raw);
-- cannot backdate: custom_started_at and paid_at
SELECT err('UPDATE orders SET custom_started_at = ''2024-05-07 10:00:00-07'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET paid_at = ''2024-05-07 08:00:00-07'' WHERE order_id = ' || :o_raw);
-- after the lock the raw UPDATE works; custom_started_at comes from now()
UPDATE orders SET state = 'in_production', custom_started_at = '2024-05-07 10:00:00-07'
WHERE order_id = :o_raw
RETURNING order_id, state, paid_at, custom_started_at;
SELECT err('UPDATE orders SET custom_started_at = ''2024-05-07 10:00:00-07'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET state = ''paid'' WHERE order_id = ' || :o_raw);
-- a paid custom order cannot skip to shipped, even with a tracking number
SELECT err_full('UPDATE orders SET state = ''shipped'', tracking_no = ''SF2'' WHERE order_id = ' || :o_suit);
SELECT err('UPDATE orders SET state = ''shipped'' WHERE order_id = ' || :o_suit);
SELECT err('SELECT ship(' || :o_suit || ', ''SF3'')');
-- nor can a low-score order reach in_production without evidence
SELECT err_full('UPDATE orders SET state = ''in_production'' WHERE order_id = ' || :o_low);

--
-- S5: evidence moves awaiting_evidence on
--
SET customorder.clock = '2024-05-07 12:00:00-07';
SELECT err_full('SELECT submit_custom_evidence(' || :o_high || ', items(1, 0))');
SELECT err('SELECT submit_custom_evidence(' || :o_wok || ', items(1, 0))');
SELECT submit_custom_evidence(:o_low, items(2, 1, 'low'));
SELECT submit_custom_evidence(:o_unscored, items(1, 0, 'unscored'));
-- a category with platform review goes to evidence_review first
SELECT start_customization(:o_suit);
SELECT start_customization(:o_suit_high);
SELECT submit_custom_evidence(:o_suit, items(1, 0, 'suit1'));
SELECT err('SELECT submit_custom_evidence(' || :o_suit || ', items(1, 0, ''again''))');
SELECT refund_eligibility(:o_suit);
-- the platform rejects: back to awaiting_evidence, where the instant refund applies again
SET customorder.clock = '2024-05-07 13:00:00-07';
SELECT review_evidence(:o_suit, false, 'moulds not visible');
SELECT state FROM orders WHERE order_id = :o_suit;
SELECT instant_refund, can_request, merchant_decides FROM refund_eligibility(:o_suit);
SELECT err_full('SELECT review_evidence(' || :o_suit || ', true, NULL)');
-- a new bundle, approved
SELECT submit_custom_evidence(:o_suit, items(3, 0, 'suit2'));
SET customorder.clock = '2024-05-07 14:00:00-07';
SELECT review_evidence(:o_suit, true, 'ok');
SELECT err('SELECT review_evidence(' || :o_suit || ', false, NULL)');
SELECT bundle_id, purpose, submitted_at, image_count, video_count, review_state,
       review_note, reviewed_at
FROM evidence_bundles WHERE order_id = :o_suit ORDER BY bundle_id;
-- after a rejection the buyer's request is refunded instantly
SELECT place_order(prod('suit-low'), 2010, 3200.00) AS o_suit2 \gset
SET customorder.clock = '2024-05-07 15:00:00-07';
SELECT start_customization(:o_suit2);
SELECT submit_custom_evidence(:o_suit2, items(1, 0, 'suit3'));
SELECT review_evidence(:o_suit2, false, NULL);
SELECT request_refund(:o_suit2, 'refund_only', 'no_reason') IS NOT NULL AS requested;
SELECT state, refunded_amount FROM orders WHERE order_id = :o_suit2;

SELECT o.order_id, p.title, o.state, o.custom_started_at, o.evidence_bundle_id IS NOT NULL AS has_evidence
FROM orders o JOIN products p USING (product_id)
WHERE o.order_id BETWEEN :o_high AND :o_suit2 ORDER BY o.order_id;

--
-- S6: View custom evidence once in production
--
SELECT * FROM view_custom_evidence(:o_low);
SELECT bundle_id, item_no, type, uri FROM view_custom_evidence(:o_suit);
SELECT count(*) AS items FROM view_custom_evidence(:o_high);
SELECT button, label, enabled FROM order_buttons(:o_low);
SELECT button, label, enabled FROM order_buttons(:o_high);
SELECT count(*) AS view_buttons FROM order_buttons(:o_raw) WHERE button = 'view_custom_evidence';
