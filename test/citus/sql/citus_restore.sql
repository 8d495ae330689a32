--
-- citus_restore: the logical restore of "Backup and restore, distributed".
-- test/citus/run dumps the rows of the populated and grown database of
-- citus_populated and citus_grow (pg_dump --data-only of the extension's
-- tables, through its coordinator), loads them into a fresh distributed
-- database in one transaction with session_replication_role = replica as a
-- SET LOCAL that Citus passes on, and puts the source's fingerprint (each
-- table's row count and a sum of hashes of its rows) in
-- public.source_fingerprint; then runs this file there.
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

-- every row there, unchanged
CREATE VIEW public.fingerprint AS
SELECT 'orders' AS t, count(*) AS n, sum(hashtext(o::text)) AS h FROM orders o
UNION ALL SELECT 'aftersales', count(*), sum(hashtext(a::text)) FROM aftersales a
UNION ALL SELECT 'refunds', count(*), sum(hashtext(r::text)) FROM refunds r
UNION ALL SELECT 'events', count(*), sum(hashtext(e::text)) FROM events e
UNION ALL SELECT 'deliveries', count(*), sum(hashtext(d::text)) FROM deliveries d
UNION ALL SELECT 'payments', count(*), sum(hashtext(p::text)) FROM payments p
UNION ALL SELECT 'case_orders', count(*), sum(hashtext(c::text)) FROM case_orders c;
SELECT s.t, s.n, f.n = s.n AS same_count, f.h = s.h AS same_rows
  FROM public.source_fingerprint s JOIN public.fingerprint f USING (t) ORDER BY s.t;
SELECT * FROM verify();

-- distribute() again writes actors and actor_functions by name on every
-- node; the restored data goes on: the rules judge on the shards, the
-- buttons press, a payment finds its order, new ids follow the restored
SELECT customorder.distribute(8);
UPDATE orders SET state = 'paid' WHERE order_id = 12;
SET customorder.clock = '2026-03-05 12:00+00';
-- an order whose shard citus_grow moved to its fourth node, gone here: its
-- next event still sorts after its earlier ones, whose ids that node drew
SELECT mark_signed(17) AS signed;
SELECT place_order(2, 8, 300.00, 'PAY-3') AS same_payment_same_order;
SELECT max(order_id) AS last_here FROM orders WHERE order_id < 281474976710656 \gset
SELECT place_order(1, 11, 2000.00) AS r_new \gset
SELECT :r_new = :last_here + 1 AS next_id_after_the_restored;
SET customorder.clock = '2026-03-05 14:00+00';
SELECT start_customization(:r_new), ship(:r_new, 'SF-R');
SELECT count(*) = count(DISTINCT order_id) AS ids_unique FROM orders;
SELECT * FROM verify();
