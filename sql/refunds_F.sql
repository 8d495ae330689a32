--
-- refunds_F: refund eligibility and the instant refund (rules F1-F7)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-05-09 09:00:00-07';

SELECT place_order(prod('wardrobe-low'), 4001, 9800.00) AS o_grey \gset
SELECT place_order(prod('wardrobe-low'), 4002, 9800.00) AS o_await \gset
SELECT place_order(prod('suit-low'), 4003, 3200.00) AS o_review \gset
SELECT place_order(prod('wardrobe-high'), 4004, 9800.00) AS o_prod \gset
SELECT place_order(prod('lenses-high'), 4005, 680.00) AS o_ship \gset
SELECT place_order(prod('wok'), 4006, 199.00) AS o_wok \gset
SELECT place_order(prod('wok'), 4007, 199.00) AS o_wok2 \gset
SELECT place_order(prod('wardrobe-high'), 4008, 9800.00) AS o_raw \gset

-- order_state(id): state, refunded amount, open case
CREATE FUNCTION pg_temp.order_state(id bigint)
RETURNS TABLE (order_id bigint, state customorder.order_state,
               amount numeric, refunded_amount numeric, open_case boolean,
               closed_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT o.order_id, o.state, o.amount, o.refunded_amount,
           o.open_aftersale_id IS NOT NULL, o.closed_at
    FROM customorder.orders o WHERE o.order_id = id;
END $$;

--
-- F2: before customization is in effect a request is refunded instantly,
-- the grey-button window included
--
SET customorder.clock = '2024-05-09 09:10:00-07';
SELECT * FROM refund_eligibility(:o_grey);
SELECT request_refund(:o_grey, 'refund_only', 'no_reason') AS c_grey \gset
SELECT * FROM pg_temp.order_state(:o_grey);
SELECT order_id = :o_grey AS same_order, kind, reason, state, requested_at,
       refund_amount, closed_at
FROM aftersales WHERE aftersale_id = :c_grey;
SELECT * FROM refund_eligibility(:o_grey);

SET customorder.clock = '2024-05-09 10:00:00-07';
SELECT start_customization(:o_await), start_customization(:o_review),
       start_customization(:o_prod);
SELECT submit_custom_evidence(:o_review, items(1, 0, 'f-review'));
SET customorder.clock = '2024-05-09 11:00:00-07';
SELECT start_customization(:o_ship);
SELECT ship(:o_ship, 'SF-4005');
SELECT * FROM refund_eligibility(:o_await);
SELECT * FROM refund_eligibility(:o_review);
SELECT request_refund(:o_await, 'refund_only', 'quality') > :c_grey AS requested;
SELECT request_refund(:o_review, 'refund_only', 'not_as_agreed') > :c_grey AS requested;
SELECT o.order_id, o.state, o.amount, o.refunded_amount, a.state AS case_state,
       a.refund_amount, a.refund_amount = o.amount AS full_refund
FROM orders o JOIN aftersales a USING (order_id)
WHERE o.order_id IN (:o_grey, :o_await, :o_review) ORDER BY o.order_id;

--
-- F3/F4: once customization is in effect a request opens a case the
-- merchant decides
--
SELECT * FROM refund_eligibility(:o_prod);
SELECT err_full('SELECT request_refund(' || :o_prod || ', ''return_refund'', ''quality'')');
SELECT request_refund(:o_prod, 'refund_only', 'no_reason') AS c_prod \gset
SELECT kind, reason, state, requested_at, refund_amount, closed_at
FROM aftersales WHERE aftersale_id = :c_prod;
SELECT * FROM pg_temp.order_state(:o_prod);
SELECT * FROM refund_eligibility(:o_prod);
-- F7: one open case at a time
SELECT err_full('SELECT request_refund(' || :o_prod || ', ''refund_only'', ''quality'')');
-- the merchant answers the case before shipping
SELECT err_full('SELECT ship(' || :o_prod || ', ''SF-4004'')');
SELECT err('UPDATE orders SET state = ''shipped'', tracking_no = ''SF-4004'' WHERE order_id = ' || :o_prod);
-- money and state move only through cases
SELECT err_full('UPDATE orders SET state = ''cancelled'' WHERE order_id = ' || :o_prod);
SELECT err('UPDATE orders SET state = ''refunded'' WHERE order_id = ' || :o_prod);
SELECT err_full('UPDATE orders SET refunded_amount = 100 WHERE order_id = ' || :o_prod);
SELECT err('UPDATE orders SET open_aftersale_id = NULL WHERE order_id = ' || :o_prod);
SELECT err('UPDATE orders SET state = ''cancelled'' WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET refunded_amount = amount WHERE order_id = ' || :o_raw);
SELECT err('UPDATE orders SET closed_at = customorder.now() WHERE order_id = ' || :o_raw);
SELECT * FROM pg_temp.order_state(:o_raw);

-- F5: shipped and signed custom orders: the merchant decides, no 7-day return
SELECT * FROM refund_eligibility(:o_ship);
SELECT request_refund(:o_ship, 'refund_only', 'no_reason') AS c_ship \gset
SELECT state FROM aftersales WHERE aftersale_id = :c_ship;
SELECT mark_signed(:o_ship);
SELECT * FROM refund_eligibility(:o_ship);

--
-- Refused requests
--
-- before shipment the kind is refund_only
SELECT place_order(prod('wardrobe-high'), 4009, 9800.00) AS o_paid \gset
SELECT err_full('SELECT request_refund(' || :o_paid || ', ''return_refund'', ''no_reason'')');
-- unknown kind or reason, NULLs, unknown order
SELECT err_full('SELECT request_refund(' || :o_paid || ', ''exchange'', ''no_reason'')');
SELECT err('SELECT request_refund(' || :o_paid || ', ''refund_only'', ''changed_mind'')');
SELECT err('SELECT request_refund(NULL, ''refund_only'', ''no_reason'')');
SELECT err('SELECT request_refund(' || :o_paid || ', NULL, ''no_reason'')');
SELECT err('SELECT request_refund(' || :o_paid || ', ''refund_only'', NULL)');
SELECT err_full('SELECT request_refund(999, ''refund_only'', ''no_reason'')');
-- a cancelled order has nothing left to refund
SELECT err_full('SELECT request_refund(' || :o_grey || ', ''refund_only'', ''no_reason'')');
SELECT * FROM pg_temp.order_state(:o_paid);

--
-- F6: ordinary orders
--
SELECT * FROM refund_eligibility(:o_wok);
SELECT request_refund(:o_wok, 'refund_only', 'no_reason') > :c_grey AS requested;
SELECT * FROM pg_temp.order_state(:o_wok);
SELECT err('SELECT ship(' || :o_wok || ', ''SF-4006'')');
-- shipped: the merchant decides until signing opens the 7-day window
SELECT err_full('UPDATE orders SET state = ''shipped'' WHERE order_id = ' || :o_wok2);
SELECT ship(:o_wok2, 'SF-4007');
SELECT * FROM refund_eligibility(:o_wok2);
SET customorder.clock = '2024-05-10 11:00:00-07';
SELECT mark_signed(:o_wok2);
SELECT * FROM refund_eligibility(:o_wok2);
SET customorder.clock = '2024-05-17 10:59:59-07';
SELECT no_reason_return FROM refund_eligibility(:o_wok2);
SET customorder.clock = '2024-05-17 11:00:00-07';
SELECT * FROM refund_eligibility(:o_wok2);

--
-- raw INSERT into aftersales is judged like request_refund
--
SET customorder.clock = '2024-05-17 12:00:00-07';
SELECT place_order(prod('wardrobe-high'), 4010, 9800.00) AS o_rawcase \gset
-- an instant refund returns exactly what was paid
SELECT err_full(format($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at, refund_amount)
                         VALUES (%s, 'refund_only', 'no_reason', 'instant_refunded', now(), 100)$$, :o_rawcase));
SELECT err(format($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at, refund_amount)
                    VALUES (%s, 'refund_only', 'no_reason', 'instant_refunded', now(), 9800.01)$$, :o_rawcase));
-- before customization is in effect there is no merchant case
SELECT err_full(format($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
                         VALUES (%s, 'refund_only', 'no_reason', 'requested', now())$$, :o_rawcase));
SELECT err(format($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
                    VALUES (%s, 'refund_only', 'no_reason', 'refunded', now())$$, :o_rawcase));
SELECT err(format($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
                    VALUES (%s, 'refund_only', 'whim', 'requested', now())$$, :o_rawcase));
SELECT err($$INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
             VALUES (999, 'refund_only', 'no_reason', 'requested', now())$$);
-- the raw form of an instant refund; requested_at comes from customorder.now()
INSERT INTO aftersales (order_id, kind, reason, state, requested_at, refund_amount)
VALUES (:o_rawcase, 'refund_only', 'no_reason', 'instant_refunded', '2000-01-01', 9800.00)
RETURNING state, requested_at, refund_amount, closed_at;
SELECT * FROM pg_temp.order_state(:o_rawcase);
-- the raw writer records the case's order, as request_refund() does
INSERT INTO case_orders (aftersale_id, order_id)
SELECT aftersale_id, order_id FROM aftersales WHERE order_id = :o_rawcase;
-- a closed case cannot change, and cases are never deleted
SELECT err_full(format('UPDATE aftersales SET state = ''requested'' WHERE order_id = %s', :o_rawcase));
SELECT err('UPDATE aftersales SET refund_amount = 1 WHERE aftersale_id = ' || :c_grey);
SELECT err('DELETE FROM aftersales WHERE aftersale_id = ' || :c_grey);
