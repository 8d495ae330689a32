--
-- citus_grow: a node added to a running cluster.  test/citus/run runs this
-- file after citus_populated, in the same database, once it has started a
-- fourth server, created the database and Citus there and named its port
-- in public.spare_node.
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

-- public.fingerprint: each table's rows (citus_populated made it)
CREATE TEMP TABLE before AS SELECT * FROM fingerprint;

-- the node joins; distribute() again gives it its range of ids (C4: group
-- g from g * 2^48) and the actors' function grants
SELECT citus_add_node('localhost', port) > 0 AS added FROM public.spare_node;
SELECT customorder.distribute(8);
SELECT nodeport = s.port AS new_node, result AS lowest_id_of_its_sequences
  FROM run_command_on_workers($$SELECT min(min_value) FROM pg_sequences
                                 WHERE schemaname = 'customorder'
                                   AND sequencename NOT LIKE 'events%'$$) w,
       public.spare_node s
 ORDER BY nodeport;

-- Citus moves shards to it, their rows with them (the rule triggers do not
-- judge the copy); every row kept
SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes');
SELECT count(*) > 0 AS new_node_holds_order_shards
  FROM pg_dist_shard_placement p
  JOIN pg_dist_shard d USING (shardid)
  JOIN public.spare_node s ON p.nodeport = s.port
 WHERE d.logicalrelid = 'customorder.orders'::regclass;
CREATE TEMP TABLE after AS SELECT * FROM fingerprint;
SELECT b.t, b.n, a.n = b.n AS same_count, a.h = b.h AS same_rows
  FROM before b JOIN after a USING (t) ORDER BY b.t;
SELECT * FROM verify();

-- the buttons go on, on orders whose shards moved or not
SET customorder.clock = '2026-03-04 12:00+00';
SELECT count(ship(o, 'SF' || o)) AS shipped FROM generate_series(17, 20) o;
SELECT count(mark_signed(o)) AS signed FROM generate_series(12, 16) o;
SELECT * FROM verify();

-- a press from the new node: its own ids
SELECT port AS spare_port FROM public.spare_node \gset
\c - - - :spare_port
SET search_path = customorder, public;
SET client_min_messages = warning;
SET customorder.clock = '2026-03-04 13:00+00';
SELECT place_order(1, 10, 2000.00) / 281474976710656 AS id_range_of_group;
SELECT count(*) AS orders FROM orders;
SELECT * FROM verify();
