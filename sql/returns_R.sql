--
-- returns_R: return and refund after shipment (rules R1-R5, SPEC section 8;
-- the buyer_return and merchant_receipt deadlines of section 7)
--
-- Uses err(), err_full(), items() from setup.sql and as_actor() from roles_tenancy.sql;
-- its own roles regress_rt_*, dropped at the end.  Ids start at 50001.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 50000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 50000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 50000) IS NOT NULL AS ok;

SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_rt_platform, regress_rt_merchant, regress_rt_buyer;
RESET client_min_messages;
CREATE ROLE regress_rt_platform;
CREATE ROLE regress_rt_merchant;
CREATE ROLE regress_rt_buyer;
SELECT customorder.grant_platform('regress_rt_platform'),
       customorder.grant_merchant('regress_rt_merchant'),
       customorder.grant_buyer('regress_rt_buyer');

CREATE FUNCTION pg_temp.kase(id bigint,
    OUT state customorder.aftersale_state, OUT refund_amount numeric,
    OUT reject_reason text, OUT return_tracking_no text, OUT shipped_back bool,
    OUT closed bool, OUT due_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT a.state, a.refund_amount, a.reject_reason, a.return_tracking_no,
           a.return_shipped_at IS NOT NULL, a.closed_at IS NOT NULL, a.due_at
    INTO state, refund_amount, reject_reason, return_tracking_no, shipped_back, closed, due_at
    FROM customorder.aftersales a WHERE a.aftersale_id = id;
END $$;
CREATE FUNCTION pg_temp.money(id bigint,
    OUT state customorder.order_state, OUT amount numeric,
    OUT refunded_amount numeric, OUT open_case bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT o.state, o.amount, o.refunded_amount, o.open_aftersale_id
    INTO state, amount, refunded_amount, open_case
    FROM customorder.orders o WHERE o.order_id = id;
END $$;

INSERT INTO categories (name, custom_enabled) VALUES ('r-glasses', true);
INSERT INTO shops (name, service_score) VALUES ('r-shop', 4.90);
SELECT approve_custom_category(shop('r-shop'), cat('r-glasses'));
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship) VALUES
    (shop('r-shop'), cat('r-glasses'), 'r-lenses', 1000.00, true, '7 days');
INSERT INTO products (shop_id, category_id, title, price) VALUES
    (shop('r-shop'), cat('r-glasses'), 'r-frame', 300.00);

SET customorder.clock = '2024-09-01 10:00:00-07';
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o1 \gset
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o2 \gset
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o3 \gset
SELECT place_order(prod('r-frame'), 801, 300.00) AS o4 \gset
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o5 \gset
SET customorder.clock = '2024-09-01 12:00:00-07';
SELECT start_customization(o), ship(o, 'SF-R-' || o)
FROM unnest(ARRAY[:o1, :o2, :o3, :o5]::bigint[]) o;
SELECT ship(:o4, 'SF-R-4');

--
-- R1: agreeing a return_refund after shipment waits for the goods
--
SET customorder.clock = '2024-09-02 10:00:00-07';
SELECT request_refund(:o1, 'return_refund', 'quality') AS c1 \gset
SELECT agree_refund(:c1);
SELECT * FROM pg_temp.kase(:c1);
SELECT * FROM pg_temp.money(:o1);
SELECT deadline, party, due_at, on_expiry, passed FROM deadlines(:o1);
SELECT why FROM refund_eligibility(:o1);
SELECT button, enabled, why_disabled FROM order_buttons(:o1);
-- the merchant cannot answer a return that has not shipped (R3, R4)
SELECT err_full(format('SELECT refuse_return(%s, %L, %L)', :c1, 'damaged', items(1, 0, 'r1')));
SELECT err_full(format('SELECT confirm_return(%s)', :c1));
-- F7: the case is open; a second request is refused
SELECT err(format('SELECT request_refund(%s, %L, %L)', :o1, 'refund_only', 'quality'));
-- the order cannot ship again nor be refunded by raw SQL
SELECT err(format('UPDATE aftersales SET state = %L WHERE aftersale_id = %s', 'refunded', :c1));

--
-- R2: ship_return, buyer only, tracking number rules (H8)
--
SELECT err(format('SELECT ship_return(%s, NULL)', :c1));
SELECT err(format('SELECT ship_return(%s, %L)', :c1, ''));
SELECT err(format('SELECT ship_return(%s, %L)', :c1, 'bad number!'));
SELECT err(format('SELECT ship_return(%s, %L)', 0, 'RET-1'));
SELECT as_actor('regress_rt_merchant', shop('r-shop'), NULL,
                format('SELECT customorder.ship_return(%s, %L)', :c1, 'RET-1'));
SELECT as_actor('regress_rt_buyer', NULL, 802,
                format('SELECT customorder.ship_return(%s, %L)', :c1, 'RET-1'));
SELECT err(format('UPDATE aftersales SET return_shipped_at = now() WHERE aftersale_id = %s', :c1));
SET customorder.clock = '2024-09-03 10:00:00-07';
SELECT as_actor('regress_rt_buyer', NULL, 801,
                format('SELECT customorder.ship_return(%s, %L)', :c1, 'RET-1'));
SELECT * FROM pg_temp.kase(:c1);
SELECT deadline, party, due_at, on_expiry, passed FROM deadlines(:o1);
SELECT why FROM refund_eligibility(:o1);
SELECT button, enabled, why_disabled FROM order_buttons(:o1);
SELECT err(format('SELECT ship_return(%s, %L)', :c1, 'RET-2'));

--
-- R3: confirm_return, merchant only: all that is refundable, order refunded
--
SELECT as_actor('regress_rt_buyer', NULL, 801,
                format('SELECT customorder.confirm_return(%s)', :c1));
SELECT as_actor('regress_rt_merchant', shop('r-shop'), NULL,
                format('SELECT customorder.confirm_return(%s)', :c1));
SELECT * FROM pg_temp.kase(:c1);
SELECT * FROM pg_temp.money(:o1);
SELECT err(format('SELECT confirm_return(%s)', :c1));

--
-- R4: refuse_return with a reason and a return proof -> rejected
--
SELECT request_refund(:o2, 'return_refund', 'not_as_agreed') AS c2 \gset
SELECT agree_refund(:c2), ship_return(:c2, 'RET-2');
SELECT err(format('SELECT refuse_return(%s, NULL, %L)', :c2, items(1, 0, 'r2a')));
SELECT err(format('SELECT refuse_return(%s, %L, %L)', :c2, 'no_reason', items(1, 0, 'r2b')));
SELECT err(format('SELECT refuse_return(%s, %L, %L)', :c2, 'damaged', '[]'));
SELECT err(format('SELECT refuse_return(%s, %L, %L)', :c2, 'damaged', items(11, 0, 'r2c')));
SELECT as_actor('regress_rt_buyer', NULL, 801,
                format('SELECT customorder.refuse_return(%s, %L, %L)', :c2, 'damaged', items(1, 0, 'r2d')));
SELECT refuse_return(:c2, 'damaged', items(2, 1, 'r2e'));
SELECT * FROM pg_temp.kase(:c2);
SELECT * FROM pg_temp.money(:o2);
SELECT b.purpose, b.image_count, b.video_count, b.aftersale_id = :c2 AS of_case
FROM evidence_bundles b
JOIN aftersales a ON a.order_id = b.order_id AND a.proof_bundle_id = b.bundle_id
WHERE a.aftersale_id = :c2;
SELECT deadline, party, on_expiry FROM deadlines(:o2);

--
-- R5: the buyer may withdraw while awaiting_return (and once shipped back)
--
SELECT request_refund(:o3, 'return_refund', 'quality') AS c3 \gset
SELECT agree_refund(:c3), withdraw_refund(:c3);
SELECT * FROM pg_temp.money(:o3);
SELECT request_refund(:o3, 'return_refund', 'quality') AS c3b \gset
SELECT agree_refund(:c3b), ship_return(:c3b, 'RET-3'), withdraw_refund(:c3b);
-- refund_only after shipment is unchanged: agreeing refunds at once
SELECT request_refund(:o3, 'refund_only', 'quality') AS c3c \gset
SELECT agree_refund(:c3c);
SELECT * FROM pg_temp.money(:o3);

-- R5: an ordinary order's no-reason return cannot be refused by
-- insist_reject, and refunds only on receipt
SELECT request_refund(:o4, 'return_refund', 'no_reason') AS c4 \gset
SELECT err(format('SELECT insist_reject(%s)', :c4));
SELECT agree_refund(:c4);
SELECT * FROM pg_temp.money(:o4);
SELECT ship_return(:c4, 'RET-4'), confirm_return(:c4);
SELECT * FROM pg_temp.money(:o4);

--
-- Deadlines: buyer_return lapses the case; merchant_receipt refunds
--
SELECT request_refund(:o5, 'return_refund', 'quality') AS c5 \gset
SELECT agree_refund(:c5);
SET customorder.clock = '2024-09-20 10:00:00-07';
SELECT deadline, party, on_expiry, passed FROM deadlines(:o5);
-- T2: the buyer is refused once buyer_return passed
SELECT as_actor('regress_rt_buyer', NULL, 801,
                format('SELECT customorder.ship_return(%s, %L)', :c5, 'RET-5'));
SELECT run_due() >= 1 AS applied;
SELECT * FROM pg_temp.kase(:c5);
SELECT * FROM pg_temp.money(:o5);
SELECT request_refund(:o5, 'return_refund', 'quality') AS c5b \gset
SELECT agree_refund(:c5b), ship_return(:c5b, 'RET-5B');
SET customorder.clock = '2024-10-01 10:00:00-07';
SELECT as_actor('regress_rt_merchant', shop('r-shop'), NULL,
                format('SELECT customorder.refuse_return(%s, %L, %L)', :c5b, 'damaged', items(1, 0, 'r5')));
SELECT run_due() >= 1 AS applied;
SELECT * FROM pg_temp.kase(:c5b);
SELECT * FROM pg_temp.money(:o5);


--
-- SPEC 5: agree_refund works in every open state: once a return is under
-- way the merchant may give up the goods and refund all at once
--
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o6 \gset
SELECT place_order(prod('r-lenses'), 801, 1000.00) AS o7 \gset
SET customorder.clock = '2024-10-01 12:00:00-07';
SELECT start_customization(o), ship(o, 'SF-R-' || o)
FROM unnest(ARRAY[:o6, :o7]::bigint[]) o;
SELECT request_refund(:o6, 'return_refund', 'quality') AS c6 \gset
SELECT agree_refund(:c6) AS first, agree_refund(:c6) AS again;
SELECT * FROM pg_temp.kase(:c6);
SELECT * FROM pg_temp.money(:o6);
SELECT request_refund(:o7, 'return_refund', 'quality') AS c7 \gset
SELECT agree_refund(:c7), ship_return(:c7, 'RET-7');
SELECT as_actor('regress_rt_merchant', shop('r-shop'), NULL,
                format('SELECT customorder.agree_refund(%s)', :c7));
SELECT * FROM pg_temp.kase(:c7);
SELECT * FROM pg_temp.money(:o7);

SELECT * FROM verify();
RESET customorder.clock;

-- clean up the cluster-wide roles
DROP OWNED BY regress_rt_platform, regress_rt_merchant, regress_rt_buyer;
DROP ROLE regress_rt_platform, regress_rt_merchant, regress_rt_buyer;
