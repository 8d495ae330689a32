--
-- roles_tenancy: who may press which button (platform, merchant of the
-- order's shop, buyer of the order), row-level security, a hardened
-- search_path, and the superuser-only clock.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_co_platform, regress_co_merchant, regress_co_buyer,
    regress_co_nobody, regress_co_both;
RESET client_min_messages;
-- LOGIN: on a Citus cluster the roles' reads and writes reach the workers
-- through connections as the role (test/citus/run runs this file there)
CREATE ROLE regress_co_platform LOGIN;
CREATE ROLE regress_co_merchant LOGIN;
CREATE ROLE regress_co_buyer LOGIN;
CREATE ROLE regress_co_nobody LOGIN;
CREATE ROLE regress_co_both LOGIN;

-- as_actor(role, shop_id, buyer_id, sql): run sql as that role with that
-- identity (SET LOCAL, as an application would); the first column of the
-- result, or "SQLSTATE: message".
CREATE FUNCTION public.as_actor(r text, shop bigint, buyer bigint, sql text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('customorder.shop_id', coalesce(shop::text, ''), true);
    PERFORM pg_catalog.set_config('customorder.buyer_id', coalesce(buyer::text, ''), true);
    PERFORM pg_catalog.set_config('role', r, true);
    BEGIN
        IF sql ~* '^\s*(select|with)' THEN
            EXECUTE sql INTO res;
            res := coalesce(res, 'ok');
        ELSE
            EXECUTE sql;
            GET DIAGNOSTICS n = ROW_COUNT;
            res := 'ok, ' || n || ' rows';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        res := SQLSTATE || ': ' || SQLERRM;
    END;
    PERFORM pg_catalog.set_config('role', 'none', true);
    RETURN res;
END $$;

-- The extension creates no role itself; PUBLIC executes no button
SELECT count(*) AS public_executable_buttons
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'customorder'::regnamespace
  AND p.prorettype <> 'trigger'::regtype
  AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE');
SELECT err('SELECT customorder.grant_merchant(NULL)');
SELECT customorder.grant_platform('regress_co_platform');
SELECT customorder.grant_merchant('regress_co_merchant');
SELECT customorder.grant_buyer('regress_co_buyer');
SELECT customorder.grant_merchant('regress_co_both');
SELECT customorder.grant_buyer('regress_co_both');
SELECT role, kind FROM customorder.actors ORDER BY role::text, kind;

-- What each kind may execute, straight from the catalog
SELECT r.rolname, count(*) FILTER (WHERE has_function_privilege(r.oid, p.oid, 'EXECUTE')) AS functions,
       string_agg(p.proname, ' ' ORDER BY p.proname)
           FILTER (WHERE has_function_privilege(r.oid, p.oid, 'EXECUTE')
                   AND p.proname NOT IN ('now', 'transitions', 'product_badges', 'acts_as',
                                         'acting_shop_id', 'acting_buyer_id', 'order_visible',
                                         'apply_settings',
                                         'refund_eligibility', 'view_custom_evidence')) AS buttons
FROM pg_catalog.pg_roles r, pg_catalog.pg_proc p
WHERE r.rolname IN ('regress_co_platform', 'regress_co_merchant', 'regress_co_buyer', 'regress_co_nobody')
  AND p.pronamespace = 'customorder'::regnamespace
GROUP BY r.rolname ORDER BY r.rolname;

-- ids printed below do not depend on the files before this one
SELECT setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 40000) IS NOT NULL AS ids_moved;

-- The platform sets up the catalogue with plain DML
SET customorder.clock = '2026-05-01 10:00:00+00';
SELECT as_actor('regress_co_platform', NULL, NULL, $$
    WITH c AS (INSERT INTO customorder.categories (name, custom_enabled) VALUES ('rt-furniture', true) RETURNING 1),
         r AS (INSERT INTO customorder.categories (name, custom_enabled, evidence_review) VALUES ('rt-tailoring', true, true) RETURNING 1),
         s AS (INSERT INTO customorder.shops (name, service_score) VALUES ('rt-high', 4.90), ('rt-low', 4.10) RETURNING 1)
    SELECT 'ok' $$) AS platform_setup;
SELECT shop('rt-high') AS shop_a, shop('rt-low') AS shop_b \gset
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT customorder.approve_custom_category(%s, %s)', :shop_a, cat('rt-furniture'))) AS merchant_approves;
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT customorder.approve_custom_category(%s, %s)', :shop_a, cat('rt-furniture'))) AS platform_approves;
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT customorder.approve_custom_category(%s, %s)', :shop_b, cat('rt-tailoring'))) AS platform_approves;
SELECT as_actor('regress_co_merchant', :shop_a, NULL, format($$
    INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
    VALUES (%s, %s, 'rt-sofa', 900, true, '7 days') $$, :shop_a, cat('rt-furniture'))) AS merchant_writes_products;
SELECT as_actor('regress_co_platform', NULL, NULL, format($$
    INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
    VALUES (%s, %s, 'rt-sofa', 900, true, '7 days'), (%s, %s, 'rt-suit', 300, true, '15 days') $$,
    :shop_a, cat('rt-furniture'), :shop_b, cat('rt-tailoring'))) AS platform_writes_products;

-- place_order: the platform's (H3); a buyer records no payment, not even
-- for themself
SELECT as_actor('regress_co_buyer', NULL, 502,
    format('SELECT customorder.place_order(%s, 501, 900)', prod('rt-sofa'))) AS buyer_for_another;
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('SELECT customorder.place_order(%s, 501, 900)', prod('rt-sofa'))) AS buyer_for_themself;
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT customorder.place_order(%s, 501, 900)', prod('rt-sofa'))) AS merchant_places;
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT customorder.place_order(%s, 501, 900)', prod('rt-sofa')))::bigint AS o1 \gset
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT customorder.place_order(%s, 501, 900)', prod('rt-sofa')))::bigint AS o3 \gset
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT customorder.place_order(%s, 502, 300)', prod('rt-suit')))::bigint AS o2 \gset
SET customorder.clock = '2026-05-01 12:00:00+00';

-- For each button: the wrong shop or buyer, an actor of the wrong kind, a
-- role that is no actor, a session without its identity, then the right one.
CREATE TEMP TABLE attempts (step serial, button text, actor text, result text);
GRANT ALL ON attempts, attempts_step_seq TO PUBLIC;
CREATE FUNCTION pg_temp.press(button text, sql text, right_role text, right_shop bigint,
                              right_buyer bigint, wrong_shop bigint, wrong_buyer bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    wrong_kind text := CASE right_role WHEN 'regress_co_merchant' THEN 'regress_co_buyer'
                                       ELSE 'regress_co_merchant' END;
BEGIN
    IF right_role <> 'regress_co_platform' THEN
        INSERT INTO attempts (button, actor, result) VALUES (button, 'wrong shop/buyer',
            as_actor(right_role, wrong_shop, wrong_buyer, sql));
        INSERT INTO attempts (button, actor, result) VALUES (button, 'no identity set',
            as_actor(right_role, NULL, NULL, sql));
    END IF;
    INSERT INTO attempts (button, actor, result) VALUES (button, 'wrong kind',
        as_actor(wrong_kind, right_shop, right_buyer, sql));
    INSERT INTO attempts (button, actor, result) VALUES (button, 'no actor',
        as_actor('regress_co_nobody', right_shop, right_buyer, sql));
    INSERT INTO attempts (button, actor, result) VALUES (button, 'right actor',
        as_actor(right_role, right_shop, right_buyer, sql));
END $$;

-- the merchant of shop a, the buyer 501, on custom order o1 (high score)
SELECT pg_temp.press('start_customization', format('SELECT customorder.start_customization(%s)', :o1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('start_customization', format('SELECT customorder.start_customization(%s)', :o3),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('order_buttons', format('SELECT string_agg(button, '','') FROM customorder.order_buttons(%s)', :o1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('ship', format('SELECT customorder.ship(%s, ''SF-1'')', :o1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('mark_signed', format('SELECT customorder.mark_signed(%s)', :o1),
                     'regress_co_platform', NULL, NULL, NULL, NULL);
SELECT pg_temp.press('request_refund', format('SELECT customorder.request_refund(%s, ''refund_only'', ''quality'')', :o1),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT aftersale_id AS c1 FROM customorder.aftersales WHERE order_id = :o1 \gset
SELECT pg_temp.press('refund_eligibility', format('SELECT why FROM customorder.refund_eligibility(%s)', :o1),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT pg_temp.press('insist_reject', format('SELECT customorder.insist_reject(%s)', :c1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('communicate', format('SELECT left(customorder.communicate(%s, ''negotiate_amount''), 6)', :c1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('propose_refund_amount', format('SELECT customorder.propose_refund_amount(%s, 100)', :c1),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT pg_temp.press('decline_refund_amount', format('SELECT customorder.decline_refund_amount(%s)', :c1),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT left(customorder.communicate(%s, ''negotiate_amount''), 6) || customorder.propose_refund_amount(%s, 150)', :c1, :c1)) AS negotiate_again;
SELECT pg_temp.press('accept_refund_amount', format('SELECT customorder.accept_refund_amount(%s, 150)', :c1),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('SELECT customorder.request_refund(%s, ''refund_only'', ''no_reason'')', :o1))::bigint AS c2 \gset
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT customorder.insist_reject(%s) || left(customorder.communicate(%s, ''invite_evidence''), 0)', :c2, :c2)) AS invite;
SELECT pg_temp.press('supplement_evidence', format('SELECT customorder.supplement_evidence(%s, %L)', :c2, items(1, 0, 'rt-buyer')),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT pg_temp.press('continue_reject', format('SELECT customorder.continue_reject(%s, ''signed_no_reason'', %L)', :c2, items(1, 0, 'rt-logistics')),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('SELECT customorder.request_refund(%s, ''return_refund'', ''quality'')', :o1))::bigint AS c3 \gset
SELECT pg_temp.press('withdraw_refund', format('SELECT customorder.withdraw_refund(%s)', :c3),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('SELECT customorder.request_refund(%s, ''return_refund'', ''quality'')', :o1))::bigint AS c4 \gset
SELECT pg_temp.press('agree_refund', format('SELECT customorder.agree_refund(%s)', :c4),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
-- R2, R3: the buyer ships the goods back, the merchant confirms receipt
SELECT pg_temp.press('ship_return', format('SELECT customorder.ship_return(%s, ''RT-RET-1'')', :c4),
                     'regress_co_buyer', NULL, 501, NULL, 502);
SELECT pg_temp.press('confirm_return', format('SELECT customorder.confirm_return(%s)', :c4),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
-- scenario 1 on o3: insist ship
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('SELECT customorder.request_refund(%s, ''refund_only'', ''no_reason'')', :o3))::bigint AS c5 \gset
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT customorder.insist_reject(%s) || left(customorder.communicate(%s, NULL), 0)', :c5, :c5)) AS communicated;
SELECT pg_temp.press('insist_ship', format('SELECT customorder.insist_ship(%s, ''SF-3'')', :c5),
                     'regress_co_merchant', :shop_a, NULL, :shop_b, NULL);
-- the low-score shop b, the buyer 502, on o2 in a category with review
SELECT pg_temp.press('start_customization', format('SELECT customorder.start_customization(%s)', :o2),
                     'regress_co_merchant', :shop_b, NULL, :shop_a, NULL);
SELECT pg_temp.press('submit_custom_evidence', format('SELECT customorder.submit_custom_evidence(%s, %L)', :o2, items(2, 1, 'rt-prod')),
                     'regress_co_merchant', :shop_b, NULL, :shop_a, NULL);
SELECT pg_temp.press('review_evidence', format('SELECT customorder.review_evidence(%s, true, ''ok'')', :o2),
                     'regress_co_platform', NULL, NULL, NULL, NULL);
SELECT pg_temp.press('view_custom_evidence', format('SELECT count(*) FROM customorder.view_custom_evidence(%s)', :o2),
                     'regress_co_merchant', :shop_b, NULL, :shop_a, NULL);
SELECT pg_temp.press('view_custom_evidence', format('SELECT count(*) FROM customorder.view_custom_evidence(%s)', :o2),
                     'regress_co_buyer', NULL, 502, NULL, 501);
SELECT pg_temp.press('verify', 'SELECT count(*) FROM customorder.verify()',
                     'regress_co_platform', NULL, NULL, NULL, NULL);
SELECT step, button, actor, result FROM attempts ORDER BY step;

-- Every refusal above of a role that may execute the button is 42501 and
-- names the rule; a role that may not execute it is stopped by PostgreSQL
SELECT count(*) FILTER (WHERE actor <> 'right actor' AND result NOT LIKE '42501:%') AS not_refused,
       count(*) FILTER (WHERE actor = 'right actor' AND result LIKE '42501:%') AS wrongly_refused
FROM attempts;

-- A role that is two kinds acts as either, per its settings
SELECT as_actor('regress_co_both', NULL, 501,
    format('SELECT state FROM customorder.refund_eligibility(%s) e, customorder.orders o WHERE o.order_id = %s', :o1, :o1)) AS both_as_buyer;

-- Row-level security: who sees which rows
CREATE FUNCTION pg_temp.sees(r text, shop bigint, buyer bigint) RETURNS text LANGUAGE sql AS $$
    SELECT as_actor(r, shop, buyer, $q$
        WITH rt AS (SELECT o.order_id, o.buyer_id, p.title
                    FROM customorder.orders o JOIN customorder.products p USING (product_id)
                    WHERE p.title LIKE 'rt-%')
        SELECT format('orders %s, bundles %s, items %s, cases %s, messages %s, products %s, shops %s, approvals %s',
            (SELECT string_agg(title || '/' || buyer_id, ' ' ORDER BY order_id) FROM rt),
            (SELECT count(*) FROM customorder.evidence_bundles WHERE order_id IN (SELECT order_id FROM rt)),
            (SELECT count(*) FROM customorder.evidence_items WHERE order_id IN (SELECT order_id FROM rt)),
            (SELECT count(*) FROM customorder.aftersales WHERE order_id IN (SELECT order_id FROM rt)),
            (SELECT count(*) FROM customorder.communications WHERE order_id IN (SELECT order_id FROM rt)),
            (SELECT count(*) FROM customorder.products WHERE title LIKE 'rt-%'),
            (SELECT count(*) FROM customorder.shops WHERE name LIKE 'rt-%'),
            (SELECT count(*) FROM customorder.custom_approvals a JOIN customorder.shops s USING (shop_id) WHERE s.name LIKE 'rt-%')) $q$)
$$;
SELECT 'platform' AS who, pg_temp.sees('regress_co_platform', NULL, NULL) AS sees
UNION ALL SELECT 'merchant a', pg_temp.sees('regress_co_merchant', :shop_a, NULL)
UNION ALL SELECT 'merchant b', pg_temp.sees('regress_co_merchant', :shop_b, NULL)
UNION ALL SELECT 'merchant, no shop', pg_temp.sees('regress_co_merchant', NULL, NULL)
UNION ALL SELECT 'buyer 501', pg_temp.sees('regress_co_buyer', NULL, 501)
UNION ALL SELECT 'buyer 502', pg_temp.sees('regress_co_buyer', NULL, 502)
UNION ALL SELECT 'buyer, no id', pg_temp.sees('regress_co_buyer', NULL, NULL)
UNION ALL SELECT 'merchant a as buyer 501', pg_temp.sees('regress_co_merchant', :shop_a, 501);

-- The policies hold no subquery (Citus refuses one on a distributed table):
-- their functions run per row and keep their answer for the statement
SELECT tablename, policyname, qual FROM pg_catalog.pg_policies
WHERE schemaname = 'customorder' ORDER BY 1, 2;
SELECT count(*) AS policies_with_subqueries FROM pg_catalog.pg_policies
WHERE schemaname = 'customorder' AND (qual ~* 'select' OR with_check ~* 'select');
-- ... computed again when the statement's actor changes: a grant earlier in
-- the same statement (the command counter), another role (SET ROLE), a
-- revoke rolled back with its subtransaction
CREATE FUNCTION pg_temp.rt_count(r text, shop bigint, buyer bigint) RETURNS text LANGUAGE sql AS $$
    SELECT as_actor(r, shop, buyer,
        'SELECT count(*) || '' orders, '' || (SELECT count(*) FROM customorder.aftersales a
             WHERE a.order_id = ANY (string_to_array(current_setting(''rt.orders''), '','')::bigint[]))
         || '' cases'' FROM customorder.orders o
         WHERE o.order_id = ANY (string_to_array(current_setting(''rt.orders''), '','')::bigint[])')
$$;
SELECT set_config('rt.orders', concat_ws(',', :o1, :o2, :o3), false) IS NOT NULL AS orders_named;
BEGIN;
SELECT pg_temp.rt_count('regress_co_merchant', :shop_a, 502) AS merchant_a,
       customorder.grant_buyer('regress_co_merchant') IS NULL AS granted_buyer,
       pg_temp.rt_count('regress_co_merchant', :shop_a, 502) AS merchant_a_and_buyer_502,
       pg_temp.rt_count('regress_co_buyer', :shop_a, 502) AS buyer_502;
CREATE FUNCTION pg_temp.revoke_then_fail(shop bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text;
BEGIN
    BEGIN
        PERFORM customorder.revoke_actor('regress_co_merchant', 'buyer');
        seen := pg_temp.rt_count('regress_co_merchant', shop, 502);
        RAISE EXCEPTION 'undone';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN seen || ' until rolled back, then ' || pg_temp.rt_count('regress_co_merchant', shop, 502);
END $$;
SELECT pg_temp.revoke_then_fail(:shop_a) AS revoked_in_subtransaction;
ROLLBACK;
SELECT pg_temp.rt_count('regress_co_merchant', :shop_a, 502) AS merchant_a_after_rollback;

-- payments and case_orders, read by key where the buttons look them up, are
-- the platform's to read (merchants and buyers see their data elsewhere)
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('SELECT count(*) FROM customorder.case_orders WHERE order_id = %s', :o1)) AS platform_case_orders,
       as_actor('regress_co_merchant', :shop_a, NULL, 'SELECT count(*) FROM customorder.case_orders') AS merchant_case_orders,
       as_actor('regress_co_buyer', NULL, 501, 'SELECT count(*) FROM customorder.payments') AS buyer_payments;

-- Merchants and buyers write nothing directly
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('UPDATE customorder.orders SET state = ''shipped'' WHERE order_id = %s', :o3)) AS merchant_update;
SELECT as_actor('regress_co_buyer', NULL, 501,
    format('INSERT INTO customorder.aftersales (order_id, kind, reason) VALUES (%s, ''refund_only'', ''quality'')', :o3)) AS buyer_insert;
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('INSERT INTO customorder.evidence_items (order_id, bundle_id, type, mime, bytes, uri) VALUES (%s, 1, ''image'', ''image/png'', 1, ''x'')', :o3)) AS merchant_item;
SELECT as_actor('regress_co_platform', NULL, NULL,
    format('UPDATE customorder.orders SET state = ''signed'' WHERE order_id = %s', :o3)) AS platform_update;

-- A planted function and operator early on the caller's search_path do
-- not reach the buttons: they run with search_path = pg_catalog, pg_temp
-- and name everything with its schema.
CREATE SCHEMA regress_co_evil;
GRANT USAGE, CREATE ON SCHEMA regress_co_evil TO regress_co_merchant;
SET ROLE regress_co_merchant;
CREATE FUNCTION regress_co_evil.always(bigint, bigint) RETURNS boolean
    LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_co_evil.= (LEFTARG = bigint, RIGHTARG = bigint,
    FUNCTION = regress_co_evil.always);
CREATE FUNCTION regress_co_evil.now() RETURNS timestamptz
    LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
CREATE FUNCTION regress_co_evil.coalesce_(anyelement) RETURNS anyelement
    LANGUAGE sql AS 'SELECT $1';
SET search_path = regress_co_evil, pg_catalog, public;
SELECT 1::bigint = 2::bigint AS planted_operator_works;
RESET ROLE;
SELECT pg_temp.rt_count('regress_co_merchant', :shop_b, NULL) AS merchant_b_sees \gset
SET search_path = regress_co_evil, pg_catalog, public;
SELECT as_actor('regress_co_merchant', :shop_a, NULL,
    format('SELECT customorder.start_customization(%s)', :o2)) AS other_shops_order;
-- ... nor row security's functions, which run under it
SELECT pg_temp.rt_count('regress_co_merchant', :shop_b, NULL) AS merchant_b_sees_still,
       pg_temp.rt_count('regress_co_merchant', :shop_b, NULL) = :'merchant_b_sees' AS same_rows;
SELECT as_actor('regress_co_buyer', NULL, 502,
    format('SELECT customorder.request_refund(%s, ''refund_only'', ''quality'')', :o2)) AS right_buyer;
SELECT as_actor('regress_co_merchant', :shop_b, NULL,
    format('SELECT customorder.ship(%s, ''SF-2'')', :o2)) AS ship_with_open_case;
-- the triggers judge raw DML under the writer's search_path: still every
-- name is qualified (shop b is not approved for rt-furniture, L1)
GRANT USAGE ON SCHEMA regress_co_evil TO regress_co_platform;
SELECT as_actor('regress_co_platform', NULL, NULL, format($$
    INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
    VALUES (%s, %s, 'rt-bed', 900, true, '7 days') $$, :shop_b, cat('rt-furniture'))) AS unapproved_label;
RESET search_path;
SET search_path = customorder, public;

-- The clock stays the superuser's
SELECT as_actor('regress_co_platform', NULL, NULL, 'SELECT set_config(''customorder.clock'', ''2030-01-01'', false)') AS platform_moves_clock;
SELECT as_actor('regress_co_merchant', :shop_a, NULL, 'SET customorder.clock = ''2030-01-01''') AS merchant_moves_clock;
SELECT as_actor('regress_co_buyer', NULL, 501, 'SELECT customorder.now()::text') AS buyer_reads_clock;
SELECT as_actor('regress_co_merchant', NULL, NULL, 'SET customorder.shop_id = ''-3''') AS bad_shop_id;

-- ... also when an ordinary role sets it in a new session before the
-- library is loaded: the placeholder is dropped with a warning when the
-- library loads, and the clock keeps the wall clock
\c -
SET ROLE regress_co_buyer;
SET customorder.clock = '2000-01-01 00:00:00+00';
SELECT customorder.now() BETWEEN pg_catalog.now() AND pg_catalog.clock_timestamp() AS clock_not_planted;
SHOW customorder.clock;
RESET ROLE;

SELECT count(*) AS violations FROM customorder.verify();

-- clean up the cluster-wide roles
DROP SCHEMA regress_co_evil CASCADE;
DROP OWNED BY regress_co_platform, regress_co_merchant, regress_co_buyer,
    regress_co_nobody, regress_co_both;
DROP ROLE regress_co_platform, regress_co_merchant, regress_co_buyer,
    regress_co_nobody, regress_co_both;
