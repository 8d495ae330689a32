--
-- bound_H5: bound identities (SPEC §6, H5).  grant_merchant(role, shop_ids)
-- and grant_buyer(role, buyer_ids) bind a role: a customorder.shop_id or
-- buyer_id outside its ids gets 42501 from every button and sees no row;
-- granting again widens, revoke_actor(role, kind) takes the kind away.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_h5_merchant, regress_h5_buyer, regress_h5_both;
RESET client_min_messages;
CREATE ROLE regress_h5_merchant LOGIN;
CREATE ROLE regress_h5_buyer LOGIN;
CREATE ROLE regress_h5_both LOGIN;

-- as_bound(role, shop, buyer, sql): run sql as that role with those
-- settings; 'ok' / the result, or "SQLSTATE: message | DETAIL"
CREATE FUNCTION pg_temp.as_bound(r text, shop bigint, buyer bigint, sql text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; res text;
BEGIN
    PERFORM pg_catalog.set_config('customorder.shop_id', coalesce(shop::text, ''), true);
    PERFORM pg_catalog.set_config('customorder.buyer_id', coalesce(buyer::text, ''), true);
    PERFORM pg_catalog.set_config('role', r, true);
    BEGIN
        EXECUTE sql INTO res;
        st := coalesce(res, 'ok');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                det = PG_EXCEPTION_DETAIL;
        st := concat_ws(' | ', st || ': ' || msg, nullif(det, ''));
    END;
    PERFORM pg_catalog.set_config('role', 'none', true);
    PERFORM pg_catalog.set_config('customorder.shop_id', '', true);
    PERFORM pg_catalog.set_config('customorder.buyer_id', '', true);
    RETURN st;
END $$;

-- ids must be positive; none is no binding at all
SELECT err('SELECT customorder.grant_merchant(''regress_h5_merchant'', ''{}'')') AS empty_ids;
SELECT err_full('SELECT customorder.grant_buyer(''regress_h5_buyer'', ''{9501,0}'')');
SELECT err('SELECT customorder.grant_merchant(''regress_h5_merchant'', ''{NULL}'')') AS null_id;
SELECT err('SELECT customorder.grant_actor(''regress_h5_merchant'', ''platform'', ''{1}'')') AS platform_bound;

SELECT grant_merchant('regress_h5_merchant', ARRAY[shop('low')]),
       grant_buyer('regress_h5_buyer', ARRAY[9501, 9501]);
SELECT role, kind, ids = ARRAY[shop('low')] AS bound_to_low, ids
FROM actors WHERE role::text LIKE 'regress_h5_%' AND kind = 'merchant'
UNION ALL
SELECT role, kind, NULL, ids FROM actors WHERE role::text LIKE 'regress_h5_%' AND kind = 'buyer'
ORDER BY 1, 2;

-- One order of shop low for buyer 9501 (the roles' own), one of shop high
-- for buyer 9502 (outside both bindings), each with an open case
SET customorder.clock = '2027-05-01 09:00:00+00';
SELECT place_order(prod('wardrobe-low'), 9501, 9800.00) AS o_own \gset
SELECT place_order(prod('wardrobe-high'), 9502, 9800.00) AS o_out \gset
SELECT place_order(prod('wok'), 9502, 199.00) AS o_out2 \gset
SET customorder.clock = '2027-05-01 11:00:00+00';
SELECT start_customization(:o_out);
SELECT request_refund(:o_out, 'refund_only', 'quality') AS c_out \gset

-- Every button and query, pressed by a bound role that sets an identity
-- outside its binding (shop high, buyer 9502: the orders' own owners)
CREATE TEMP TABLE h5_calls (who text, sql text);
INSERT INTO h5_calls
SELECT 'merchant', format(f, :o_out)
FROM (VALUES ('SELECT customorder.start_customization(%s)'),
             ('SELECT customorder.ship(%s, ''SF-1'')'),
             ('SELECT customorder.submit_custom_evidence(%s, ''[]'')'),
             ('SELECT count(*) FROM customorder.order_buttons(%s)'),
             ('SELECT count(*) FROM customorder.view_custom_evidence(%s)'),
             ('SELECT (customorder.refund_eligibility(%s)).why')) f(f)
UNION ALL
SELECT 'merchant', format(f, :c_out)
FROM (VALUES ('SELECT customorder.agree_refund(%s)'),
             ('SELECT customorder.insist_reject(%s)'),
             ('SELECT customorder.communicate(%s, NULL)'),
             ('SELECT customorder.continue_reject(%s, NULL, ''[]'')'),
             ('SELECT customorder.insist_ship(%s, ''SF-1'')'),
             ('SELECT customorder.propose_refund_amount(%s, 1)')) f(f)
UNION ALL
SELECT 'buyer', format(f, :o_out2)
FROM (VALUES ('SELECT customorder.request_refund(%s, ''refund_only'', ''quality'')'),
             ('SELECT count(*) FROM customorder.view_custom_evidence(%s)'),
             ('SELECT (customorder.refund_eligibility(%s)).why')) f(f)
UNION ALL
SELECT 'buyer', format(f, :c_out)
FROM (VALUES ('SELECT customorder.withdraw_refund(%s)'),
             ('SELECT customorder.accept_refund_amount(%s, 1)'),
             ('SELECT customorder.decline_refund_amount(%s)'),
             ('SELECT customorder.supplement_evidence(%s, ''[]'')')) f(f);
CREATE TEMP TABLE h5_out AS
SELECT c.who, c.sql,
       pg_temp.as_bound(CASE c.who WHEN 'merchant' THEN 'regress_h5_merchant' ELSE 'regress_h5_buyer' END,
                        CASE c.who WHEN 'merchant' THEN shop('high') END,
                        CASE c.who WHEN 'buyer' THEN 9502 END, c.sql) AS result
FROM h5_calls c;
SELECT who, left(result, 5) AS sqlstate, count(*) FROM h5_out GROUP BY 1, 2 ORDER BY 1, 2;
SELECT DISTINCT who, result FROM h5_out ORDER BY 1, 2;
-- nothing happened to the orders and the case
SELECT state FROM orders WHERE order_id IN (:o_out, :o_out2) ORDER BY order_id;
SELECT state FROM aftersales WHERE aftersale_id = :c_out;

-- Within the binding the same roles act as before
SELECT pg_temp.as_bound('regress_h5_merchant', shop('low'), NULL,
    format('SELECT customorder.start_customization(%s)', :o_own)) AS merchant_own_start;
SELECT pg_temp.as_bound('regress_h5_buyer', NULL, 9501,
    format('SELECT customorder.request_refund(%s, ''refund_only'', ''quality'') > 0', :o_own)) AS buyer_own_request;

-- Row security: a bound role outside its ids sees nothing of the orders
-- (nor, for a merchant, of the shop's configuration)
CREATE FUNCTION pg_temp.h5_sees(r text, shop bigint, buyer bigint) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.as_bound(r, shop, buyer, format($q$
        SELECT format('orders %%s, cases %%s, bundles %%s, products %%s, approvals %%s',
            (SELECT count(*) FROM customorder.orders WHERE order_id IN (%1$s, %2$s, %3$s)),
            (SELECT count(*) FROM customorder.aftersales WHERE order_id IN (%1$s, %2$s, %3$s)),
            (SELECT count(*) FROM customorder.evidence_bundles WHERE order_id IN (%1$s, %2$s, %3$s)),
            (SELECT count(*) FROM customorder.products WHERE shop_id = %4$s),
            (SELECT count(*) FROM customorder.custom_approvals WHERE shop_id = %4$s)) $q$,
        current_setting('h5.o_own'), current_setting('h5.o_out'), current_setting('h5.o_out2'), coalesce(shop, 0)))
$$;
SELECT set_config('h5.o_own', :'o_own', false), set_config('h5.o_out', :'o_out', false),
       set_config('h5.o_out2', :'o_out2', false) \gset
SELECT 'merchant as low (bound)' AS who, pg_temp.h5_sees('regress_h5_merchant', shop('low'), NULL) AS sees
UNION ALL SELECT 'merchant as high (outside)', pg_temp.h5_sees('regress_h5_merchant', shop('high'), NULL)
UNION ALL SELECT 'buyer as 9501 (bound)', pg_temp.h5_sees('regress_h5_buyer', NULL, 9501)
UNION ALL SELECT 'buyer as 9502 (outside)', pg_temp.h5_sees('regress_h5_buyer', NULL, 9502);

-- Widening: granting again adds ids
SELECT grant_merchant('regress_h5_merchant', ARRAY[shop('high')]);
SELECT ids = ARRAY[shop('high'), shop('low')] AS low_and_high FROM actors
WHERE role = 'regress_h5_merchant'::regrole AND kind = 'merchant';
SELECT pg_temp.h5_sees('regress_h5_merchant', shop('high'), NULL) AS widened_sees;
SELECT pg_temp.as_bound('regress_h5_merchant', shop('high'), NULL,
    format('SELECT customorder.agree_refund(%s)', :c_out)) AS widened_agree;
-- an unbound grant is the widest: NULL, and granting ids later keeps it so
SELECT grant_buyer('regress_h5_buyer');
SELECT grant_buyer('regress_h5_buyer', ARRAY[9501]);
SELECT ids IS NULL AS unbound FROM actors WHERE role = 'regress_h5_buyer'::regrole;
SELECT pg_temp.h5_sees('regress_h5_buyer', NULL, 9502) AS unbound_sees;

-- Revoking: the kind, its functions and, with no kind left, the tables
SELECT err('SELECT customorder.revoke_actor(NULL, ''merchant'')') AS null_role;
SELECT err_full('SELECT customorder.revoke_actor(''regress_h5_merchant'', ''admin'')');
SELECT revoke_actor('regress_h5_merchant', 'merchant');
SELECT count(*) AS merchant_rows FROM actors WHERE role = 'regress_h5_merchant'::regrole;
SELECT pg_temp.as_bound('regress_h5_merchant', shop('low'), NULL,
    format('SELECT count(*) FROM customorder.order_buttons(%s)', :o_own)) AS revoked_press;
SELECT pg_temp.as_bound('regress_h5_merchant', shop('low'), NULL,
    'SELECT count(*) FROM customorder.orders') AS revoked_select;
SELECT has_schema_privilege('regress_h5_merchant', 'customorder', 'USAGE') AS revoked_usage;
-- a role of two kinds keeps what its other kind needs
SELECT grant_merchant('regress_h5_both', ARRAY[shop('low')]), grant_buyer('regress_h5_both', ARRAY[9501]);
SELECT revoke_actor('regress_h5_both', 'merchant');
SELECT has_function_privilege('regress_h5_both', 'customorder.ship(bigint,text)', 'EXECUTE') AS ship,
       has_function_privilege('regress_h5_both', 'customorder.view_custom_evidence(bigint)', 'EXECUTE') AS view,
       has_function_privilege('regress_h5_both', 'customorder.withdraw_refund(bigint)', 'EXECUTE') AS withdraw,
       has_table_privilege('regress_h5_both', 'customorder.orders', 'SELECT') AS orders;
SELECT pg_temp.as_bound('regress_h5_both', NULL, 9501,
    format('SELECT (customorder.refund_eligibility(%s)).can_request::text', :o_own)) AS still_buyer;
-- revoking a kind the role does not have changes nothing
SELECT revoke_actor('regress_h5_both', 'platform');
SELECT kind, ids FROM actors WHERE role = 'regress_h5_both'::regrole;
RESET customorder.clock;
DROP OWNED BY regress_h5_merchant, regress_h5_buyer, regress_h5_both;
DROP ROLE regress_h5_merchant, regress_h5_buyer, regress_h5_both;
