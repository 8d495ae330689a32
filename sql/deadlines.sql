--
-- deadlines: SPEC section 7 (T1-T5) and its clarifications in section 13.
-- Every clock starts, keeps or stops as its transition row says; a passed
-- deadline refuses its party (T2); run_due() applies it as the system (T3);
-- deadlines(order_id) lists what runs (T5).
--
-- Uses err(), err_full() and items() from setup.sql; its own roles,
-- categories, shop and products.  Ids start at 60001 (they appear in
-- DETAIL lines).
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
-- run_due() applies the whole database's passed deadlines, oldest first:
-- apply the other files' first (at a clock far beyond this file's), so
-- what run_due(2) picks below is this file's own rows
SET customorder.clock = '2100-01-01 00:00:00+00';
SELECT run_due(100000) >= 0 AS drained;
SELECT run_due() AS others_left;
RESET customorder.clock;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 60000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 60000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 60000) IS NOT NULL AS ok;

SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_dl_merchant, regress_dl_buyer;
RESET client_min_messages;
CREATE ROLE regress_dl_merchant;
CREATE ROLE regress_dl_buyer;
SELECT grant_merchant('regress_dl_merchant'), grant_buyer('regress_dl_buyer');

-- kase(id): the case and its deadline
CREATE FUNCTION pg_temp.kase(id bigint,
    OUT state customorder.aftersale_state, OUT proposed_amount numeric,
    OUT refund_amount numeric, OUT due_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT a.state, a.proposed_amount, a.refund_amount, a.due_at
    INTO state, proposed_amount, refund_amount, due_at
    FROM customorder.aftersales a WHERE a.aftersale_id = id;
END $$;

-- the defaults of T1
INSERT INTO categories (name, custom_enabled, start_lock) VALUES ('dl-bedroom', true, '0');
SELECT merchant_response, buyer_response, buyer_evidence, buyer_return,
       merchant_receipt, escalation_window, late_refund_instant
FROM categories WHERE name = 'dl-bedroom';
INSERT INTO categories (name, custom_enabled, start_lock, late_refund_instant)
    VALUES ('dl-strict', true, '0', false);
INSERT INTO shops (name, service_score) VALUES ('dl-shop', 4.90);
SELECT shop('dl-shop') AS dl_shop \gset
SELECT approve_custom_category(shop('dl-shop'), cat(c))
FROM unnest(ARRAY['dl-bedroom', 'dl-strict']) c;
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship) VALUES
    (shop('dl-shop'), cat('dl-bedroom'), 'dl-bed', 1000.00, true, '7 days'),
    (shop('dl-shop'), cat('dl-strict'), 'dl-desk', 1000.00, true, '7 days');

SET customorder.clock = '2025-03-01 10:00:00+00';
SELECT place_order(prod('dl-bed'), 1, 1000.00) AS o_resp \gset
SELECT place_order(prod('dl-bed'), 2, 1000.00) AS o_nego \gset
SELECT place_order(prod('dl-bed'), 3, 1000.00) AS o_evid \gset
SELECT place_order(prod('dl-bed'), 4, 1000.00) AS o_late \gset
SELECT place_order(prod('dl-desk'), 5, 1000.00) AS o_strict \gset
-- (the buttons are called on the rows read first: on Citus a button called
-- per row of a query of a distributed table would run on the shards)
WITH o AS MATERIALIZED (SELECT order_id FROM orders WHERE order_id >= 60001)
SELECT count(*) FILTER (WHERE start_customization(order_id) = 'in_production') AS started
FROM o;
SELECT ship(:o_nego, 'DL-1'), mark_signed(:o_nego), ship(:o_evid, 'DL-2'), mark_signed(:o_evid);

-- an unshipped order: its ship_by runs (T5)
SELECT * FROM deadlines(:o_resp);

--
-- merchant_response: starts when the case opens; the merchant's own steps
-- do not restart it
--
SELECT request_refund(:o_resp, 'refund_only', 'no_reason') AS c_resp \gset
SELECT * FROM deadlines(:o_resp);
SET customorder.clock = '2025-03-02 10:00:00+00';
SELECT insist_reject(:c_resp), communicate(:c_resp, NULL) IS NOT NULL AS sent;
SELECT * FROM pg_temp.kase(:c_resp);
-- 48 hours after the request: the merchant is refused (T2), grey buttons
SET customorder.clock = '2025-03-03 10:00:00+00';
SELECT * FROM deadlines(:o_resp);
SET ROLE regress_dl_merchant;
SET customorder.shop_id = :dl_shop;
SELECT * FROM deadlines(:o_resp);
SELECT * FROM err_full(format('SELECT agree_refund(%s)', :c_resp));
SELECT err(format('SELECT continue_reject(%s, NULL, %L)', :c_resp, items(1, 0, 'dl')));
RESET customorder.shop_id;
RESET ROLE;
SELECT button, enabled, why_disabled FROM order_buttons(:o_resp) WHERE button <> 'view_custom_evidence';
-- the trigger stamps due_at; a writer cannot move it
SELECT err(format('UPDATE aftersales SET due_at = due_at + interval ''1 day'' WHERE aftersale_id = %s', :c_resp));

--
-- buyer_evidence: the buyer never supplements; the case lapses
--
SET customorder.clock = '2025-03-05 10:00:00+00';
SELECT request_refund(:o_evid, 'refund_only', 'quality') AS c_evid \gset
SELECT insist_reject(:c_evid), communicate(:c_evid, 'invite_evidence') IS NOT NULL AS sent;
SELECT * FROM deadlines(:o_evid);

--
-- buyer_response: the merchant proposes; the buyer lets it lapse; the
-- system declines and the merchant's clock starts afresh
--
SET customorder.clock = '2025-03-10 10:00:00+00';
SELECT request_refund(:o_nego, 'refund_only', 'no_reason') AS c_nego \gset
SELECT insist_reject(:c_nego), communicate(:c_nego, 'negotiate_amount') IS NOT NULL AS sent;
SELECT * FROM pg_temp.kase(:c_nego);
SET customorder.clock = '2025-03-11 10:00:00+00';
SELECT propose_refund_amount(:c_nego, 300);
SELECT * FROM deadlines(:o_nego);
SET customorder.clock = '2025-03-13 10:00:00+00';
SET ROLE regress_dl_buyer;
SET customorder.buyer_id = 2;
SELECT * FROM err_full(format('SELECT accept_refund_amount(%s, 300)', :c_nego));
RESET customorder.buyer_id;
RESET ROLE;

--
-- run_due: every passed deadline, oldest first, as the system (T3)
--
SET customorder.clock = '2025-03-13 10:00:00+00';
WITH o AS MATERIALIZED (SELECT order_id FROM orders WHERE order_id >= 60001)
SELECT order_id, deadline, due_at, passed FROM o, deadlines(o.order_id)
ORDER BY due_at, order_id, deadline;
SELECT run_due(0) AS none_at_all;
-- the two oldest: c_resp's merchant_response (it agrees: the order is
-- refunded, so its own ship_by is skipped), then 60004's ship_by (the tie
-- at ship_by goes to the lower order id); 60005 waits
SELECT run_due(2) AS applied;
SELECT * FROM pg_temp.kase(:c_resp);
SELECT order_id, late_at FROM orders WHERE order_id IN (:o_late, :o_strict) ORDER BY order_id;
SELECT * FROM pg_temp.kase(:c_evid);
-- the rest: c_evid lapses, 60005 is late, c_nego's proposal is declined
SELECT run_due() AS applied;
SELECT run_due() AS nothing_left;
SELECT * FROM pg_temp.kase(:c_nego);
SELECT * FROM deadlines(:o_nego);
SELECT order_id, state, refunded_amount, open_aftersale_id, late_at FROM orders
WHERE order_id >= 60001 ORDER BY order_id;

--
-- escalation_window: a rejection becomes final
--
SELECT communicate(:c_nego, 'agreement_reached') IS NOT NULL AS sent;
SELECT continue_reject(:c_nego, 'signed_no_reason', items(1, 0, 'dl-proof'));
SELECT * FROM deadlines(:o_nego);
SET customorder.clock = '2025-03-20 10:00:00+00';
SELECT run_due() AS applied;
SELECT * FROM pg_temp.kase(:c_nego);
SELECT count(*) AS running FROM deadlines(:o_nego);

--
-- ship_by (T1): the late unshipped order's refund is instant, unless the
-- category says otherwise
--
SELECT late_at FROM orders WHERE order_id IN (:o_late, :o_strict) ORDER BY order_id;
SELECT refund_eligibility(:o_late);
SELECT request_refund(:o_late, 'refund_only', 'no_reason') AS c_late \gset
SELECT * FROM pg_temp.kase(:c_late);
SELECT request_refund(:o_strict, 'refund_only', 'no_reason') AS c_strict \gset
SELECT * FROM pg_temp.kase(:c_strict);
-- the merchant's deadline passed: the buyer may still withdraw (T2, A3)
SET customorder.clock = '2025-03-23 10:00:00+00';
SET ROLE regress_dl_merchant;
SET customorder.shop_id = :dl_shop;
SELECT err(format('SELECT insist_reject(%s)', :c_strict));
RESET customorder.shop_id;
SET ROLE regress_dl_buyer;
SET customorder.buyer_id = 5;
SELECT withdraw_refund(:c_strict);
RESET customorder.buyer_id;
RESET ROLE;
SELECT * FROM pg_temp.kase(:c_strict);
-- late_at is the system's stamp
SELECT err(format('UPDATE orders SET late_at = now() WHERE order_id = %s', :o_resp));
SELECT err('SELECT run_due(-1)'), err('SELECT run_due(NULL)');

--
-- finding due work is an index range scan (run_due's two queries; these
-- tables are tiny, so the planner is told what the bench's million orders
-- make it choose by itself)
--
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT a.due_at, a.order_id, a.aftersale_id FROM customorder.aftersales a
WHERE a.due_at <= customorder.now() ORDER BY a.due_at LIMIT 1000 FOR UPDATE SKIP LOCKED;
EXPLAIN (COSTS OFF)
SELECT o.ship_by, o.order_id FROM customorder.orders o
WHERE o.ship_by <= customorder.now() AND o.late_at IS NULL AND o.shipped_at IS NULL
  AND o.closed_at IS NULL
ORDER BY o.ship_by LIMIT 1000 FOR UPDATE SKIP LOCKED;
RESET enable_seqscan;
RESET enable_bitmapscan;

SELECT * FROM verify();
RESET customorder.clock;
DELETE FROM actors WHERE role IN ('regress_dl_merchant'::regrole, 'regress_dl_buyer'::regrole);
DROP OWNED BY regress_dl_merchant, regress_dl_buyer;
DROP ROLE regress_dl_merchant, regress_dl_buyer;
