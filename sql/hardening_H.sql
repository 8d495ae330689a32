--
-- hardening_H: time, money and identity that cannot be gamed (SPEC §6)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2027-03-01 09:00:00+00';

--
-- H3: the platform records a payment; 0 < amount <= the product's price
--
SELECT err(format('SELECT place_order(%s, 9101, 9800.01)', prod('wardrobe-high'))) AS above_price;
SELECT err_full(format('SELECT place_order(%s, 9101, 200)', prod('wok')));
SELECT err(format('SELECT place_order(%s, 9101, 0)', prod('wok'))) AS zero;
-- a coupon may lower it
SELECT place_order(prod('wok'), 9101, 150.00) > 0 AS coupon_lowers;
-- a raw INSERT is judged by the same trigger
SELECT err(format('INSERT INTO orders (product_id, buyer_id, amount) VALUES (%s, 9101, 199.01)', prod('wok'))) AS raw_above_price;
-- pay_no: the same order back for the same payment
SELECT place_order(prod('wok'), 9102, 199.00, 'PAY-H3-1') AS o_pay \gset
SELECT place_order(prod('wok'), 9102, 199.00, 'PAY-H3-1') = :o_pay AS same_order,
       place_order(prod('wok'), 9102, 199, 'PAY-H3-1') = :o_pay AS same_amount_written_otherwise;
SELECT count(*) AS orders_of_payment FROM orders WHERE pay_no = 'PAY-H3-1';
-- payments holds the claim: one row, the order's (orders.pay_no is not
-- UNIQUE: a unique key of orders must include order_id on Citus)
SELECT count(*) AS payments, bool_and(order_id = :o_pay) AS of_the_order
FROM payments WHERE pay_no = 'PAY-H3-1';
SELECT count(*) AS unique_keys_on_pay_no FROM pg_constraint
WHERE conrelid = 'customorder.orders'::regclass AND contype = 'u';
-- a raw INSERT records no payment: a pay_no is place_order's
SELECT err_full(format('INSERT INTO orders (product_id, buyer_id, amount, pay_no) VALUES (%s, 9102, 199.00, %L)',
                       prod('wok'), 'PAY-H3-RAW'));
SELECT err(format('INSERT INTO orders (product_id, buyer_id, amount, pay_no) VALUES (%s, 9102, 199.00, %L)',
                  prod('wok'), 'PAY-H3-1')) AS raw_repeat;
SELECT count(*) AS raw_payments FROM payments WHERE pay_no = 'PAY-H3-RAW';
-- ... and 22023 when product, buyer or amount differ
SELECT err_full(format('SELECT place_order(%s, 9102, 198.00, %L)', prod('wok'), 'PAY-H3-1'));
SELECT err(format('SELECT place_order(%s, 9103, 199.00, %L)', prod('wok'), 'PAY-H3-1')) AS other_buyer;
SELECT err(format('SELECT place_order(%s, 9102, 450.00, %L)', prod('shelf-stock'), 'PAY-H3-1')) AS other_product;
SELECT err(format('SELECT place_order(%s, 9102, 199.00, NULL)', prod('wok'))) AS null_pay_no;
SELECT err(format('SELECT place_order(%s, 9102, 199.00, %L)', prod('wok'), '')) AS empty_pay_no;
-- the payment of an order cannot be changed
SELECT err(format('UPDATE orders SET pay_no = %L WHERE order_id = %s', 'PAY-H3-2', :o_pay)) AS raw_pay_no;

--
-- H1, H2: stamps never go backwards within an order and its cases
--
SELECT place_order(prod('wardrobe-high'), 9104, 9800.00) AS o_back \gset
SET customorder.clock = '2027-03-01 12:00:00+00';
SELECT start_customization(:o_back);
-- the clock is set back: the shipment is stamped no earlier than the start
SET customorder.clock = '2027-02-01 00:00:00+00';
SELECT ship(:o_back, 'SF-H2-1');
SELECT paid_at, custom_started_at, shipped_at, last_stamp_at FROM orders WHERE order_id = :o_back;
SELECT request_refund(:o_back, 'refund_only', 'quality') AS c_back \gset
SELECT insist_reject(:c_back);
SELECT communicate(:c_back, 'in_transit') IS NOT NULL AS sent;
SELECT requested_at, communicated_at FROM aftersales WHERE aftersale_id = :c_back;
SELECT sent_at FROM communications WHERE aftersale_id = :c_back;
-- time moves on for real: stamps follow the clock again
SET customorder.clock = '2027-03-02 08:00:00+00';
SELECT withdraw_refund(:c_back);
SELECT mark_signed(:o_back);
SELECT closed_at FROM aftersales WHERE aftersale_id = :c_back;
SELECT shipped_at, signed_at, last_stamp_at FROM orders WHERE order_id = :o_back;
-- last_stamp_at is the triggers' own
SELECT err(format('UPDATE orders SET last_stamp_at = %L WHERE order_id = %s', '2000-01-01', :o_back)) AS raw_last_stamp;
SELECT count(*) AS violations FROM verify() WHERE order_id IN (:o_back, :o_pay);
RESET customorder.clock;

--
-- H6: no oracle, no owner in messages.  A merchant of shop "low" and a
-- buyer 9201 press every button on an order of shop "high" (buyer 9202) and
-- on an id that does not exist: 42501 alike, naming neither shop "high" nor
-- buyer 9202.
--
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_h6_merchant, regress_h6_buyer, regress_h6_platform;
RESET client_min_messages;
CREATE ROLE regress_h6_merchant;
CREATE ROLE regress_h6_buyer;
CREATE ROLE regress_h6_platform;
SELECT grant_merchant('regress_h6_merchant'), grant_buyer('regress_h6_buyer'),
       grant_platform('regress_h6_platform');
SET customorder.clock = '2027-04-01 09:00:00+00';
SELECT place_order(prod('wardrobe-high'), 9202, 9800.00) AS o_other \gset
SET customorder.clock = '2027-04-01 11:00:00+00';
SELECT start_customization(:o_other);
SELECT request_refund(:o_other, 'refund_only', 'quality') AS c_other \gset
RESET customorder.clock;
CREATE TEMP TABLE h6_calls (who text, sql text);
INSERT INTO h6_calls
SELECT 'merchant', format(f, id)
FROM (VALUES ('SELECT customorder.start_customization(%s)'),
             ('SELECT customorder.ship(%s, ''SF-1'')'),
             ('SELECT customorder.submit_custom_evidence(%s, ''[]'')'),
             ('SELECT count(*) FROM customorder.order_buttons(%s)'),
             ('SELECT count(*) FROM customorder.view_custom_evidence(%s)'),
             ('SELECT (customorder.refund_eligibility(%s)).why')) f(f),
     (VALUES (:o_other), (424242)) i(id)
UNION ALL
SELECT 'merchant', format(f, id)
FROM (VALUES ('SELECT customorder.agree_refund(%s)'),
             ('SELECT customorder.insist_reject(%s)'),
             ('SELECT customorder.communicate(%s, NULL)'),
             ('SELECT customorder.continue_reject(%s, NULL, ''[]'')'),
             ('SELECT customorder.insist_ship(%s, ''SF-1'')'),
             ('SELECT customorder.propose_refund_amount(%s, 1)')) f(f),
     (VALUES (:c_other), (424242)) i(id)
UNION ALL
SELECT 'buyer', format(f, id)
FROM (VALUES ('SELECT customorder.request_refund(%s, ''refund_only'', ''quality'')'),
             ('SELECT count(*) FROM customorder.view_custom_evidence(%s)'),
             ('SELECT (customorder.refund_eligibility(%s)).why')) f(f),
     (VALUES (:o_other), (424242)) i(id)
UNION ALL
SELECT 'buyer', format(f, id)
FROM (VALUES ('SELECT customorder.withdraw_refund(%s)'),
             ('SELECT customorder.accept_refund_amount(%s, 1)'),
             ('SELECT customorder.decline_refund_amount(%s)'),
             ('SELECT customorder.supplement_evidence(%s, ''[]'')')) f(f),
     (VALUES (:c_other), (424242)) i(id);
-- h6_refusal(role, shop, buyer, sql): SQLSTATE, message, DETAIL and HINT
CREATE FUNCTION pg_temp.h6_refusal(r text, shop bigint, buyer bigint, sql text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    PERFORM pg_catalog.set_config('customorder.shop_id', coalesce(shop::text, ''), true);
    PERFORM pg_catalog.set_config('customorder.buyer_id', coalesce(buyer::text, ''), true);
    PERFORM pg_catalog.set_config('role', r, true);
    BEGIN
        EXECUTE sql;
        st := 'ok';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    END;
    PERFORM pg_catalog.set_config('role', 'none', true);
    RETURN concat_ws(' | ', st, msg, det, hnt);
END $$;
CREATE TEMP TABLE h6_out AS
SELECT c.who, c.sql,
       pg_temp.h6_refusal(CASE c.who WHEN 'merchant' THEN 'regress_h6_merchant' ELSE 'regress_h6_buyer' END,
                          CASE c.who WHEN 'merchant' THEN shop('low') END,
                          CASE c.who WHEN 'buyer' THEN 9201 END, c.sql) AS refusal
FROM h6_calls c;
-- every call refused with 42501, whether or not the id exists
SELECT who, left(refusal, 5) AS sqlstate, count(*) FROM h6_out GROUP BY 1, 2 ORDER BY 1, 2;
-- the same words for an existing id and a missing one
SELECT count(DISTINCT who || regexp_replace(sql, '\d+', 'N', 'g')) AS calls,
       count(DISTINCT who || regexp_replace(sql, '\d+', 'N', 'g') || refusal) AS distinct_answers
FROM h6_out;
-- no refusal names the order's shop or buyer
SELECT count(*) AS naming_the_owner FROM h6_out
WHERE refusal ~ ('\m(' || shop('high') || '|9202|' || :o_other || '|' || :c_other || ')\M');
SELECT DISTINCT who, refusal FROM h6_out ORDER BY 1, 2;
-- the platform still gets P0002 for a missing id
SELECT pg_temp.h6_refusal('regress_h6_platform', NULL, NULL, 'SELECT customorder.mark_signed(424242)') AS platform_missing;
DROP OWNED BY regress_h6_merchant, regress_h6_buyer, regress_h6_platform;
DROP ROLE regress_h6_merchant, regress_h6_buyer, regress_h6_platform;

--
-- H8: tracking numbers are 1-64 characters of [A-Za-z0-9-] (ship and
-- insist_ship share the rule)
--
SELECT place_order(prod('wok'), 9301, 199.00) AS o_h8 \gset
SELECT t AS tracking_no, err(format('SELECT ship(%s, %L)', :o_h8, t))
FROM (VALUES (''), ('SF 123'), (E'SF\n123'), (repeat('A', 65)), ('顺丰123')) v(t);
SELECT ship(:o_h8, repeat('A', 63) || '-');

--
-- H8: an item's mime is ^(image|video)/[a-z0-9][a-z0-9.+-]*$; its uri holds
-- no control or bidirectional-override character; a review note is at most
-- 500 characters.  The item trigger judges, so a raw INSERT is refused alike.
--
SELECT place_order(prod('suit-low'), 9302, 3200.00) AS o_h8b \gset
SET customorder.clock = '2099-01-01 00:00:00+00';
SELECT start_customization(:o_h8b);
-- try_item(mime, uri): submit a one-image bundle and undo it; 'ok' or the refusal
CREATE FUNCTION pg_temp.try_item(o bigint, m text, u text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM customorder.submit_custom_evidence(o,
        jsonb_build_array(jsonb_build_object('type', 'image', 'mime', m, 'bytes', 10, 'uri', u)));
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN CASE WHEN SQLERRM = 'accepted' THEN 'ok' ELSE SQLSTATE || ': ' || SQLERRM END;
END $$;
SELECT m AS mime, pg_temp.try_item(:o_h8b, m, 'https://img.example/h8.jpg')
FROM (VALUES ('image/JPEG'), ('image/.jpeg'), ('image/jpeg; q=1'), (E'image/jpeg\n'),
             ('image/svg+xml'), ('image/vnd.ms-photo')) v(m);
SELECT name, pg_temp.try_item(:o_h8b, 'image/png', u)
FROM (VALUES ('newline', E'https://img.example/a\nb.png'),
             ('tab', E'https://img.example/a\tb.png'),
             ('delete', 'https://img.example/a' || chr(127) || 'b.png'),
             ('C1 U+0085', 'https://img.example/a' || chr(133) || 'b.png'),
             ('RLO U+202E', 'https://img.example/' || chr(8238) || 'gnp.exe'),
             ('LRE U+202A', 'https://img.example/' || chr(8234) || 'a.png'),
             ('LRI U+2066', 'https://img.example/' || chr(8294) || 'a.png'),
             ('PDI U+2069', 'https://img.example/' || chr(8297) || 'a.png'),
             ('LRM U+200E, not an override', 'https://img.example/' || chr(8206) || 'a.png'),
             ('chinese', 'https://img.example/定制.png')) v(name, u);
-- review notes: at most 500 characters (the bundle trigger judges)
SELECT submit_custom_evidence(:o_h8b, items(1, 0, 'h8'));
SELECT err(format('SELECT review_evidence(%s, false, %L)', :o_h8b, repeat('注', 501))) AS note_501;
SELECT review_evidence(:o_h8b, false, repeat('注', 500)) AS note_500;
RESET customorder.clock;

--
-- H7: revoked labels.  Deleting a shop's approval or disabling a category
-- leaves existing orders alone (L4), but its custom products lose the
-- custom badge, cannot be ordered (55000, "republish") and verify() names
-- them, until the label is valid again.
--
INSERT INTO categories (name, custom_enabled) VALUES ('h7-furniture', true);
INSERT INTO shops (name, service_score) VALUES ('h7-shop', 4.95);
SELECT approve_custom_category(shop('h7-shop'), cat('h7-furniture'));
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (shop('h7-shop'), cat('h7-furniture'), 'h7-bed', 5000.00, true, '15 days');
SELECT place_order(prod('h7-bed'), 9401, 5000.00) AS o_h7 \gset
SELECT product_badges(prod('h7-bed')) AS badges_approved;
-- the platform withdraws the approval
DELETE FROM custom_approvals WHERE shop_id = shop('h7-shop') AND category_id = cat('h7-furniture');
SELECT product_badges(prod('h7-bed')) AS badges_withdrawn;
SELECT err_full(format('SELECT place_order(%s, 9401, 5000.00)', prod('h7-bed')));
SELECT invariant, order_id, regexp_replace(detail, '\d+', 'N', 'g') AS detail
FROM verify() WHERE invariant = 'product_label';
-- the order placed before is untouched (L4) and goes on
SELECT state, is_custom FROM orders WHERE order_id = :o_h7;
-- approved again: the label is valid, the product orderable and badged
SELECT approve_custom_category(shop('h7-shop'), cat('h7-furniture'));
SELECT product_badges(prod('h7-bed')) AS badges_reapproved,
       place_order(prod('h7-bed'), 9401, 5000.00) > 0 AS orderable;
-- the category is no longer custom-enabled
UPDATE categories SET custom_enabled = false WHERE name = 'h7-furniture';
SELECT product_badges(prod('h7-bed')) AS badges_disabled;
SELECT err(format('SELECT place_order(%s, 9401, 5000.00)', prod('h7-bed'))) AS disabled;
SELECT invariant, regexp_replace(detail, '\d+', 'N', 'g') AS detail
FROM verify() WHERE invariant = 'product_label';
-- republished as an ordinary product: the seven-day badge, no violation
UPDATE products SET is_custom = false, promised_ship = NULL WHERE title = 'h7-bed';
SELECT product_badges(prod('h7-bed')) AS badges_ordinary;
SELECT count(*) AS violations FROM verify();
