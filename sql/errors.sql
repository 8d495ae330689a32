--
-- errors: every SQLSTATE of the contract, NULL and unknown ids for every
-- button, and who may move the clock
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-06-01 09:00:00-07';

SELECT place_order(prod('wardrobe-low'), 6001, 9800.00) AS o_err \gset

--
-- One refusal of each SQLSTATE (SPEC section 4), with its DETAIL and HINT
--
-- 55000: too early (grey button)
SELECT err_full('SELECT start_customization(' || :o_err || ')');
-- 22023: malformed argument
SELECT err_full('SELECT request_refund(' || :o_err || ', ''refund_only'', ''bored'')');
-- 22004: NULL where a value is required
SELECT err_full('SELECT ship(' || :o_err || ', NULL)');
-- 23514: evidence limits
SET customorder.clock = '2024-06-01 10:00:00-07';
SELECT start_customization(:o_err);
SELECT err_full('SELECT submit_custom_evidence(' || :o_err || ', ' || quote_literal(items(0, 4)) || ')');
-- P0002: no such order
SELECT err_full('SELECT refund_eligibility(424242)');
-- 42501: moving the clock without privilege (below)

-- as psql shows a refusal: no CONTEXT from the trigger's internal SQL
UPDATE orders SET state = 'shipped', tracking_no = 'SF-6001' WHERE order_id = :o_err;

--
-- A NULL id is an error for every button and query, never a silent NULL
--
SELECT f AS call, err('SELECT ' || f)
FROM (VALUES ('place_order(NULL, 1, 10)'),
             ('place_order(1, NULL, 10)'),
             ('place_order(1, 1, NULL)'),
             ('approve_custom_category(NULL, 1)'),
             ('product_badges(NULL)'),
             ('start_customization(NULL)'),
             ('submit_custom_evidence(NULL, ''[]'')'),
             ('view_custom_evidence(NULL)'),
             ('review_evidence(NULL, true, NULL)'),
             ('review_evidence(1, NULL, NULL)'),
             ('ship(NULL, ''SF'')'),
             ('mark_signed(NULL)'),
             ('request_refund(NULL, ''refund_only'', ''no_reason'')'),
             ('refund_eligibility(NULL)'),
             ('order_buttons(NULL)'),
             ('withdraw_refund(NULL)'),
             ('agree_refund(NULL)'),
             ('insist_reject(NULL)'),
             ('communicate(NULL, NULL)'),
             ('continue_reject(NULL, NULL, ''[]'')'),
             ('insist_ship(NULL, ''SF'')'),
             ('propose_refund_amount(NULL, 1)'),
             ('accept_refund_amount(NULL, 1)'),
             ('decline_refund_amount(NULL)'),
             ('supplement_evidence(NULL, ''[]'')')) AS t(f);

-- unknown ids
SELECT f AS call, err('SELECT ' || f)
FROM (VALUES ('place_order(424242, 1, 10)'),
             ('approve_custom_category(424242, 1)'),
             ('product_badges(424242)'),
             ('start_customization(424242)'),
             ('submit_custom_evidence(424242, ' || quote_literal(items(1, 0)) || ')'),
             ('view_custom_evidence(424242)'),
             ('review_evidence(424242, true, NULL)'),
             ('ship(424242, ''SF'')'),
             ('mark_signed(424242)'),
             ('request_refund(424242, ''refund_only'', ''no_reason'')'),
             ('refund_eligibility(424242)'),
             ('order_buttons(424242)'),
             ('withdraw_refund(424242)'),
             ('agree_refund(424242)'),
             ('insist_reject(424242)'),
             ('communicate(424242, NULL)'),
             ('continue_reject(424242, NULL, ' || quote_literal(items(1, 0)) || ')'),
             ('insist_ship(424242, ''SF'')'),
             ('propose_refund_amount(424242, 1)'),
             ('accept_refund_amount(424242, 1)'),
             ('decline_refund_amount(424242)'),
             ('supplement_evidence(424242, ' || quote_literal(items(1, 0)) || ')')) AS t(f);

-- a refused call changes nothing
SELECT state, custom_started_at, evidence_bundle_id, refunded_amount, open_aftersale_id
FROM orders WHERE order_id = :o_err;

--
-- customorder.clock
--
-- a superuser may move it; customorder.now() follows
SET customorder.clock = '2030-01-02 03:04:05-08';
SELECT customorder.now();
SHOW customorder.clock;
-- an invalid value is refused, and the clock stays where it was
SET customorder.clock = 'next tuesday';
SET customorder.clock = 'infinity';
SELECT err('SET customorder.clock = ''2024-13-01''');
SELECT customorder.now();
-- empty means the wall clock when asked, not the transaction start (H1)
BEGIN;
SET LOCAL customorder.clock = '';
SELECT pg_catalog.pg_sleep(0.01);
SELECT customorder.now() > pg_catalog.now() AND customorder.now() <= pg_catalog.clock_timestamp() AS wall_clock;
COMMIT;
RESET customorder.clock;
SELECT customorder.now() BETWEEN pg_catalog.now() AND pg_catalog.clock_timestamp() AS wall_clock;
-- an ordinary role cannot set it by any path
SET customorder.clock = '2024-06-01 09:00:00-07';
CREATE ROLE regress_customorder_merchant;
SET ROLE regress_customorder_merchant;
SET customorder.clock = '2000-01-01 00:00:00+00';
SELECT err('SET customorder.clock = ''2000-01-01 00:00:00+00''');
SELECT err('SELECT set_config(''customorder.clock'', ''2000-01-01'', false)');
SELECT err('RESET customorder.clock');
SELECT err('ALTER ROLE regress_customorder_merchant SET customorder.clock = ''2000-01-01''');
SHOW customorder.clock;
RESET ROLE;
SHOW customorder.clock;
DROP ROLE regress_customorder_merchant;

-- amounts that are no money: 22023, never a numeric overflow from inside
SELECT x AS amount, err(format('SELECT place_order(%s, 6001, %s)', prod('wardrobe-low'), x))
FROM (VALUES ('1e30'), ('''NaN'''), ('''Infinity'''), ('9999999999.995'), ('-0.001')) v(x);
-- the largest amount that fits is no overflow either: it is above the price (H3)
SELECT err(format('SELECT place_order(%s, 6001, 9999999999.99)', prod('wardrobe-low'))) AS largest_amount;
