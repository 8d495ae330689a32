--
-- citus_C: SPEC §12 on a real cluster, a coordinator and two workers
-- (test/citus/run starts it, distributes customorder and runs this file
-- against the coordinator as a superuser).
--
\set VERBOSITY terse
SET search_path = customorder, public;
SET client_min_messages = warning;

CREATE FUNCTION public.err(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- C1: configuration tables are reference tables; every order-scoped table
-- is distributed by order_id in the colocation group of orders
SELECT p.logicalrelid::regclass AS table_name,
       CASE p.partmethod WHEN 'n' THEN 'reference' WHEN 'h' THEN 'hash' END AS kind,
       pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) AS by,
       p.colocationid = o.colocationid AS with_orders
  FROM pg_dist_partition p,
       (SELECT colocationid FROM pg_dist_partition
         WHERE logicalrelid = 'customorder.orders'::regclass) o
 WHERE p.logicalrelid IN (SELECT c.oid FROM pg_class c
                           WHERE c.relnamespace = 'customorder'::regnamespace)
 ORDER BY kind, with_orders DESC, p.logicalrelid::regclass::text;

-- calling it twice changes nothing
SELECT customorder.distribute(8);

-- Fixtures, written through the coordinator
INSERT INTO categories (name, custom_enabled, start_lock) VALUES ('desks', true, '1 hour');
INSERT INTO shops (name, service_score) VALUES ('north', 4.90);
SELECT approve_custom_category(1, 1);
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (1, 1, 'desk', 2000.00, true, '7 days'),
       (1, 1, 'chair', 300.00, false, NULL);

-- C3: from here on a query that fans out to every shard is an error, so
-- every press below is shown to be a router (single-shard) operation
SET citus.multi_task_query_log_level = error;

-- C5: the coordinator's clock and acting ids reach the workers' triggers
SET customorder.clock = '2026-03-01 10:00+00';
SELECT place_order(1, 7, 2000.00) AS o1 \gset
SET customorder.clock = '2026-03-01 12:00+00';
SET customorder.shop_id = 1;
SET customorder.buyer_id = 7;
SELECT start_customization(:o1);
SET customorder.clock = '2026-03-02 09:00+00';
SELECT ship(:o1, 'SF100');
SET customorder.clock = '2026-03-04 09:00+00';
SELECT mark_signed(:o1);
SET customorder.clock = '2026-03-05 09:00+00';
SELECT request_refund(:o1, 'refund_only', 'quality') AS c1 \gset
SELECT insist_reject(:c1);
SELECT communicate(:c1, 'negotiate_amount') IS NOT NULL AS sent;
SELECT propose_refund_amount(:c1, 600.00);
SET customorder.clock = '2026-03-05 10:00+00';
SELECT accept_refund_amount(:c1, 600.00);
SELECT state, paid_at, custom_started_at, shipped_at, signed_at, refunded_amount
  FROM orders WHERE order_id = :o1;
SELECT state, refund_amount, requested_at, closed_at FROM aftersales WHERE order_id = :o1;
SELECT refund_no = format('CO%s-%s', order_id, refund_id) AS refund_no_names_order,
       amount, state FROM refunds WHERE order_id = :o1;
-- the payment service reports it by refund_no alone: one shard too
SELECT refund_no AS r1 FROM refunds WHERE order_id = :o1 \gset
SELECT refund_succeeded(:'r1', 'PAY-1');
SELECT refund_succeeded(:'r1', 'PAY-1') AS same_report_again;
SELECT machine, action, from_state, to_state, actor, actor_role, at
  FROM history(:o1) ORDER BY event_id;
SELECT * FROM verify(:o1);

-- an ordinary order, cancelled with its instant refund
SELECT place_order(2, 8, 300.00) AS o2 \gset
SET customorder.buyer_id = 8;
SELECT request_refund(:o2, 'refund_only', 'no_reason') IS NOT NULL AS requested;
SELECT state FROM orders WHERE order_id = :o2;
RESET citus.multi_task_query_log_level;

-- C2: a raw change outside the transition table is refused through the
-- coordinator, and straight on the shard on its worker
SELECT err($$UPDATE customorder.orders SET state = 'paid' WHERE order_id = $$ || :o1);
SELECT result LIKE 'ERROR:  order state change from % to paid is not in the transition table%'
       AS refused_on_shard
  FROM run_command_on_placements('customorder.orders',
         $$UPDATE %s SET state = 'paid' WHERE order_id = $$ || :o1)
 WHERE shardid = get_shard_id_for_distribution_column('customorder.orders', :o1);
SELECT state FROM orders WHERE order_id = :o1;

-- C4: a press on a worker; ids are unique whichever node makes them
SELECT success, result::bigint >= 281474976710656 AS own_range
  FROM run_command_on_workers($$SELECT customorder.place_order(1, 9, 2000.00)$$);
SELECT count(*) = count(DISTINCT order_id) AS distinct_order_ids,
       count(*) FILTER (WHERE order_id >= 281474976710656) AS made_on_workers
  FROM orders;
SELECT count(DISTINCT event_id) = count(*) AS distinct_event_ids FROM events;

-- a button pressed on a worker, for an order whose shard may be elsewhere
SELECT w.success, w.result::bigint >= 281474976710656 AS own_range
  FROM pg_dist_node n,
       master_run_on_worker(ARRAY[n.nodename], ARRAY[n.nodeport],
         ARRAY[$$SELECT customorder.request_refund(
                          (SELECT min(o.order_id) FROM customorder.orders o WHERE o.buyer_id = 9),
                          'refund_only', 'no_reason')
                   FROM pg_catalog.set_config('customorder.buyer_id', '9', false)$$], false) w
 WHERE n.groupid = 1;
SELECT o.state, a.state AS case_state
  FROM orders o JOIN aftersales a USING (order_id)
 WHERE o.buyer_id = 9 ORDER BY o.order_id;


-- Roles (H5, H6) press through the coordinator: grant_merchant() binds a
-- merchant role to its shop; the button checks it there, before anything
-- is locked, and the worker's event records the calling role.  (The
-- roles read the tables under row-level security below.)
CREATE ROLE regress_co_citus_platform LOGIN;
CREATE ROLE regress_co_citus_merchant LOGIN;
SELECT grant_platform('regress_co_citus_platform');
SELECT grant_merchant('regress_co_citus_merchant', ARRAY[1]);
SELECT grant_merchant('regress_co_citus_merchant', ARRAY[7]);
SELECT role, kind, ids FROM actors WHERE role::text LIKE 'regress_co_citus%' ORDER BY 1::text;
SET customorder.clock = '2026-04-01 10:00+00';
SET ROLE regress_co_citus_platform;
SELECT place_order(1, 11, 2000.00) AS o3 \gset
RESET ROLE;
SET customorder.clock = '2026-04-01 12:00+00';
SET citus.multi_task_query_log_level = error;
SET ROLE regress_co_citus_merchant;
SET customorder.shop_id = 1;
SELECT start_customization(:o3);
SET customorder.shop_id = 2;
SELECT err('SELECT customorder.ship(' || :o3 || ', ''SF300'')');
SET customorder.shop_id = 1;
SELECT ship(:o3, 'SF300');
RESET ROLE;
RESET citus.multi_task_query_log_level;
SELECT machine, action, to_state, actor, actor_role FROM history(:o3) ORDER BY event_id;

-- Row-level security on the shards: bound roles read the distributed tables
-- through the coordinator.  The policies run in the queries on the workers'
-- shards, as the reading role, where acts_as() and order_visible() read
-- the worker's placement of actors and the order's colocated shard of
-- orders; grant_*() gave the role the policies' functions on every node.
-- customorder.shop_id / buyer_id reach those queries as a SET LOCAL that
-- Citus passes on (citus.propagate_set_commands = 'local', see README).
-- rows_of(NULL, NULL): the keys of the rows the caller sees, per table;
-- rows_owned(shop, buyer): as a superuser, those of the shop's or the
-- buyer's orders.
CREATE FUNCTION public.rows_of(shop bigint, buyer bigint)
RETURNS TABLE (tbl text, n bigint, keys text) LANGUAGE plpgsql AS $$
DECLARE
    t text;
    k text;
BEGIN
    FOR t, k IN VALUES ('orders', 'order_id'), ('events', 'event_id'),
                       ('aftersales', 'aftersale_id'), ('refunds', 'refund_id')
    LOOP
        tbl := t;
        IF shop IS NULL AND buyer IS NULL THEN
            EXECUTE format('SELECT count(*), string_agg(%I::text, '','' ORDER BY %I) '
                           'FROM customorder.%I', k, k, t) INTO n, keys;
        ELSE
            EXECUTE format('SELECT count(*), string_agg(x.%I::text, '','' ORDER BY x.%I) '
                           'FROM customorder.%I x JOIN customorder.orders o USING (order_id) '
                           'WHERE o.shop_id = $1 OR o.buyer_id = $2', k, k, t)
               INTO n, keys USING shop, buyer;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
CREATE FUNCTION public.rows_owned(shop bigint, buyer bigint)
RETURNS TABLE (tbl text, n bigint, keys text) LANGUAGE sql SECURITY DEFINER
AS $$ SELECT * FROM public.rows_of(shop, buyer) $$;
CREATE FUNCTION public.rows_seen(shop bigint, buyer bigint)
RETURNS TABLE (tbl text, seen bigint, owned bigint, exactly_those boolean)
LANGUAGE sql AS $$
    SELECT s.tbl, s.n, o.n, s.keys IS NOT DISTINCT FROM o.keys
      FROM public.rows_of(NULL, NULL) s JOIN public.rows_owned(shop, buyer) o USING (tbl)
     ORDER BY s.tbl
$$;
CREATE ROLE regress_co_citus_buyer LOGIN;
CREATE ROLE regress_co_citus_other LOGIN;
SELECT grant_buyer('regress_co_citus_buyer', ARRAY[8]);
SELECT grant_merchant('regress_co_citus_other', ARRAY[2]);
-- the policies' functions on every node, for the roles that read
SELECT n.groupid = 0 AS coordinator, r.rolname,
       w.success, w.result AS executes_order_visible
  FROM pg_dist_node n,
       (VALUES ('regress_co_citus_merchant'), ('regress_co_citus_buyer'),
               ('regress_co_citus_other')) r(rolname),
       master_run_on_worker(ARRAY[n.nodename], ARRAY[n.nodeport],
         ARRAY[format($$SELECT has_function_privilege(%L, 'customorder.order_visible(bigint)', 'EXECUTE')$$,
                      r.rolname)], false) w
 ORDER BY n.groupid, r.rolname;

-- the merchant bound to shop 1 sees shop 1's orders, their events, cases
-- and refunds, and nothing of shop 2's
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL ROLE regress_co_citus_merchant;
SET LOCAL customorder.shop_id = 1;
SELECT * FROM rows_seen(1, NULL);
SELECT count(*) AS other_shops_orders FROM orders WHERE shop_id <> 1;
ROLLBACK;
-- the buyer bound to buyer 8 sees their orders' rows
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL ROLE regress_co_citus_buyer;
SET LOCAL customorder.buyer_id = 8;
SELECT * FROM rows_seen(NULL, 8);
ROLLBACK;
-- a merchant bound to shop 2 sees nothing when the session acts for shop 1
-- (H5), and shop 2's rows when it acts for shop 2
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL ROLE regress_co_citus_other;
SET LOCAL customorder.shop_id = 1;
SELECT tbl, seen FROM rows_seen(1, NULL);
SET LOCAL customorder.shop_id = 2;
SELECT * FROM rows_seen(2, NULL);
ROLLBACK;
-- a buyer unbound from buyer 7 sees none of buyer 7's rows
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL ROLE regress_co_citus_buyer;
SET LOCAL customorder.buyer_id = 7;
SELECT tbl, seen FROM rows_seen(NULL, 7);
ROLLBACK;
-- a node that lacks a grant's functions (one added after the grant) gets
-- them from distribute() again
SELECT success, result FROM run_command_on_workers(
    $$REVOKE EXECUTE ON FUNCTION customorder.order_visible(bigint) FROM regress_co_citus_buyer$$);
SELECT customorder.distribute(8);
SELECT success, result AS executes_order_visible FROM run_command_on_workers(
    $$SELECT has_function_privilege('regress_co_citus_buyer', 'customorder.order_visible(bigint)', 'EXECUTE')$$);
-- revoke_actor() takes the functions back on every node
SELECT revoke_actor('regress_co_citus_other', 'merchant');
SELECT n.groupid = 0 AS coordinator, w.success, w.result AS executes_order_visible
  FROM pg_dist_node n,
       master_run_on_worker(ARRAY[n.nodename], ARRAY[n.nodeport],
         ARRAY[$$SELECT has_function_privilege('regress_co_citus_other', 'customorder.order_visible(bigint)', 'EXECUTE')$$],
         false) w
 ORDER BY n.groupid;

-- Triggers on the shards that read more than their row: several presses in
-- one statement (Start reads and locks the shop's score on the worker's
-- placement of shops), an evidence upload stamped with the coordinator's
-- clock and refused in the button's name, and ship() refused while the
-- order's case is open (the trigger reads the case on the order's shard)
INSERT INTO shops (name, service_score) VALUES ('low', 4.00) RETURNING shop_id AS low \gset
SELECT approve_custom_category(:low, 1);
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (:low, 1, 'stool', 100.00, true, '7 days') RETURNING product_id AS stool \gset
SET customorder.clock = '2026-05-01 10:00+00';
SELECT place_order(:stool, 21, 100.00) AS e1 \gset
SELECT place_order(:stool, 22, 100.00) AS e2 \gset
SELECT place_order(1, 23, 2000.00) AS s1 \gset
SELECT get_shard_id_for_distribution_column('customorder.orders', :e1)
    <> get_shard_id_for_distribution_column('customorder.orders', :e2) AS two_shards;
SET customorder.clock = '2026-05-01 12:00+00';
SET citus.multi_task_query_log_level = error;
SELECT start_customization(:e1), start_customization(:e2), start_customization(:s1);
SET customorder.clock = '2026-05-02 09:00+00';
SELECT err(format('SELECT submit_custom_evidence(%s, %L)', :e1,
    (SELECT jsonb_agg(jsonb_build_object('type', 'video', 'mime', 'video/mp4', 'bytes', 5000000 + g,
                                         'uri', 'https://vid.example/e/' || g || '.mp4'))
       FROM generate_series(1, 4) g)));
SELECT submit_custom_evidence(:e1, '[{"type": "image", "mime": "image/jpeg", "bytes": 1001, "uri": "https://img.example/e/1.jpg"}]');
SELECT bundle_id IS NOT NULL AS bundle, created_at, submitted_at, image_count
  FROM evidence_bundles WHERE order_id = :e1;
SET customorder.buyer_id = 23;
SELECT request_refund(:s1, 'refund_only', 'quality') IS NOT NULL AS requested;
SELECT err(format('SELECT ship(%s, %L)', :s1, 'SF400'));
RESET citus.multi_task_query_log_level;
SELECT order_id = :e1 AS e1, state FROM orders WHERE order_id IN (:e1, :e2, :s1) ORDER BY order_id;

-- Several place_order calls in one transaction: the order trigger reads
-- and locks the worker's own placements of products, categories and
-- custom_approvals (FOR SHARE through Citus locked every placement over
-- other connections of the transaction, and Citus cancelled such
-- transactions as a distributed deadlock)
BEGIN;
DO $$
BEGIN
    FOR i IN 1..5 LOOP
        PERFORM customorder.place_order(1, 7300 + i, 2000.00);
    END LOOP;
END $$;
SELECT count(*) AS placed_in_one_transaction FROM orders WHERE buyer_id BETWEEN 7301 AND 7305;
COMMIT;


-- V3, the outbox, on the cluster: claim_events() finds the heads of the
-- orders' undelivered events on every shard without locks, then claims
-- them with one router statement per shard (FOR UPDATE SKIP LOCKED, head
-- and lease rechecked there); ack_events() deletes deliveries of several
-- shards in one statement.  Three orders on shards of both
-- workers: v1 placed, shipped and signed, v2 placed and shipped, v3 placed.
SELECT register_consumer('citus_mailer');
SET customorder.clock = '2026-06-01 10:00+00';
SET customorder.shop_id = 1;
SELECT place_order(2, 7401, 300.00) AS v1 \gset
SELECT place_order(2, 7402, 300.00) AS v2 \gset
SELECT place_order(2, 7403, 300.00) AS v3 \gset
SELECT count(DISTINCT s.shardid) AS shards, count(DISTINCT p.groupid) AS workers
  FROM unnest(ARRAY[:v1, :v2, :v3]::bigint[]) o(order_id),
       LATERAL (SELECT get_shard_id_for_distribution_column('customorder.orders', o.order_id)) s(shardid)
       JOIN pg_dist_placement p USING (shardid);
SELECT ship(:v1, 'SF701'), ship(:v2, 'SF702');
SET customorder.clock = '2026-06-02 10:00+00';
SET customorder.buyer_id = 7401;
SELECT mark_signed(:v1);
-- (helpers of this session only, a temp table and prepared statements:
-- Citus would propagate a function or view to the workers, and warn)
-- claim(call, max): one call of claim_events, its events kept in claimed:
-- n, the event's place in the result; o names the order; each call's
-- events in event_id order, and each order's in the order they happened,
-- never before one its order handed out earlier (a redelivery repeats it)
CREATE TEMP TABLE claimed (call int, n bigint, o text, action text,
                           order_id bigint, event_id bigint,
                           in_its_orders_order boolean, in_event_id_order boolean);
PREPARE claim(int, int) AS
WITH c AS (SELECT * FROM customorder.claim_events('citus_mailer', $2) WITH ORDINALITY),
ins AS (
    INSERT INTO claimed
    SELECT $1, c.ordinality,
           CASE c.order_id WHEN :v1 THEN 'v1' WHEN :v2 THEN 'v2' WHEN :v3 THEN 'v3' END,
           c.action, c.order_id, c.event_id,
           c.event_id >= ALL (SELECT p.event_id FROM claimed p WHERE p.order_id = c.order_id),
           c.event_id > ALL (SELECT p.event_id FROM c p WHERE p.ordinality < c.ordinality)
      FROM c
    RETURNING 1)
SELECT count(*) AS claimed FROM ins;
PREPARE claims(int) AS
SELECT n, o, action, in_its_orders_order, in_event_id_order
  FROM claimed WHERE call = $1 ORDER BY n;
-- the consumer's deliveries; nth: the event's place among its order's
-- undelivered ones
PREPARE undelivered AS
SELECT CASE d.order_id WHEN :v1 THEN 'v1' WHEN :v2 THEN 'v2'
                       WHEN :v3 THEN 'v3' END AS o,
       row_number() OVER (PARTITION BY d.order_id ORDER BY d.event_id) AS nth,
       e.action, d.lease_until, d.claims
  FROM customorder.deliveries d JOIN customorder.events e USING (order_id, event_id)
 WHERE d.consumer = 'citus_mailer'
 ORDER BY o, nth;
EXECUTE undelivered;
SET customorder.claim_lease = '60s';
-- the first call, at most 2: two orders' first events
SET customorder.clock = '2026-06-03 10:00:00+00';
EXECUTE claim(1, 2);
EXECUTE claims(1);
-- a second claimer while those leases run: their orders' heads are leased
-- and their later events are not heads: the other order's first event only;
-- then nothing
SET customorder.clock = '2026-06-03 10:00:30+00';
EXECUTE claim(2, 10);
EXECUTE claims(2);
EXECUTE claim(3, 10);
-- the first call's events acknowledged (two shards, one DELETE); again,
-- nothing more
SELECT ack_events('citus_mailer', ARRAY(SELECT event_id FROM claimed WHERE call = 1)) AS acked;
SELECT ack_events('citus_mailer', ARRAY(SELECT event_id FROM claimed WHERE call = 1)) AS acked_again;
-- the next events of their orders are heads now (v3 has none); the second
-- call's order's are not: its head is leased
SET customorder.clock = '2026-06-03 10:00:40+00';
EXECUTE claim(4, 10);
EXECUTE claims(4);
-- the second claimer crashed: its lease expired at 10:01:30 and its event
-- is handed out again (at least once); the fourth call's lease still runs
SET customorder.clock = '2026-06-03 10:01:30+00';
EXECUTE claim(5, 10);
EXECUTE claims(5);
EXECUTE undelivered;
SELECT ack_events('citus_mailer', ARRAY(SELECT event_id FROM claimed WHERE call IN (4, 5))) AS acked;
-- the heads left, claimed on a worker (Citus lets every node take
-- queries; no customorder.clock is set there)
SELECT w.success, w.result AS claimed_on_worker
  FROM pg_dist_node n,
       master_run_on_worker(ARRAY[n.nodename], ARRAY[n.nodeport],
         ARRAY[$$SELECT string_agg(e.action, ',') FROM customorder.claim_events('citus_mailer') e$$],
         false) w
 WHERE n.groupid = 1;
SELECT CASE d.order_id WHEN :v1 THEN 'v1' WHEN :v2 THEN 'v2'
                       WHEN :v3 THEN 'v3' END AS o,
       e.action, d.lease_until IS NOT NULL AS leased, d.claims
  FROM customorder.deliveries d JOIN customorder.events e USING (order_id, event_id)
 WHERE d.consumer = 'citus_mailer'
 ORDER BY o, d.event_id;
SELECT ack_events('citus_mailer', ARRAY(SELECT event_id FROM deliveries WHERE consumer = 'citus_mailer')) AS acked;
EXECUTE claim(6, 10);
SELECT count(*) AS undelivered FROM deliveries WHERE consumer = 'citus_mailer';
SELECT call, count(*) AS events FROM claimed GROUP BY call ORDER BY call;
SELECT bool_and(in_its_orders_order) AS each_order_in_order,
       bool_and(in_event_id_order) AS each_call_in_event_id_order
  FROM claimed;
DEALLOCATE claim;
DEALLOCATE claims;
DEALLOCATE undelivered;
DROP TABLE claimed;
-- the consumer goes: later files' events queue nothing for it
DELETE FROM consumers WHERE consumer = 'citus_mailer';

SELECT * FROM verify();
