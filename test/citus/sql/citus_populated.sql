--
-- citus_populated: distribute() on a database that already holds a
-- marketplace's rows (test/citus/run creates customorder in a fresh
-- database on the cluster, without distributing it, and runs this file
-- against the coordinator as a superuser).  Citus copies each table's rows
-- into its new shards on the workers, where the rule triggers must not
-- judge them as new rows; afterwards every row is there, verify() is
-- empty and the buttons go on.
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

-- not distributed yet: every table is the coordinator's own
SELECT count(*) AS citus_tables FROM pg_dist_partition p
  JOIN pg_class c ON c.oid = p.logicalrelid
 WHERE c.relnamespace = 'customorder'::regnamespace;

-- the marketplace before: orders in every state, cases, refunds, events
-- and their deliveries, a payment, a bound merchant
INSERT INTO categories (name, custom_enabled, start_lock) VALUES ('desks', true, '1 hour');
INSERT INTO shops (name, service_score) VALUES ('north', 4.90);
SELECT approve_custom_category(1, 1);
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (1, 1, 'desk', 2000.00, true, '7 days'), (1, 1, 'chair', 300.00, false, NULL);
SELECT register_consumer('app');
CREATE ROLE regress_pop_merchant LOGIN;
SELECT grant_merchant('regress_pop_merchant', ARRAY[1]::bigint[]);
SET customorder.clock = '2026-03-01 10:00+00';
SELECT count(place_order(1, 7, 2000.00)) AS custom_orders FROM generate_series(1, 20);
SELECT count(place_order(2, 8, 300.00, 'PAY-' || g)) AS paid_by_pay_no FROM generate_series(1, 10) g;
SET customorder.clock = '2026-03-01 12:00+00';
SELECT count(start_customization(o)) AS started FROM generate_series(1, 20) o;
SET customorder.clock = '2026-03-02 12:00+00';
SELECT count(ship(o, 'SF' || o)) AS shipped FROM generate_series(1, 15) o;
SELECT count(mark_signed(o)) AS signed FROM generate_series(1, 10) o;
SELECT count(request_refund(o, 'refund_only', 'quality')) AS requested FROM generate_series(1, 5) o;
SELECT count(agree_refund(a)) AS agreed FROM generate_series(1, 3) a;
SELECT count(request_refund(o, 'refund_only', 'no_reason')) AS instant FROM generate_series(21, 25) o;
-- each table's rows: how many, and a sum of hashes of their text (a view
-- of this database: citus_grow reads it too)
CREATE VIEW public.fingerprint AS
SELECT 'orders' AS t, count(*) AS n, sum(hashtext(o::text)) AS h FROM orders o
UNION ALL SELECT 'aftersales', count(*), sum(hashtext(a::text)) FROM aftersales a
UNION ALL SELECT 'refunds', count(*), sum(hashtext(r::text)) FROM refunds r
UNION ALL SELECT 'events', count(*), sum(hashtext(e::text)) FROM events e
UNION ALL SELECT 'deliveries', count(*), sum(hashtext(d::text)) FROM deliveries d
UNION ALL SELECT 'payments', count(*), sum(hashtext(p::text)) FROM payments p
UNION ALL SELECT 'case_orders', count(*), sum(hashtext(c::text)) FROM case_orders c;
CREATE TEMP TABLE before AS SELECT * FROM fingerprint;
SELECT t, n FROM before ORDER BY t;
SELECT * FROM verify();
RESET customorder.clock;

SELECT customorder.distribute(8);
SELECT count(*) AS citus_tables FROM pg_dist_partition p
  JOIN pg_class c ON c.oid = p.logicalrelid
 WHERE c.relnamespace = 'customorder'::regnamespace;

-- every row kept, unchanged (the temporary table stays on the coordinator;
-- the comparison reads each distributed table into it first)
CREATE TEMP TABLE after AS SELECT * FROM fingerprint;
SELECT b.t, b.n, a.n = b.n AS same_count, a.h = b.h AS same_rows
  FROM before b JOIN after a USING (t) ORDER BY b.t;
SELECT * FROM verify();

-- the rules judge on the shards again: a raw change is refused ...
DO $$
BEGIN
    UPDATE customorder.orders SET state = 'paid' WHERE order_id = 11;
    RAISE NOTICE 'not refused';
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'raw UPDATE refused: %', SQLSTATE;
END $$;
-- ... and the buttons go on, the merchant bound before still reads its shop
SET customorder.clock = '2026-03-03 12:00+00';
SELECT ship(16, 'SF16'), mark_signed(11), agree_refund(4);
SELECT place_order(1, 9, 2000.00) AS new_order;
SELECT place_order(2, 8, 300.00, 'PAY-3') AS same_payment_same_order;
SELECT * FROM verify();
SET ROLE regress_pop_merchant;
SET customorder.shop_id = 1;
SELECT count(*) AS merchant_sees FROM customorder.orders;
RESET ROLE;
RESET customorder.shop_id;
SELECT revoke_actor('regress_pop_merchant', 'merchant');
DROP OWNED BY regress_pop_merchant;
DROP ROLE regress_pop_merchant;
