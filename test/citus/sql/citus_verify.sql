--
-- citus_verify: verify(), verify(order_id) and run_due() on a real cluster
-- (SPEC §10 V5, §7 T3, §12 C2, C3).  verify(order_id) runs each check on
-- the order's shard only, and run_due() applies each expiry there; their
-- whole-database scans (verify(), run_due's search for due work) run on
-- every shard.  Orders appear by name, other ids and times as # and T, so
-- the output does not depend on the clock or on the files run before.
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

SELECT distribute(8) LIKE 'customorder is distributed by order_id%' AS distributed;

-- Fixtures.  Times are relative to the start of this file (t0): the clock
-- moves forward from there.
SELECT clock_timestamp() AS t0 \gset
SELECT :'t0'::timestamptz + interval '2 hours' AS t_2h,
       :'t0'::timestamptz + interval '1 day' AS t_1d,
       :'t0'::timestamptz + interval '3 days' AS t_3d,
       :'t0'::timestamptz + interval '8 days' AS t_8d \gset
INSERT INTO categories (name, custom_enabled, start_lock) VALUES ('vf-desks', true, '1 hour');
INSERT INTO shops (name, service_score) VALUES ('vf-north', 4.90), ('vf-south', 4.10);
SELECT category_id AS cat FROM categories WHERE name = 'vf-desks' \gset
SELECT shop_id AS north FROM shops WHERE name = 'vf-north' \gset
SELECT shop_id AS south FROM shops WHERE name = 'vf-south' \gset
SELECT approve_custom_category(:north, :cat), approve_custom_category(:south, :cat);
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (:north, :cat, 'vf-desk', 2000.00, true, '7 days'),
       (:north, :cat, 'vf-lamp', 300.00, false, '2 days'),
       (:south, :cat, 'vf-chair', 800.00, true, '7 days');
SELECT product_id AS desk FROM products WHERE title = 'vf-desk' \gset
SELECT product_id AS lamp FROM products WHERE title = 'vf-lamp' \gset
SELECT product_id AS chair FROM products WHERE title = 'vf-chair' \gset

-- From here on a query that fans out to every shard is an error, unless
-- the level is lowered to show it
SET citus.multi_task_query_log_level = error;

-- Orders through the buttons: two custom desks shipped, signed and with a
-- refund request each (the merchant's 48 hours run), a lamp left unshipped
-- (its ship_by, 2 days, passes), a desk in production (7 days), and a chair
-- of the low-score shop in production on its evidence bundle
SET customorder.clock = :'t0';
SELECT place_order(:desk, 7101, 2000.00) AS o1 \gset
SELECT place_order(:desk, 7102, 2000.00) AS o2 \gset
SELECT place_order(:lamp, 7103, 300.00) AS o3 \gset
SELECT place_order(:desk, 7104, 2000.00) AS o4 \gset
SELECT place_order(:chair, 7105, 800.00) AS o5 \gset
CREATE TEMP TABLE vf_orders (name text, order_id bigint);
INSERT INTO vf_orders VALUES ('o1', :o1), ('o2', :o2), ('o3', :o3), ('o4', :o4), ('o5', :o5);
SET customorder.clock = :'t_2h';
SELECT start_customization(:o1);
SELECT start_customization(:o2);
SELECT start_customization(:o4);
SELECT start_customization(:o5);
SELECT submit_custom_evidence(:o5,
    '[{"type": "image", "mime": "image/jpeg", "bytes": 300001, "uri": "https://vf.example/o5/1.jpg"},
      {"type": "image", "mime": "image/jpeg", "bytes": 300002, "uri": "https://vf.example/o5/2.jpg"},
      {"type": "video", "mime": "video/mp4", "bytes": 8000001, "uri": "https://vf.example/o5/1.mp4"}]');
SELECT ship(:o1, 'VF1');
SELECT ship(:o2, 'VF2');
SET customorder.clock = :'t_1d';
SELECT mark_signed(:o1);
SELECT mark_signed(:o2);
SELECT request_refund(:o1, 'refund_only', 'quality') IS NOT NULL AS c1;
SELECT request_refund(:o2, 'refund_only', 'quality') IS NOT NULL AS c2;

-- V5 on Citus: verify(order_id) is a router query (the level is error)
SELECT * FROM verify(:o1);
SELECT * FROM verify(:o3);
SELECT * FROM verify(:o5);

-- verify() reads every shard: nothing wrong
RESET citus.multi_task_query_log_level;
SELECT * FROM verify();

-- verify() and verify(order_id) as the tests below read them (views of
-- this session only: not sent to the workers)
SET citus.enable_ddl_propagation = off;
CREATE TEMP VIEW vf_verify AS
SELECT v.invariant, n.name AS "order",
       regexp_replace(regexp_replace(v.detail, '(case|bundle|event|refund) [0-9A-Z-]+', '\1 #', 'g'),
                      '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.+]+', 'T', 'g') AS detail
FROM verify() v LEFT JOIN vf_orders n USING (order_id);
-- verify(order_id) of every order, against verify() (as the superuser)
CREATE TEMP VIEW vf_one_vs_all AS
SELECT 'only in verify(order_id)' AS side, d.* FROM
  (SELECT v.* FROM vf_orders n, verify(n.order_id) v
   EXCEPT ALL SELECT v.* FROM verify() v JOIN vf_orders n USING (order_id)) d
UNION ALL
SELECT 'only in verify()', d.* FROM
  (SELECT v.* FROM verify() v JOIN vf_orders n USING (order_id)
   EXCEPT ALL SELECT v.* FROM vf_orders n, verify(n.order_id) v) d;
RESET citus.enable_ddl_propagation;

-- Corruptions as the superuser, triggers off on the workers too (SET LOCAL
-- reaches them with citus.propagate_set_commands = local), rolled back.
-- Each shape of check: per-row violations, lateral aggregates (over a
-- case's communications and bundles, a bundle's items), an outer join, a
-- correlated NOT EXISTS, a window over the order's events.
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL session_replication_role = replica;
UPDATE orders SET signed_at = '2020-01-01 00:00+00' WHERE order_id = :o1;
UPDATE aftersales SET closed_at = '2020-01-01 00:00+00' WHERE order_id = :o1;
UPDATE aftersales SET state = 'rejected', closed_at = NULL WHERE order_id = :o2;
UPDATE orders SET state = 'in_production', shipped_at = NULL, tracking_no = NULL
 WHERE order_id = :o3;
UPDATE events SET at = '2020-01-01 00:00+00'
 WHERE order_id = :o4 AND event_id = (SELECT max(event_id) FROM events WHERE order_id = :o4);
UPDATE evidence_bundles SET image_count = 3 WHERE order_id = :o5;
UPDATE evidence_items SET mime = 'video/mp4' WHERE order_id = :o5 AND uri LIKE '%/2.jpg';
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
SELECT * FROM vf_one_vs_all;
-- one order's checks stay on its shard
SET LOCAL citus.multi_task_query_log_level = error;
SELECT invariant, regexp_replace(regexp_replace(detail, 'case [0-9]+', 'case #'),
                                 '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.+]+', 'T', 'g') AS detail
  FROM verify(:o1) ORDER BY 1, 2;
SELECT invariant, count(*) AS violations FROM verify(:o5) GROUP BY 1 ORDER BY 1;
ROLLBACK;
SELECT * FROM verify();

-- T3 on Citus: run_due finds due work on every shard (its two scans, shown
-- as warnings), then applies each expiry on its order's shard: the
-- merchant's 48 hours passed for both cases (the system agrees, refunding
-- them), and the lamp's ship_by (late_at is stamped).
SET customorder.clock = :'t_3d';
SELECT deadline, party, on_expiry, passed FROM deadlines(:o1);
SET citus.multi_task_query_log_level = warning;
SELECT run_due(1000);
RESET citus.multi_task_query_log_level;
SELECT CASE o.order_id WHEN :o1 THEN 'o1' WHEN :o2 THEN 'o2' WHEN :o3 THEN 'o3'
       WHEN :o4 THEN 'o4' WHEN :o5 THEN 'o5' END AS name,
       o.state, o.late_at IS NOT NULL AS late, a.state AS case_state, r.refunds
  FROM orders o
  LEFT JOIN aftersales a USING (order_id)
  LEFT JOIN (SELECT order_id, count(*) AS refunds FROM refunds GROUP BY 1) r USING (order_id)
 WHERE o.order_id IN (:o1, :o2, :o3, :o4, :o5)
 ORDER BY 1;
SELECT n.name, e.machine, e.action, e.from_state, e.to_state, e.actor
  FROM vf_orders n JOIN events e USING (order_id)
 WHERE e.actor = 'system' ORDER BY 1, e.event_id;
-- applied once: nothing is due any more
SELECT run_due(1000);

-- the refunds the system decided, corrupted and checked
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL session_replication_role = replica;
UPDATE refunds SET amount = 1500.00 WHERE order_id = :o1;
UPDATE refunds SET state = 'succeeded' WHERE order_id = :o2;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
SELECT * FROM vf_one_vs_all;
ROLLBACK;

-- Concurrent callers never apply one expiry twice.  At day 8 the ship_by
-- (7 days) of the desk and the chair in production has passed.  This
-- session applies both and keeps its transaction open; a second session
-- (dblink) finds the same candidates (the scan locks nothing on Citus),
-- tries to lock each one's order on its shard FOR UPDATE SKIP LOCKED and
-- skips both, without waiting for this one: it applies nothing, while
-- this transaction is still open (as the scans' SKIP LOCKED on one
-- server).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('vf_b', format('host=%s port=%s dbname=%s user=%s',
                                     split_part(current_setting('unix_socket_directories'), ',', 1),
                                     current_setting('port'), current_database(), current_user));
SET customorder.clock = :'t_8d';
BEGIN;
SELECT run_due(1000) AS applied_here;
SELECT dblink_exec('vf_b', format('SET customorder.clock = %L', :'t_8d'));
SELECT dblink_send_query('vf_b', 'SELECT customorder.run_due(1000)');
-- wait (up to 30 s) until the second session has answered
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN dblink_is_busy('vf_b') = 0;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT dblink_is_busy('vf_b') = 0 AS answered_before_this_commits,
       count(*) AS lock_waits
  FROM citus_lock_waits;
SELECT applied AS applied_there FROM dblink_get_result('vf_b') AS r(applied integer);
COMMIT;
SELECT dblink_disconnect('vf_b');
SELECT n.name, count(*) AS mark_late_events
  FROM vf_orders n JOIN events e USING (order_id)
 WHERE e.action = 'mark_late' GROUP BY 1 ORDER BY 1;

-- The lookup tables keyed by another id than the order's (case_orders by
-- aftersale_id, payments by pay_no) are not colocated with orders: verify()
-- reads the other side of each of their joins first.  A case without its
-- case_orders row, a case_orders row of no case, an order whose pay_no is
-- not in payments, a payment of no order.
SELECT place_order(:lamp, 7109, 300.00, 'VF-PAY-C') AS o_paid \gset
BEGIN;
DELETE FROM case_orders WHERE aftersale_id = (SELECT min(aftersale_id) FROM case_orders);
INSERT INTO case_orders (aftersale_id, order_id) VALUES (999999999, :o1);
DELETE FROM payments WHERE pay_no = 'VF-PAY-C';
INSERT INTO payments (pay_no, order_id) VALUES ('VF-PAY-9', 999999999);
SELECT invariant, regexp_replace(detail, '[0-9]+', '#', 'g') AS detail
  FROM verify() ORDER BY 1, 2;
ROLLBACK;

-- distribute() turned Citus's local fast-path optimization off in this
-- database: with it, Citus 13.2.2 crashes planning a statement on a table
-- with triggers whose WHERE clause names the distribution column and is
-- false.  Refused or changing nothing, never a crash.
SHOW citus.enable_local_fast_path_query_optimization;
SELECT nodeport > 0 AS worker, result
  FROM run_command_on_workers('SHOW citus.enable_local_fast_path_query_optimization')
 ORDER BY nodeport;
UPDATE orders SET tracking_no = NULL WHERE order_id = :o1 AND false;
DELETE FROM events WHERE order_id = :o1 AND false;
SELECT 1 AS still_connected;

SELECT * FROM verify();
RESET customorder.clock;
