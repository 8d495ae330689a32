--
-- arbitration_P: platform arbitration after a final rejection (rules P1-P4,
-- SPEC section 9 and 13; the escalation_window deadline of section 7)
--
-- Uses err(), err_full(), items() from setup.sql and as_actor() from roles_tenancy.sql;
-- its own roles regress_ap_*, dropped at the end.  Ids start at 55001.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 55000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 55000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 55000) IS NOT NULL AS ok;

SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_ap_platform, regress_ap_merchant, regress_ap_buyer;
RESET client_min_messages;
CREATE ROLE regress_ap_platform;
CREATE ROLE regress_ap_merchant;
CREATE ROLE regress_ap_buyer;
SELECT customorder.grant_platform('regress_ap_platform'),
       customorder.grant_merchant('regress_ap_merchant'),
       customorder.grant_buyer('regress_ap_buyer');

CREATE FUNCTION pg_temp.kase(id bigint,
    OUT state customorder.aftersale_state, OUT refund_amount numeric,
    OUT escalated bool, OUT escalation_note text, OUT arbitration_note text,
    OUT closed bool, OUT due_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT a.state, a.refund_amount, a.escalated_at IS NOT NULL, a.escalation_note,
           a.arbitration_note, a.closed_at IS NOT NULL, a.due_at
    INTO state, refund_amount, escalated, escalation_note, arbitration_note, closed, due_at
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
-- reject(order): a quality case, rejected in_transit on a shipped order,
-- with production proof (reason NULL) on an unshipped one
CREATE FUNCTION pg_temp.reject(o bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
    r text;
BEGIN
    SELECT CASE WHEN shipped_at IS NULL THEN NULL ELSE 'in_transit' END INTO r
    FROM customorder.orders WHERE order_id = o;
    c := customorder.request_refund(o, 'refund_only', 'quality');
    PERFORM customorder.insist_reject(c), customorder.communicate(c, r),
            customorder.continue_reject(c, r, public.items(1, 0, 'p' || c));
    RETURN c;
END $$;

INSERT INTO categories (name, custom_enabled) VALUES ('p-wardrobe', true);
INSERT INTO shops (name, service_score) VALUES ('p-shop', 4.90);
SELECT approve_custom_category(shop('p-shop'), cat('p-wardrobe'));
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship) VALUES
    (shop('p-shop'), cat('p-wardrobe'), 'p-wardrobe', 1000.00, true, '15 days');

SET customorder.clock = '2024-10-01 10:00:00-07';
SELECT place_order(prod('p-wardrobe'), 901, 1000.00) AS o1 \gset
SELECT place_order(prod('p-wardrobe'), 901, 1000.00) AS o2 \gset
SELECT place_order(prod('p-wardrobe'), 901, 1000.00) AS o3 \gset
SELECT place_order(prod('p-wardrobe'), 901, 1000.00) AS o4 \gset
SET customorder.clock = '2024-10-01 12:00:00-07';
SELECT start_customization(o) FROM unnest(ARRAY[:o1, :o2, :o3, :o4]::bigint[]) o;
SELECT ship(o, 'SF-P-' || o) FROM unnest(ARRAY[:o1, :o2, :o3]::bigint[]) o;
SET customorder.clock = '2024-10-02 10:00:00-07';
SELECT pg_temp.reject(:o1) AS c1 \gset
SELECT * FROM pg_temp.kase(:c1);
SELECT deadline, party, on_expiry FROM deadlines(:o1);

--
-- P1: escalate, buyer only, once, inside the window; the case is open again
--
SELECT as_actor('regress_ap_merchant', shop('p-shop'), NULL,
                format('SELECT customorder.escalate(%s, %L)', :c1, 'no'));
SELECT err(format('SELECT escalate(%s, %L)', :c1, repeat('x', 501)));
SELECT err(format('SELECT escalate(%s, %L)', 0, 'note'));
SELECT err(format('UPDATE aftersales SET state = %L WHERE aftersale_id = %s', 'arbitration', :c1));
SELECT as_actor('regress_ap_buyer', NULL, 901,
                format('SELECT customorder.escalate(%s, %L)', :c1, 'the frame arrived broken'));
SELECT * FROM pg_temp.kase(:c1);
SELECT * FROM pg_temp.money(:o1);
SELECT why FROM refund_eligibility(:o1);
SELECT err(format('SELECT escalate(%s, %L)', :c1, 'again'));
-- F7: it is the order's open case
SELECT err(format('SELECT request_refund(%s, %L, %L)', :o1, 'refund_only', 'quality'));
SELECT deadline FROM deadlines(:o1);

--
-- P2: evidence from both parties, at most 3 bundles each
--
SELECT as_actor('regress_ap_merchant', shop('p-shop'), NULL,
                format('SELECT customorder.submit_arbitration_evidence(%s, %L)', :c1, items(1, 0, 'pm' || n)))
FROM generate_series(1, 4) n;
SELECT as_actor('regress_ap_buyer', NULL, 901,
                format('SELECT customorder.submit_arbitration_evidence(%s, %L)', :c1, items(0, 1, 'pb')));
SELECT as_actor('regress_ap_buyer', NULL, 902,
                format('SELECT customorder.submit_arbitration_evidence(%s, %L)', :c1, items(0, 1, 'pb2')));
SELECT err(format('SELECT submit_arbitration_evidence(%s, %L)', :c1, '[]'));
SELECT purpose, count(*) FROM evidence_bundles
WHERE aftersale_id = :c1 GROUP BY purpose ORDER BY purpose;

--
-- P4: the case in arbitration stops neither mark_signed nor ship
--
SELECT mark_signed(:o1);
SELECT pg_temp.reject(:o4) AS c4 \gset
SELECT escalate(:c4, NULL);
SELECT ship(:o4, 'SF-P-4');
SELECT * FROM pg_temp.money(:o4);

--
-- P3: arbitrate, platform only; note required; amounts
--
SELECT as_actor('regress_ap_merchant', shop('p-shop'), NULL,
                format('SELECT customorder.arbitrate(%s, 0, %L)', :c1, 'x'));
SELECT as_actor('regress_ap_platform', NULL, NULL,
                format('SELECT customorder.arbitrate(%s, 0, %L)', 0, 'x'));
SELECT err_full(format('SELECT arbitrate(%s, 100, NULL)', :c1));
SELECT err(format('SELECT arbitrate(%s, NULL, %L)', :c1, 'x'));
SELECT err(format('SELECT arbitrate(%s, -1, %L)', :c1, 'x'));
SELECT err(format('SELECT arbitrate(%s, 1.005, %L)', :c1, 'x'));
SELECT err(format('SELECT arbitrate(%s, 0, %L)', :c1, repeat('x', 501)));
SELECT err_full(format('SELECT arbitrate(%s, 1000.01, %L)', :c1, 'too much'));
-- a partial refund keeps the order's state
SELECT as_actor('regress_ap_platform', NULL, NULL,
                format('SELECT customorder.arbitrate(%s, 400, %L)', :c1, 'half the frame'));
SELECT * FROM pg_temp.kase(:c1);
SELECT * FROM pg_temp.money(:o1);
SELECT err(format('SELECT arbitrate(%s, 0, %L)', :c1, 'again'));
-- all of it moves the order to refunded
SELECT arbitrate(:c4, 1000, 'the buyer is right');
SELECT * FROM pg_temp.money(:o4);

-- 0 upholds the rejection: final
SELECT pg_temp.reject(:o2) AS c2 \gset
SELECT escalate(:c2, 'please');
SELECT arbitrate(:c2, 0, 'the photos show the goods intact');
SELECT * FROM pg_temp.kase(:c2);
SELECT * FROM pg_temp.money(:o2);
SELECT err_full(format('SELECT escalate(%s, %L)', :c2, 'again'));
SELECT err(format('SELECT arbitrate(%s, 0, %L)', :c2, 'again'));

--
-- escalation_window: refused after it; run_due makes the rejection final
--
SELECT pg_temp.reject(:o3) AS c3 \gset
-- a new case on the order blocks escalation (F7)
SELECT request_refund(:o3, 'refund_only', 'not_received') AS c3b \gset
SELECT err_full(format('SELECT escalate(%s, %L)', :c3, 'x'));
SELECT withdraw_refund(:c3b);
SET customorder.clock = '2024-10-10 10:00:00-07';
SELECT as_actor('regress_ap_buyer', NULL, 901,
                format('SELECT customorder.escalate(%s, %L)', :c3, 'late'));
SELECT run_due() >= 1 AS applied;
SELECT * FROM pg_temp.kase(:c3);
SELECT err(format('SELECT escalate(%s, %L)', :c3, 'late'));


-- SPEC 5: agree_refund works in every open state: the merchant concedes
-- in arbitration, all that is still refundable at once
SELECT place_order(prod('p-wardrobe'), 901, 1000.00) AS o5 \gset
SET customorder.clock = '2024-10-10 12:00:00-07';
SELECT start_customization(:o5), ship(:o5, 'SF-P-5');
SELECT pg_temp.reject(:o5) AS c5 \gset
SELECT escalate(:c5, NULL);
SELECT as_actor('regress_ap_merchant', shop('p-shop'), NULL,
                format('SELECT customorder.agree_refund(%s)', :c5));
SELECT * FROM pg_temp.kase(:c5);
SELECT * FROM pg_temp.money(:o5);
SELECT err(format('SELECT arbitrate(%s, 0, %L)', :c5, 'too late'));

SELECT * FROM verify();
RESET customorder.clock;

-- clean up the cluster-wide roles
DROP OWNED BY regress_ap_platform, regress_ap_merchant, regress_ap_buyer;
DROP ROLE regress_ap_platform, regress_ap_merchant, regress_ap_buyer;
