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
