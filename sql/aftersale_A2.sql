--
-- aftersale_A2: after-sale scenario 2, a custom order shipped or signed
-- (rules A2.1-A2.3, A3, F5, F7; SPEC section 5 on reasons and refunds)
--
-- Uses err(), err_full() and items() from setup.sql; its own category, shop and
-- product.  Ids are made deterministic (they appear in DETAIL lines) by
-- starting this file's orders, cases and bundles at 20001.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 20000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 20000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 20000) IS NOT NULL AS ok;

-- kase(id): the case as the tests look at it
CREATE FUNCTION pg_temp.kase(id bigint,
    OUT state customorder.aftersale_state, OUT reason text, OUT comm_reason text,
    OUT proposed_amount numeric, OUT refund_amount numeric, OUT reject_reason text,
    OUT closed bool)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT a.state, a.reason, a.comm_reason, a.proposed_amount, a.refund_amount,
           a.reject_reason, a.closed_at IS NOT NULL
    INTO state, reason, comm_reason, proposed_amount, refund_amount, reject_reason, closed
    FROM customorder.aftersales a WHERE a.aftersale_id = id;
END $$;
-- money(order_id): the order's state and money
CREATE FUNCTION pg_temp.money(id bigint,
    OUT state customorder.order_state, OUT amount numeric,
    OUT refunded_amount numeric, OUT open_case bool)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT o.state, o.amount, o.refunded_amount, o.open_aftersale_id IS NOT NULL
    INTO state, amount, refunded_amount, open_case
    FROM customorder.orders o WHERE o.order_id = id;
END $$;

-- Fixtures
INSERT INTO categories (name, custom_enabled) VALUES ('a2-glasses', true);
INSERT INTO shops (name, service_score) VALUES ('a2-shop', 4.85);
SELECT approve_custom_category(
    (SELECT shop_id FROM shops WHERE name = 'a2-shop'),
    (SELECT category_id FROM categories WHERE name = 'a2-glasses'));
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, 'a2-lenses', 1000.00, true, '7 days'
FROM shops s, categories c WHERE s.name = 'a2-shop' AND c.name = 'a2-glasses';
SELECT product_id AS a2_prod FROM products WHERE title = 'a2-lenses' \gset

-- Orders: paid at 08:00, started at 09:00, shipped at 12:00 on day one;
-- all but o_transit are signed on day three.
SET customorder.clock = '2024-07-01 08:00:00-07';
SELECT place_order(:a2_prod, 6101, 1000.00) AS o_transit \gset
SELECT place_order(:a2_prod, 6102, 1000.00) AS o_signed \gset
SELECT place_order(:a2_prod, 6103, 1000.00) AS o_quality \gset
SELECT place_order(:a2_prod, 6104, 1000.00) AS o_withdraw \gset
SELECT place_order(:a2_prod, 6105, 1000.00) AS o_agree \gset
SET customorder.clock = '2024-07-01 09:00:00-07';
-- (the buttons are called on the rows read first: on Citus a button called
-- per row of a query of a distributed table would run on the shards)
WITH o AS MATERIALIZED (SELECT order_id FROM orders WHERE product_id = :a2_prod)
SELECT count(*) FILTER (WHERE start_customization(order_id) = 'in_production') AS in_production
FROM o;
SET customorder.clock = '2024-07-01 12:00:00-07';
WITH o AS MATERIALIZED (SELECT order_id, buyer_id FROM orders WHERE product_id = :a2_prod)
SELECT count(*) FILTER (WHERE ship(order_id, 'YT-A2-' || buyer_id) = 'shipped') AS shipped
FROM o;
SET customorder.clock = '2024-07-03 12:00:00-07';
SELECT mark_signed(:o_signed), mark_signed(:o_quality), mark_signed(:o_withdraw);
SELECT order_id - :o_transit AS n, buyer_id, state, tracking_no, shipped_at, signed_at
FROM orders WHERE product_id = :a2_prod ORDER BY order_id;

--
-- A2.1: agree refund on a shipped order: the full amount, order refunded
--
SET customorder.clock = '2024-07-03 13:00:00-07';
SELECT * FROM refund_eligibility(:o_agree);
SELECT request_refund(:o_agree, 'return_refund', 'quality') AS c_agree \gset
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_agree);
SELECT agree_refund(:c_agree);
-- R1-R3: a return_refund after shipment refunds once the goods are back
SELECT ship_return(:c_agree, 'RET-A2-1'), confirm_return(:c_agree);
SELECT * FROM pg_temp.kase(:c_agree);
SELECT * FROM pg_temp.money(:o_agree);

--
-- Shipped, not signed: in_transit and agreement_reached only
--
SELECT request_refund(:o_transit, 'refund_only', 'no_reason') AS c_transit \gset
-- F7: one open case at a time
SELECT err_full(format('SELECT request_refund(%s, %L, %L)', :o_transit, 'return_refund', 'quality'));
SELECT insist_reject(:c_transit);
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_transit);
-- continue_reject before communicating
SELECT err_full(format('SELECT continue_reject(%s, %L, %L)', :c_transit, 'in_transit', items(1, 0, 'early')));
-- after shipment a reason is required; unknown reasons are malformed
SELECT communicate(:c_transit, NULL);
SELECT err(format('SELECT communicate(%s, %L)', :c_transit, 'lost'));
-- the signed-only reasons need the goods signed
SELECT err_full(format('SELECT communicate(%s, %L)', :c_transit, 'negotiate_amount'));
SELECT err(format('SELECT communicate(%s, %L)', :c_transit, 'invite_evidence'));
SELECT err(format('SELECT communicate(%s, %L)', :c_transit, 'signed_not_received'));
SELECT count(*) AS communications FROM communications WHERE aftersale_id = :c_transit;
SELECT * FROM pg_temp.kase(:c_transit);
-- in_transit: communicating, with its default script
SELECT communicate(:c_transit, 'in_transit');
SELECT * FROM pg_temp.kase(:c_transit);
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_transit);
-- communicate again with another reason (section 5)
SET customorder.clock = '2024-07-03 13:30:00-07';
SELECT communicate(:c_transit, 'agreement_reached');
SELECT comm_no, reason, sent_at,
       script = (SELECT script FROM scripts s WHERE s.situation = m.reason) AS default_script
FROM communications m WHERE aftersale_id = :c_transit ORDER BY comm_no;
SELECT * FROM pg_temp.kase(:c_transit);
-- insist_ship is for goods not yet shipped
SELECT err(format('SELECT insist_ship(%s, %L)', :c_transit, 'YT-again'));
-- negotiation buttons belong to negotiating / awaiting_buyer_evidence
SELECT err(format('SELECT propose_refund_amount(%s, 100)', :c_transit));
SELECT err(format('SELECT supplement_evidence(%s, %L)', :c_transit, items(1, 0, 'sup')));
SELECT err(format('SELECT accept_refund_amount(%s, 100)', :c_transit));
SELECT err(format('SELECT decline_refund_amount(%s)', :c_transit));
-- A2.3: the final rejection names its reason and a logistics proof
SELECT continue_reject(:c_transit, NULL, items(1, 0, 'noreason'));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_transit, 'just_because', items(1, 0, 'x')));
SELECT err_full(format('SELECT continue_reject(%s, %L, %L)', :c_transit, 'signed_no_reason', items(1, 0, 'notyet')));
SELECT err(format('SELECT continue_reject(%s, %L, NULL)', :c_transit, 'in_transit'));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_transit, 'in_transit', '[]'));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_transit, 'in_transit', items(11, 0, 'many')));
SELECT count(*) AS bundles FROM evidence_bundles WHERE aftersale_id = :c_transit;
SET customorder.clock = '2024-07-03 14:00:00-07';
SELECT continue_reject(:c_transit, 'in_transit', items(2, 0, 'waybill'));
SELECT * FROM pg_temp.kase(:c_transit);
SELECT * FROM pg_temp.money(:o_transit);
SELECT purpose, aftersale_id = :c_transit AS of_case, submitted_at, count(*) AS items
FROM view_custom_evidence(:o_transit) GROUP BY 1, 2, 3;
SELECT button, enabled FROM order_buttons(:o_transit);

--
-- Signed, a no_reason case: every reason but in_transit
--
SET customorder.clock = '2024-07-04 10:00:00-07';
SELECT request_refund(:o_signed, 'return_refund', 'no_reason') AS c_signed \gset
SELECT insist_reject(:c_signed);
SELECT communicate(:c_signed, 'in_transit');
SELECT err(format('SELECT communicate(%s, NULL)', :c_signed));
SELECT communicate(:c_signed, 'agreement_reached') IS NOT NULL AS sent;
SELECT (pg_temp.kase(:c_signed)).state;
SELECT communicate(:c_signed, 'signed_not_received');
SELECT (pg_temp.kase(:c_signed)).state;
-- negotiate_amount: negotiating
SELECT communicate(:c_signed, 'negotiate_amount') IS NOT NULL AS sent;
SELECT * FROM pg_temp.kase(:c_signed);
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_signed);
-- the buyer cannot answer before a proposal
SELECT err_full(format('SELECT accept_refund_amount(%s, 100)', :c_signed));
SELECT err(format('SELECT decline_refund_amount(%s)', :c_signed));
-- amounts: positive, at most what remains, not null
SELECT err_full(format('SELECT propose_refund_amount(%s, 0)', :c_signed));
SELECT err(format('SELECT propose_refund_amount(%s, -5)', :c_signed));
SELECT err(format('SELECT propose_refund_amount(%s, 0.004)', :c_signed));
SELECT x AS amount, err(format('SELECT propose_refund_amount(%s, %L)', :c_signed, x))
FROM (VALUES ('NaN'), ('Infinity')) v(x);
SELECT err_full(format('SELECT propose_refund_amount(%s, 1000.01)', :c_signed));
SELECT propose_refund_amount(:c_signed, NULL);
-- exactly what remains is allowed; a new proposal replaces it
SELECT propose_refund_amount(:c_signed, 1000.00);
SELECT propose_refund_amount(:c_signed, 250.00);
SELECT * FROM pg_temp.kase(:c_signed);
-- the buyer declines: back to communicating, the proposal cleared
SELECT decline_refund_amount(:c_signed);
SELECT * FROM pg_temp.kase(:c_signed);
SELECT err(format('SELECT propose_refund_amount(%s, 250)', :c_signed));
-- negotiate again; the buyer accepts: a partial refund, the order stays signed
SELECT communicate(:c_signed, 'negotiate_amount') IS NOT NULL AS sent;
SELECT propose_refund_amount(:c_signed, 300.00);
-- H4: the buyer accepts the amount they saw, exactly; another is refused
-- with the current proposal in the DETAIL
SELECT err_full(format('SELECT accept_refund_amount(%s, 250)', :c_signed));
SELECT err(format('SELECT accept_refund_amount(%s, 300.001)', :c_signed));
SELECT err(format('SELECT accept_refund_amount(%s, NULL)', :c_signed));
SELECT * FROM pg_temp.kase(:c_signed);
SELECT accept_refund_amount(:c_signed, 300);
SELECT * FROM pg_temp.kase(:c_signed);
SELECT * FROM pg_temp.money(:o_signed);
SELECT button, enabled FROM order_buttons(:o_signed);
-- F7: a new case on the same order; invite_evidence awaits the buyer
SET customorder.clock = '2024-07-05 10:00:00-07';
SELECT * FROM refund_eligibility(:o_signed);
SELECT request_refund(:o_signed, 'return_refund', 'no_reason') AS c_signed2 \gset
SELECT insist_reject(:c_signed2);
SELECT communicate(:c_signed2, 'invite_evidence') IS NOT NULL AS sent;
SELECT * FROM pg_temp.kase(:c_signed2);
SELECT button, enabled, why_disabled FROM order_buttons(:o_signed);
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_signed2, 'signed_no_reason', items(1, 0, 'wait')));
SELECT err(format('SELECT supplement_evidence(%s, NULL)', :c_signed2));
SELECT err(format('SELECT supplement_evidence(%s, %L)', :c_signed2, '[]'));
SELECT supplement_evidence(:c_signed2, items(2, 1, 'buyer'));
SELECT * FROM pg_temp.kase(:c_signed2);
SELECT purpose, aftersale_id = :c_signed2 AS of_case, count(*) AS items
FROM view_custom_evidence(:o_signed) GROUP BY 1, 2;
-- the final rejection once signed: signed_no_reason, not in_transit
SELECT err_full(format('SELECT continue_reject(%s, %L, %L)', :c_signed2, 'in_transit', items(1, 0, 'late')));
SELECT err(format('SELECT continue_reject(%s, NULL, %L)', :c_signed2, items(1, 0, 'late')));
SELECT continue_reject(:c_signed2, 'signed_no_reason', items(1, 0, 'signed'));
SELECT * FROM pg_temp.kase(:c_signed2);
SELECT * FROM pg_temp.money(:o_signed);
-- agree_refund after a partial refund refunds only what remains (section 5)
SET customorder.clock = '2024-07-06 10:00:00-07';
SELECT request_refund(:o_signed, 'refund_only', 'quality') AS c_signed3 \gset
SELECT agree_refund(:c_signed3);
SELECT * FROM pg_temp.kase(:c_signed3);
SELECT * FROM pg_temp.money(:o_signed);
SELECT sum(refund_amount) AS refunded_by_cases FROM aftersales WHERE order_id = :o_signed;
SELECT err(format('SELECT request_refund(%s, %L, %L)', :o_signed, 'refund_only', 'quality'));

--
-- Signed, a quality case: signed_no_reason cannot reject it (F5)
--
SELECT request_refund(:o_quality, 'return_refund', 'quality') AS c_quality \gset
SELECT insist_reject(:c_quality);
SELECT communicate(:c_quality, 'agreement_reached') IS NOT NULL AS sent;
SELECT continue_reject(:c_quality, 'signed_no_reason', items(1, 0, 'quality'));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_quality, 'in_transit', items(1, 0, 'quality')));
SELECT * FROM pg_temp.kase(:c_quality);
-- negotiated instead: 400 now, the remaining 600 in a second case
SELECT communicate(:c_quality, 'negotiate_amount') IS NOT NULL AS sent;
SELECT propose_refund_amount(:c_quality, 400);
SELECT accept_refund_amount(:c_quality, 400.00);
SELECT * FROM pg_temp.money(:o_quality);
SELECT request_refund(:o_quality, 'refund_only', 'quality') AS c_quality2 \gset
SELECT insist_reject(:c_quality2);
SELECT communicate(:c_quality2, 'negotiate_amount') IS NOT NULL AS sent;
SELECT err_full(format('SELECT propose_refund_amount(%s, 600.01)', :c_quality2));
SELECT propose_refund_amount(:c_quality2, 600);
-- the buyer accepts the rest
SELECT accept_refund_amount(:c_quality2, 600);
SELECT * FROM pg_temp.kase(:c_quality2);
-- the remainder used up: the order is refunded
SELECT * FROM pg_temp.money(:o_quality);
SELECT button, enabled FROM order_buttons(:o_quality);

--
-- A3: the buyer withdraws from every open state; each time a new case may
-- follow (F7)
--
SET customorder.clock = '2024-07-08 10:00:00-07';
CREATE TEMP TABLE withdrawn (step text, aftersale_id bigint, state_before text,
                             withdraw text);
-- requested
SELECT request_refund(:o_withdraw, 'return_refund', 'not_received') AS c \gset
INSERT INTO withdrawn WITH a AS MATERIALIZED (SELECT state FROM aftersales WHERE aftersale_id = :c)
SELECT 'requested', :c, state, withdraw_refund(:c) FROM a;
-- rejecting
SELECT request_refund(:o_withdraw, 'return_refund', 'not_received') AS c \gset
SELECT insist_reject(:c);
SELECT err(format('SELECT request_refund(%s, %L, %L)', :o_withdraw, 'refund_only', 'no_reason'));
INSERT INTO withdrawn WITH a AS MATERIALIZED (SELECT state FROM aftersales WHERE aftersale_id = :c)
SELECT 'rejecting', :c, state, withdraw_refund(:c) FROM a;
-- communicating
SELECT request_refund(:o_withdraw, 'return_refund', 'not_received') AS c \gset
SELECT insist_reject(:c), communicate(:c, 'signed_not_received') IS NOT NULL AS sent;
INSERT INTO withdrawn WITH a AS MATERIALIZED (SELECT state FROM aftersales WHERE aftersale_id = :c)
SELECT 'communicating', :c, state, withdraw_refund(:c) FROM a;
-- negotiating, with a proposal on the table
SELECT request_refund(:o_withdraw, 'return_refund', 'quality') AS c \gset
SELECT insist_reject(:c), communicate(:c, 'negotiate_amount') IS NOT NULL AS sent,
       propose_refund_amount(:c, 99.99);
INSERT INTO withdrawn WITH a AS MATERIALIZED (SELECT state FROM aftersales WHERE aftersale_id = :c)
SELECT 'negotiating', :c, state, withdraw_refund(:c) FROM a;
-- awaiting_buyer_evidence
SELECT request_refund(:o_withdraw, 'return_refund', 'wrong_quantity') AS c \gset
SELECT insist_reject(:c), communicate(:c, 'invite_evidence') IS NOT NULL AS sent;
INSERT INTO withdrawn WITH a AS MATERIALIZED (SELECT state FROM aftersales WHERE aftersale_id = :c)
SELECT 'awaiting_buyer_evidence', :c, state, withdraw_refund(:c) FROM a;
SELECT w.step, w.state_before, w.withdraw, a.state AS state_after
FROM withdrawn w
JOIN aftersales a ON a.order_id = :o_withdraw AND a.aftersale_id = w.aftersale_id
ORDER BY w.aftersale_id;
SELECT a.state, a.proposed_amount, a.refund_amount, a.closed_at
FROM aftersales a WHERE a.order_id = :o_withdraw ORDER BY a.aftersale_id;
-- withdrawn cases are closed; nothing was refunded; the order is free again
SELECT err_full(format('SELECT withdraw_refund(%s)', :c));
SELECT * FROM pg_temp.money(:o_withdraw);
-- agree_refund from awaiting_buyer_evidence (section 5): the full amount
SELECT request_refund(:o_withdraw, 'return_refund', 'wrong_quantity') AS c \gset
SELECT insist_reject(:c), communicate(:c, 'invite_evidence') IS NOT NULL AS sent;
SELECT agree_refund(:c);
SELECT ship_return(:c, 'RET-A2-2'), confirm_return(:c);
SELECT * FROM pg_temp.kase(:c);
SELECT * FROM pg_temp.money(:o_withdraw);

--
-- Missing things: P0002 and 22004 for the scenario-2 buttons
--
SELECT err(format('SELECT propose_refund_amount(%s, 1)', 999999));
SELECT err('SELECT propose_refund_amount(NULL, 1)');
SELECT err('SELECT accept_refund_amount(NULL, 1)');
SELECT err('SELECT decline_refund_amount(NULL)');
SELECT err(format('SELECT supplement_evidence(NULL, %L)', items(1, 0, 'null')));
SELECT err(format('SELECT supplement_evidence(%s, %L)', 999999, items(1, 0, 'none')));

-- Every case of this file, for the record
SELECT a.order_id, a.aftersale_id, a.kind, a.reason, a.state, a.comm_reason,
       a.proposed_amount, a.refund_amount, a.reject_reason,
       a.proof_bundle_id IS NOT NULL AS proof, a.buyer_bundle_id IS NOT NULL AS supplement,
       a.requested_at, a.communicated_at, a.closed_at
FROM aftersales a JOIN orders o USING (order_id)
WHERE o.product_id = :a2_prod ORDER BY a.aftersale_id;
SELECT order_id, state, amount, refunded_amount, open_aftersale_id
FROM orders WHERE product_id = :a2_prod ORDER BY order_id;
RESET customorder.clock;
