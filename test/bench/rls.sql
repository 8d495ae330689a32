-- test/bench/rls.sql: what row-level security costs a reader.  As a
-- superuser, in a scratch database where customorder is installed (it
-- creates roles regress_rls_*, and drops them at the end):
--   createdb rls && psql -X -d rls -c 'CREATE EXTENSION customorder' \
--     && psql -X -d rls -f test/bench/rls.sql
-- Two shops with ROWS orders each (psql variable rows, default 10000), one
-- case per order, 50 buyers per shop, written with the triggers off (the
-- rules are not what is measured).  Then, as a merchant of shop 1, a buyer
-- and the platform, each query's best and median time of 5 runs, in ms,
-- and the rows it returned.  Prints figures, asserts nothing.

\set ON_ERROR_STOP 1
\if :{?rows}
\else
\set rows 10000
\endif
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_rls_merchant, regress_rls_buyer, regress_rls_platform;
RESET client_min_messages;
CREATE ROLE regress_rls_merchant;
CREATE ROLE regress_rls_buyer;
CREATE ROLE regress_rls_platform;
SELECT customorder.grant_merchant('regress_rls_merchant'),
       customorder.grant_buyer('regress_rls_buyer'),
       customorder.grant_platform('regress_rls_platform');

BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO customorder.categories (category_id, name) VALUES (1, 'rls');
INSERT INTO customorder.shops (shop_id, name, service_score) VALUES (1, 'rls 1', 4.9), (2, 'rls 2', 4.9);
INSERT INTO customorder.products (product_id, shop_id, category_id, title, price)
VALUES (1, 1, 1, 'rls 1', 10), (2, 2, 1, 'rls 2', 10);
INSERT INTO customorder.orders (order_id, shop_id, product_id, buyer_id, amount, paid_at,
                                category_id, start_lock, high_score_threshold,
                                evidence_review, state, shipped_at, tracking_no)
SELECT g, s, s, (s - 1) * 50 + g % 50 + 1, 10, '2026-01-01', 1, '1 hour', 4.8, false,
       'shipped', '2026-01-02', 'T' || g
FROM pg_catalog.generate_series(1, 2 * :rows) g,
     LATERAL (SELECT CASE WHEN g <= :rows THEN 1 ELSE 2 END AS s) s;
INSERT INTO customorder.aftersales (order_id, kind, reason, state, requested_at, closed_at)
SELECT g, 'refund_only', 'quality', 'withdrawn', '2026-01-03', '2026-01-03'
FROM pg_catalog.generate_series(1, 2 * :rows) g;
COMMIT;
VACUUM ANALYZE customorder.orders, customorder.aftersales;

-- one run of q (one value out) as role r acting for shop / buyer, in ms.
-- Each run is a top-level statement of its own (\gexec below): the
-- policies' functions keep their answer for a statement, so runs inside
-- one statement would measure the warm cache.
CREATE TABLE pg_temp.timings (who text, what text, ms numeric, v text);
CREATE FUNCTION pg_temp.once(who text, what text, r text, shop bigint, buyer bigint, q text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    ms numeric;
    v text;
BEGIN
    PERFORM pg_catalog.set_config('customorder.shop_id', coalesce(shop::text, ''), true);
    PERFORM pg_catalog.set_config('customorder.buyer_id', coalesce(buyer::text, ''), true);
    PERFORM pg_catalog.set_config('role', r, true);
    t0 := pg_catalog.clock_timestamp();
    EXECUTE q INTO v;
    ms := extract(epoch FROM pg_catalog.clock_timestamp() - t0) * 1000;
    PERFORM pg_catalog.set_config('role', 'none', true);
    INSERT INTO pg_temp.timings VALUES (who, what, ms, v);
END $$;

SELECT pg_catalog.format('SELECT pg_temp.once(%L, %L, %L, %s, %s, %L)', who, what, r,
                         coalesce(shop::text, 'NULL'), coalesce(buyer::text, 'NULL'), q)
FROM (VALUES
    (1, 'merchant of shop 1', 'aftersales', 'regress_rls_merchant', 1, NULL::bigint,
     'SELECT count(*) FROM customorder.aftersales a WHERE a.state IS NOT NULL'),
    (2, 'merchant of shop 1', 'orders', 'regress_rls_merchant', 1, NULL,
     'SELECT count(*) FROM customorder.orders o WHERE o.state IS NOT NULL'),
    (3, 'buyer 7', 'aftersales', 'regress_rls_buyer', NULL, 7,
     'SELECT count(*) FROM customorder.aftersales a WHERE a.state IS NOT NULL'),
    (4, 'buyer 7', 'orders', 'regress_rls_buyer', NULL, 7,
     'SELECT count(*) FROM customorder.orders o WHERE o.state IS NOT NULL'),
    (5, 'platform', 'aftersales', 'regress_rls_platform', NULL, NULL,
     'SELECT count(*) FROM customorder.aftersales a WHERE a.state IS NOT NULL'),
    (6, 'platform', 'orders', 'regress_rls_platform', NULL, NULL,
     'SELECT count(*) FROM customorder.orders o WHERE o.state IS NOT NULL'),
    (7, 'superuser (no RLS)', 'aftersales', 'none', NULL, NULL,
     'SELECT count(*) FROM customorder.aftersales a WHERE a.state IS NOT NULL')
) v(n, who, what, r, shop, buyer, q), pg_catalog.generate_series(1, 5) run
ORDER BY run, n \gexec

\pset footer off
SELECT who, what, pg_catalog.round(pg_catalog.min(ms), 2) AS "best of 5, ms",
       pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS "median, ms",
       pg_catalog.min(v) AS "rows seen"
FROM pg_temp.timings GROUP BY who, what ORDER BY pg_catalog.min(ctid);

-- the merchant's plan, for the record
BEGIN;
SET LOCAL customorder.shop_id = 1;
SET LOCAL ROLE regress_rls_merchant;
EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON)
SELECT count(*) FROM customorder.aftersales a WHERE a.state IS NOT NULL;
ROLLBACK;

DROP OWNED BY regress_rls_merchant, regress_rls_buyer, regress_rls_platform;
DROP ROLE regress_rls_merchant, regress_rls_buyer, regress_rls_platform;
