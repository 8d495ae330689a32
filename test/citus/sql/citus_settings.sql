--
-- citus_settings: C5 for what is not a press.  customorder.clock,
-- customorder.shop_id and customorder.buyer_id, set on the coordinator
-- session (SET, SET LOCAL or set_config()), apply to the work the workers
-- do for it: raw SQL judged by the triggers on the shards, customorder.now()
-- evaluated there, reads under row-level security.  Runs after citus_C, in
-- its database (its shop 1 and custom product 1, start lock 1 hour).
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

-- raw SQL under a session-level clock: judged and stamped on the shard with
-- it (the start lock ends at 11:00; the worker's own clock is years later)
SET customorder.clock = '2027-01-01 10:00+00';
SELECT place_order(1, 7401, 2000.00) AS r1 \gset
SET customorder.clock = '2027-01-01 10:30+00';
SELECT err(format('UPDATE customorder.orders SET state = %L WHERE order_id = %s',
                  'in_production', :r1)) AS grey_start_refused;
SET customorder.clock = '2027-01-01 11:30+00';
UPDATE orders SET state = 'in_production' WHERE order_id = :r1;
SELECT state, paid_at, custom_started_at FROM orders WHERE order_id = :r1;
-- customorder.now() evaluated on the order's shard
SELECT customorder.now() AS on_the_shard FROM orders WHERE order_id = :r1;
-- SET LOCAL, without citus.propagate_set_commands
BEGIN;
SET LOCAL customorder.clock = '2027-01-02 09:00+00';
UPDATE orders SET state = 'shipped', tracking_no = 'SF-C5' WHERE order_id = :r1;
SELECT customorder.now() AS local_on_the_shard FROM orders WHERE order_id = :r1;
COMMIT;
SELECT state, shipped_at FROM orders WHERE order_id = :r1;
-- set_config(), and back to the wall clock: no clock on the workers either
SELECT set_config('customorder.clock', '2027-01-03 09:00+00', false) IS NOT NULL AS set;
SELECT customorder.now() AS set_config_on_the_shard FROM orders WHERE order_id = :r1;
RESET customorder.clock;
SELECT abs(extract(epoch FROM customorder.now() - clock_timestamp())) < 60
       AS wall_clock_on_the_shard
  FROM orders WHERE order_id = :r1;
SELECT * FROM verify(:r1);

-- reads under row-level security with the acting shop set per session, by
-- an unbound merchant role (no SET LOCAL, no citus.propagate_set_commands)
CREATE ROLE regress_co_c5_merchant LOGIN;
SELECT grant_merchant('regress_co_c5_merchant');
SET ROLE regress_co_c5_merchant;
SELECT count(*) AS without_a_shop FROM customorder.orders;
SET customorder.shop_id = 1;
SELECT count(*) > 0 AS shop_1_orders, count(*) FILTER (WHERE shop_id <> 1) AS others
  FROM customorder.orders;
SELECT count(*) AS the_one_order FROM customorder.orders WHERE order_id = :r1;
SET customorder.shop_id = 2;
SELECT count(*) FILTER (WHERE shop_id <> 2) AS shop_2_sees_others,
       count(*) FILTER (WHERE order_id = :r1) AS shop_2_sees_the_order
  FROM customorder.orders;
RESET customorder.shop_id;
RESET ROLE;
SELECT revoke_actor('regress_co_c5_merchant', 'merchant');
DROP OWNED BY regress_co_c5_merchant;
DROP ROLE regress_co_c5_merchant;

-- V3: a raw change's events are announced by NOTIFY customorder_events too,
-- from this node (the triggers append them on the workers, in transactions
-- Citus may commit in two phases): the workers leave notices, and this node
-- deletes them and notifies before it commits.  A second session listens.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('listener', format('host=%s port=%s dbname=%s user=%s',
                                         split_part(current_setting('unix_socket_directories'), ',', 1),
                                         current_setting('port'), current_database(), current_user));
SELECT dblink_exec('listener', 'LISTEN customorder_events');
-- heard(n): the payloads the listener has received, waiting (up to 5 s)
-- until there are n
CREATE FUNCTION public.heard(want integer) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    got bigint[] := '{}';
BEGIN
    FOR i IN 1..50 LOOP
        got := got || ARRAY(SELECT extra::bigint FROM dblink_get_notify('listener'));
        EXIT WHEN coalesce(array_length(got, 1), 0) >= want;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN QUERY SELECT DISTINCT unnest(got) ORDER BY 1;
END $$;
SET customorder.clock = '2027-02-01 10:00+00';
CREATE TEMP TABLE n_orders AS
SELECT place_order(1, 7401 + g, 2000.00) AS order_id FROM generate_series(1, 4) g;
SELECT count(*) AS a_press_notifies FROM heard(4) h JOIN n_orders o ON o.order_id = h;
-- two of them whose shards are on different workers
SELECT a.order_id AS ra, b.order_id AS rb
  FROM n_orders a, n_orders b,
       LATERAL (SELECT p.nodeport FROM pg_dist_shard_placement p
                 WHERE p.shardid = get_shard_id_for_distribution_column('customorder.orders', a.order_id)) wa,
       LATERAL (SELECT p.nodeport FROM pg_dist_shard_placement p
                 WHERE p.shardid = get_shard_id_for_distribution_column('customorder.orders', b.order_id)) wb
 WHERE wa.nodeport < wb.nodeport
 ORDER BY a.order_id, b.order_id LIMIT 1 \gset
-- a raw change of one order, outside a transaction block
SET customorder.clock = '2027-02-01 12:00+00';
UPDATE orders SET state = 'in_production' WHERE order_id = :ra;
SELECT h = :ra AS raw_change_notifies FROM heard(1) h;
UPDATE orders SET state = 'in_production' WHERE order_id = :rb;
SELECT h = :rb AS again FROM heard(1) h;
-- one raw statement over two orders on two workers (Citus commits it in
-- two phases)
UPDATE orders SET state = 'shipped', tracking_no = 'SF-N' WHERE order_id IN (:ra, :rb);
SELECT count(*) = 2 AND bool_and(h IN (:ra, :rb)) AS both_orders_notified
  FROM heard(2) h;
-- a raw change rolled back announces nothing; the notices are gone
BEGIN;
UPDATE orders SET state = 'signed' WHERE order_id = :ra;
ROLLBACK;
SELECT mark_signed(:rb);
SELECT h = :rb AS only_the_press FROM heard(1) h;
SELECT count(*) AS notices_left FROM customorder.notices;
SELECT dblink_disconnect('listener');
DROP FUNCTION public.heard(integer);
RESET customorder.clock;
SELECT * FROM verify();
