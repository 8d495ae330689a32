--
-- aftersale_F: ordinary orders (rule F6), money and raw writes to the case
-- table (F7, section 2), and the case machine's table
--
-- Uses err() and err_full() from setup.sql; its own category, shop and
-- product.  Ids are made deterministic (they appear in DETAIL lines) by
-- starting this file's orders, cases and bundles at 30001.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 30000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 30000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 30000) IS NOT NULL AS ok;

-- Fixtures: an ordinary category and product
INSERT INTO categories (name) VALUES ('af-kitchen');
INSERT INTO shops (name, service_score) VALUES ('af-shop', 4.50);
INSERT INTO products (shop_id, category_id, title, price)
SELECT s.shop_id, c.category_id, 'af-pan', 200.00
FROM shops s, categories c WHERE s.name = 'af-shop' AND c.name = 'af-kitchen';
SELECT product_id AS af_prod FROM products WHERE title = 'af-pan' \gset
SELECT is_custom, product_badges(:af_prod) FROM products WHERE product_id = :af_prod;

-- case(id) and money(order_id): what the tests look at
CREATE FUNCTION pg_temp.kase(id bigint,
    OUT state customorder.aftersale_state, OUT kind text, OUT reason text,
    OUT refund_amount numeric, OUT requested_at timestamptz, OUT closed_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT a.state, a.kind, a.reason, a.refund_amount, a.requested_at, a.closed_at
    INTO state, kind, reason, refund_amount, requested_at, closed_at
    FROM customorder.aftersales a WHERE a.aftersale_id = id;
END $$;
CREATE FUNCTION pg_temp.money(id bigint,
    OUT state customorder.order_state, OUT amount numeric,
    OUT refunded_amount numeric, OUT open_case bool)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT o.state, o.amount, o.refunded_amount, o.open_aftersale_id IS NOT NULL
    INTO state, amount, refunded_amount, open_case
    FROM customorder.orders o WHERE o.order_id = id;
END $$;

-- Orders paid at 08:00 on 1 August
SET customorder.clock = '2024-08-01 08:00:00-07';
SELECT place_order(:af_prod, 7101, 200.00) AS o_cancel \gset
SELECT place_order(:af_prod, 7102, 200.00) AS o_cancel2 \gset
SELECT place_order(:af_prod, 7103, 200.00) AS o_within \gset
SELECT place_order(:af_prod, 7104, 200.00) AS o_after \gset
SELECT place_order(:af_prod, 7105, 200.00) AS o_edge \gset
SELECT place_order(:af_prod, 7106, 200.00) AS o_transit \gset
SELECT place_order(:af_prod, 7107, 200.00) AS o_raw \gset
SELECT order_id - :o_cancel AS n, is_custom, state, paid_at, ship_by, refunded_amount
FROM orders WHERE product_id = :af_prod ORDER BY order_id;

--
-- F6: cancel before shipment is instant, whatever the reason
--
SET customorder.clock = '2024-08-01 08:05:00-07';
SELECT * FROM refund_eligibility(:o_cancel);
-- before shipment the kind is refund_only
SELECT err_full(format('SELECT request_refund(%s, %L, %L)', :o_cancel, 'return_refund', 'no_reason'));
SELECT request_refund(:o_cancel, 'refund_only', 'no_reason') AS c_cancel \gset
SELECT * FROM pg_temp.kase(:c_cancel);
SELECT * FROM pg_temp.money(:o_cancel);
SELECT request_refund(:o_cancel2, 'refund_only', 'quality') AS c_cancel2 \gset
SELECT * FROM pg_temp.kase(:c_cancel2);
SELECT * FROM pg_temp.money(:o_cancel2);
-- an instant refund is final: nothing to press, nothing left to ask for
SELECT err(format('SELECT withdraw_refund(%s)', :c_cancel));
SELECT err(format('SELECT agree_refund(%s)', :c_cancel));
SELECT err(format('SELECT request_refund(%s, %L, %L)', :o_cancel, 'refund_only', 'no_reason'));
SELECT err(format('SELECT ship(%s, %L)', :o_cancel, 'ZT-1'));

-- The others ship at 09:00 and (but o_transit) are signed on 2 August 10:00
SET customorder.clock = '2024-08-01 09:00:00-07';
-- (the buttons are called on the rows read first: on Citus a button called
-- per row of a query of a distributed table would run on the shards)
WITH o AS MATERIALIZED (SELECT order_id, buyer_id FROM orders
                        WHERE product_id = :af_prod AND state = 'paid')
SELECT count(*) FILTER (WHERE ship(order_id, 'ZT-' || buyer_id) = 'shipped') AS shipped
FROM o;
SET customorder.clock = '2024-08-02 10:00:00-07';
WITH o AS MATERIALIZED (SELECT order_id FROM orders
                        WHERE product_id = :af_prod AND state = 'shipped' AND order_id <> :o_transit)
SELECT count(*) FILTER (WHERE mark_signed(order_id) = 'signed') AS signed
FROM o;
-- shipped: no instant refund any more
SELECT * FROM refund_eligibility(:o_transit);
SELECT * FROM refund_eligibility(:o_within);

--
-- F6: within 7 days of signing, a no_reason return_refund cannot be
-- rejected; the merchant agrees
--
SET customorder.clock = '2024-08-05 10:00:00-07';
-- (the merchant's response deadline, T1, made long enough not to come first)
SELECT category_id AS af_within_category FROM orders WHERE order_id = :o_within \gset
UPDATE categories SET merchant_response = '30 days' WHERE category_id = :af_within_category;
SELECT request_refund(:o_within, 'return_refund', 'no_reason') AS c_within \gset
UPDATE categories SET merchant_response = DEFAULT WHERE category_id = :af_within_category;
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_within);
SELECT insist_reject(:c_within);
SELECT err(format('SELECT insist_reject(%s)', :c_within));
-- still not after the 7 days: the request's time counts, not the merchant's
SET customorder.clock = '2024-08-20 10:00:00-07';
SELECT err(format('SELECT insist_reject(%s)', :c_within));
SELECT * FROM pg_temp.kase(:c_within);
SELECT agree_refund(:c_within);
-- R5: it refunds only on receipt (R1-R3)
SELECT ship_return(:c_within, 'RET-F6-1'), confirm_return(:c_within);
SELECT * FROM pg_temp.kase(:c_within);
SELECT * FROM pg_temp.money(:o_within);

-- within 7 days, other requests the merchant may reject
SET customorder.clock = '2024-08-03 10:00:00-07';
SELECT request_refund(:o_edge, 'return_refund', 'quality') AS c \gset
SELECT insist_reject(:c), withdraw_refund(:c);
SELECT request_refund(:o_edge, 'refund_only', 'no_reason') AS c \gset
SELECT insist_reject(:c), withdraw_refund(:c);
-- the edge: one microsecond before signed_at + 7 days, and exactly at it
SET customorder.clock = '2024-08-09 09:59:59.999999-07';
SELECT * FROM refund_eligibility(:o_edge);
SELECT request_refund(:o_edge, 'return_refund', 'no_reason') AS c \gset
SELECT err(format('SELECT insist_reject(%s)', :c));
SELECT withdraw_refund(:c);
SET customorder.clock = '2024-08-09 10:00:00-07';
SELECT * FROM refund_eligibility(:o_edge);
SELECT request_refund(:o_edge, 'return_refund', 'no_reason') AS c \gset
SELECT insist_reject(:c);
SELECT withdraw_refund(:c);

--
-- F6: after 7 days the same request goes the whole A2 rejection path
--
SET customorder.clock = '2024-08-12 10:00:00-07';
SELECT * FROM refund_eligibility(:o_after);
SELECT request_refund(:o_after, 'return_refund', 'no_reason') AS c_after \gset
SELECT insist_reject(:c_after);
SELECT communicate(:c_after, 'agreement_reached') IS NOT NULL AS sent;
SELECT continue_reject(:c_after, 'signed_no_reason',
    '[{"type":"image","mime":"image/jpeg","bytes":4096,"uri":"https://af.example/signed.jpg"}]');
SELECT * FROM pg_temp.kase(:c_after);
SELECT * FROM pg_temp.money(:o_after);
SELECT purpose, aftersale_id = :c_after AS of_case, type, uri
FROM evidence_bundles b JOIN evidence_items i USING (order_id, bundle_id)
WHERE b.order_id = :o_after;

-- shipped, not signed: a no_reason return asked before signing is covered
-- too (the 7 days count from signing), so the merchant cannot reject it
SELECT request_refund(:o_transit, 'return_refund', 'no_reason') AS c_transit \gset
SELECT insist_reject(:c_transit);
SELECT withdraw_refund(:c_transit);

--
-- Raw writes are judged like button presses
--
SET customorder.clock = '2024-08-13 10:00:00-07';
-- the order's money is the cases' business
UPDATE orders SET refunded_amount = 50.00 WHERE order_id = :o_raw;
SELECT err(format('UPDATE customorder.orders SET refunded_amount = 200.00 WHERE order_id = %s', :o_raw));
SELECT err(format('UPDATE customorder.orders SET state = %L WHERE order_id = %s', 'refunded', :o_raw));
SELECT err(format('UPDATE customorder.orders SET open_aftersale_id = %s WHERE order_id = %s', :c_after, :o_raw));
-- a raw INSERT opens a case like request_refund()
INSERT INTO aftersales (order_id, kind, reason) VALUES (:o_raw, 'refund_only', 'quality')
RETURNING aftersale_id AS c_raw \gset
SELECT * FROM pg_temp.kase(:c_raw);
SELECT open_aftersale_id = :c_raw AS open_is_raw FROM orders WHERE order_id = :o_raw;
-- ... but writes no case_orders row, as request_refund() does: verify()
-- reports it, and a button still finds the case, through aftersales' index
-- on aftersale_id (the fallback), until the writer adds the row
SELECT invariant, detail = format('case %s has no case_orders row', :c_raw) AS names_the_case
FROM verify(:o_raw);
SELECT err(format('SELECT customorder.accept_refund_amount(%s, 1)', :c_raw)) AS found_without_row;
INSERT INTO case_orders (aftersale_id, order_id) VALUES (:c_raw, :o_raw);
SELECT count(*) AS violations FROM verify(:o_raw);
-- F7: a second open case, raw
INSERT INTO aftersales (order_id, kind, reason) VALUES (:o_raw, 'return_refund', 'no_reason');
SELECT err(format('INSERT INTO customorder.aftersales (order_id, kind, reason, state) VALUES (%s, %L, %L, %L)',
                  :o_raw, 'return_refund', 'no_reason', 'communicating'));
-- born refunded, or with money: not a request
SELECT err(format('INSERT INTO customorder.aftersales (order_id, kind, reason, state, refund_amount) VALUES (%s, %L, %L, %L, 10)',
                  :o_after, 'refund_only', 'quality', 'refunded'));
SELECT err(format('INSERT INTO customorder.aftersales (order_id, kind, reason, refund_amount) VALUES (%s, %L, %L, 10)',
                  :o_after, 'refund_only', 'quality'));
-- malformed kind and reason
SELECT err(format('INSERT INTO customorder.aftersales (order_id, kind, reason) VALUES (%s, %L, %L)',
                  :o_after, 'exchange', 'quality'));
SELECT err(format('INSERT INTO customorder.aftersales (order_id, kind, reason) VALUES (%s, %L, %L)',
                  :o_after, 'refund_only', 'dislike'));
-- refunded with more than remains
UPDATE aftersales SET state = 'refunded', refund_amount = 200.01 WHERE aftersale_id = :c_raw;
-- refunded with less than remains is not agree_refund either
SELECT err(format('UPDATE customorder.aftersales SET state = %L, refund_amount = 20 WHERE aftersale_id = %s', 'refunded', :c_raw));
-- a state change outside the table
UPDATE aftersales SET state = 'rejected' WHERE aftersale_id = :c_raw;
SELECT err(format('UPDATE customorder.aftersales SET state = %L WHERE aftersale_id = %s', 'communicating', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET state = %L WHERE aftersale_id = %s', 'closed_by_shipment', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET state = %L WHERE aftersale_id = %s', 'instant_refunded', :c_raw));
-- a column the step does not write, and columns never written
SELECT err(format('UPDATE customorder.aftersales SET state = %L, reject_reason = %L WHERE aftersale_id = %s', 'rejecting', 'in_transit', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET proposed_amount = 1 WHERE aftersale_id = %s', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET reason = %L WHERE aftersale_id = %s', 'no_reason', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET requested_at = requested_at - interval %L WHERE aftersale_id = %s', '30 days', :c_raw));
-- nor the stamps the trigger sets
UPDATE aftersales SET communicated_at = '2024-08-13 09:00:00-07' WHERE aftersale_id = :c_raw;
SELECT err(format('UPDATE customorder.aftersales SET closed_at = %L WHERE aftersale_id = %s', '2024-08-13 09:00:00-07', :c_raw));
SELECT err(format('UPDATE customorder.aftersales SET closed_at = %L WHERE aftersale_id = %s', '2024-08-13 09:00:00-07', :c_cancel));
SELECT err(format('UPDATE customorder.aftersales SET state = %L, communicated_at = %L WHERE aftersale_id = %s', 'rejecting', '2024-08-13 09:00:00-07', :c_raw));
-- an UPDATE that changes nothing is harmless
UPDATE aftersales SET state = state, reason = reason WHERE aftersale_id = :c_raw;
-- cases are never deleted
DELETE FROM aftersales WHERE aftersale_id = :c_raw;
SELECT err(format('DELETE FROM customorder.aftersales WHERE aftersale_id = %s', :c_cancel));
-- closed cases never change
SELECT err(format('UPDATE customorder.aftersales SET refund_amount = 1 WHERE aftersale_id = %s', :c_cancel));
SELECT err(format('UPDATE customorder.aftersales SET state = %L WHERE aftersale_id = %s', 'requested', :c_after));
-- nothing of that happened
SELECT * FROM pg_temp.kase(:c_raw);
SELECT communicated_at FROM aftersales WHERE aftersale_id = :c_raw;
SELECT * FROM pg_temp.money(:o_raw);
-- a raw UPDATE that is a legal step is a button press: insist_reject, then
-- agree_refund with exactly what remains
UPDATE aftersales SET state = 'rejecting' WHERE aftersale_id = :c_raw;
UPDATE aftersales SET state = 'refunded', refund_amount = 200.00 WHERE aftersale_id = :c_raw;
SELECT * FROM pg_temp.kase(:c_raw);
SELECT * FROM pg_temp.money(:o_raw);

--
-- Every case of this file, and the case machine's table
--
SELECT a.order_id, a.aftersale_id, a.kind, a.reason, a.state, a.refund_amount,
       a.reject_reason, a.requested_at, a.closed_at
FROM aftersales a JOIN orders o USING (order_id)
WHERE o.product_id = :af_prod ORDER BY a.aftersale_id;
SELECT from_state, action, to_state, guard, rule
FROM transitions() WHERE machine = 'aftersale';
-- every case state the table reaches, and the ones it leaves
SELECT s.state,
       EXISTS (SELECT FROM transitions() t WHERE t.machine = 'aftersale' AND t.to_state = s.state::text) AS reached,
       EXISTS (SELECT FROM transitions() t WHERE t.machine = 'aftersale' AND t.from_state = s.state::text) AS left
FROM unnest(enum_range(NULL::aftersale_state)) s(state);
RESET customorder.clock;
