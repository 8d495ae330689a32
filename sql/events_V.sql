--
-- events_V: events, history, the outbox and refund execution (SPEC §10 V1-V5)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-08-01 09:00:00-07';

CREATE ROLE regress_ev_platform LOGIN;
CREATE ROLE regress_ev_merchant LOGIN;
CREATE ROLE regress_ev_buyer LOGIN;
SELECT grant_platform('regress_ev_platform');
SELECT grant_merchant('regress_ev_merchant');
SELECT grant_buyer('regress_ev_buyer');

-- ev(order): the order's events, event ids replaced by their rank, ids
-- of the rows made here (and refund numbers) by #
CREATE FUNCTION pg_temp.ev(id bigint)
RETURNS TABLE (n bigint, machine text, action text, from_state text,
               to_state text, actor text, actor_role text, at timestamptz,
               detail text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT row_number() OVER (ORDER BY e.event_id), e.machine, e.action,
           e.from_state, e.to_state, e.actor, e.actor_role, e.at,
           regexp_replace(e.detail::text, '(CO)?[0-9]{5,}(-[0-9]+)?', '#', 'g')
    FROM customorder.events e WHERE e.order_id = id ORDER BY e.event_id;
END $$;

SELECT register_consumer('regress_app') AS registered;
SELECT register_consumer('regress_app') AS registered_again;

--
-- V1: a low-score shop's order through evidence, production, a case that
-- is negotiated and partially refunded, shipment and signing; every change
-- is one event, with the kind of actor and the role that pressed
--
SELECT place_order(prod('wardrobe-low'), 9101, 9800.00) AS o1 \gset
SET customorder.clock = '2024-08-01 11:00:00-07';
SELECT start_customization(:o1);
SELECT submit_custom_evidence(:o1, items(1, 0, 'v1'));
SET customorder.clock = '2024-08-02 10:00:00-07';
SELECT request_refund(:o1, 'refund_only', 'quality') AS c1 \gset
SELECT insist_reject(:c1);
SELECT communicate(:c1, NULL) IS NOT NULL AS script_sent;
SELECT agree_refund(:c1);
SELECT * FROM pg_temp.ev(:o1);

-- a merchant role (SET ROLE) pressing: actor merchant, actor_role the role
SELECT place_order(prod('wardrobe-high'), 9102, 9800.00) AS o2 \gset
SET customorder.clock = '2024-08-02 12:00:00-07';
SET ROLE regress_ev_merchant;
SET customorder.shop_id = 1;
SELECT start_customization(:o2);
SELECT ship(:o2, 'EV-SHIP-2');
RESET customorder.shop_id;
RESET ROLE;
-- a superuser's raw change: actor superuser
UPDATE orders SET state = 'signed' WHERE order_id = :o2;
SELECT n, machine, action, from_state, to_state, actor, actor_role, detail
FROM pg_temp.ev(:o2);

-- the system (run_due): actor system
SELECT place_order(prod('wardrobe-high'), 9103, 9800.00) AS o3 \gset
SET customorder.clock = '2024-08-02 13:00:00-07';
SELECT start_customization(:o3);
SELECT request_refund(:o3, 'refund_only', 'quality') AS c3 \gset
SET customorder.clock = '2024-08-05 13:00:00-07';
SELECT run_due() >= 1 AS applied;
SELECT n, machine, action, from_state, to_state, actor, at, detail
FROM pg_temp.ev(:o3);

-- H2: with the clock set back, an order's events do not go back in time
SET customorder.clock = '2024-08-01 00:00:00-07';
-- (the report is called with the refund_no read first: on Citus a call per
-- row of a query of a distributed table would run on the shards)
SELECT refund_no AS r_o3 FROM refunds WHERE order_id = :o3 \gset
SELECT refund_succeeded(:'r_o3', 'PAY-O3');
SELECT n, action, at FROM pg_temp.ev(:o3) ORDER BY n DESC LIMIT 2;
SET customorder.clock = '2024-08-05 14:00:00-07';

-- events are append-only
SELECT err($$UPDATE customorder.events SET actor = 'buyer' WHERE order_id = $$ || :o1);
SELECT err($$DELETE FROM customorder.events WHERE order_id = $$ || :o1);
SELECT err('TRUNCATE customorder.events');
-- a refused change appends nothing
SELECT count(*) AS before FROM events WHERE order_id = :o2 \gset
SELECT err($$SELECT customorder.ship($$ || :o2 || $$, 'X')$$);
SELECT count(*) - :before AS appended FROM events WHERE order_id = :o2;

--
-- V4: refunds: one for every money decision
--
SELECT place_order(prod('wok'), 9104, 199.00) AS o4 \gset
SELECT request_refund(:o4, 'refund_only', 'no_reason') AS c4 \gset
SELECT r.aftersale_id = :c4 AS of_case, r.amount, r.refund_no = 'CO' || :o4 || '-' || r.refund_id AS refund_no_ok,
       r.state, r.payment_ref, r.error, r.created_at, r.settled_at
FROM refunds r WHERE r.order_id = :o4;
SELECT refund_no AS r4 FROM refunds WHERE order_id = :o4 \gset
SELECT refund_failed(:'r4', 'bank account closed');
SELECT err($$SELECT customorder.refund_failed('$$ || :'r4' || $$', NULL)$$);
SELECT err($$SELECT customorder.refund_succeeded('$$ || :'r4' || $$', 'PAY-1')$$);
SELECT retry_refund(:'r4');
SELECT err($$SELECT customorder.retry_refund('$$ || :'r4' || $$')$$);
SELECT refund_succeeded(:'r4', 'PAY-1');
SELECT refund_succeeded(:'r4', 'PAY-1') AS same_ref_again;
SELECT err($$SELECT customorder.refund_succeeded('$$ || :'r4' || $$', 'PAY-2')$$);
SELECT err($$SELECT customorder.refund_failed('$$ || :'r4' || $$', 'late')$$);
SELECT err($$SELECT customorder.retry_refund('$$ || :'r4' || $$')$$);
SELECT err($$SELECT customorder.refund_succeeded('CO0-0', 'PAY-1')$$);
-- refund_no is CO<order_id>-<refund_id>: the order id in it routes the
-- lookup by the refunds' key (order_id, refund_no); another order's id with
-- this refund's number, or text of another form, names no refund (P0002)
SELECT regexp_replace(err(format('SELECT customorder.refund_succeeded(%L, %L)',
                                 'CO' || :o1 || '-' || split_part(:'r4', '-', 2), 'PAY-1')),
                      'CO[0-9]+-[0-9]+', 'CO#-#', 'g') AS other_order;
SELECT s.refund_no, err(format('SELECT customorder.retry_refund(%L)', s.refund_no)) AS retried
FROM (VALUES ('X1-1'), ('CO-'), ('CO1'), ('CO12-'), ('COx-1'), ('CO99999999999999999999-1'),
             ('CO9223372036854775808-1'), (' CO1-1'), ('co1-1')) s(refund_no);
SELECT regexp_replace(err(format('SELECT customorder.refund_failed(%L, %L)', :'r4' || ' ', 'x')),
                      'CO[0-9]+-[0-9]+', 'CO#-#', 'g') AS trailing_space;
SELECT err($$SELECT customorder.refund_succeeded(NULL, 'PAY-1')$$);
SELECT n, machine, action, from_state, to_state, actor, detail
FROM pg_temp.ev(:o4) WHERE machine = 'refund';
-- raw writes are judged by the refund machine
SELECT err($$UPDATE customorder.refunds SET state = 'pending' WHERE order_id = $$ || :o4);
SELECT err($$UPDATE customorder.refunds SET amount = 1 WHERE order_id = $$ || :o4);
SELECT err($$DELETE FROM customorder.refunds WHERE order_id = $$ || :o4);
SELECT err($$INSERT INTO customorder.refunds (order_id, aftersale_id, amount, created_at) VALUES ($$ || :o4 || ', ' || :c4 || $$, 1, now())$$);
-- ... and refund_no is the trigger's to write, so it keeps its form (one
-- refund_no per order and refund: unique across orders too)
SELECT err($$UPDATE customorder.refunds SET refund_no = 'CO1-1' WHERE order_id = $$ || :o4);
SELECT count(*) > 0 AS some, count(DISTINCT refund_no) = count(*) AS unique_refund_nos,
       bool_and(refund_no = format('CO%s-%s', order_id, refund_id)) AS all_of_the_form
FROM refunds;
-- a failed refund still counts in refunded_amount; refund_status
SELECT refund_no AS r_o1 FROM refunds WHERE order_id = :o1 \gset
SELECT refund_failed(:'r_o1', 'timeout');
SELECT o.refunded_amount, (SELECT sum(amount) FROM refunds r WHERE r.order_id = o.order_id) AS refunds
FROM orders o WHERE o.order_id = :o1;
SELECT refund_no LIKE 'CO%' AS refund_no, amount, state, created_at, settled_at
FROM refund_status(:o1);

--
-- V2: history, and H6 for histories and refund status
--
SELECT count(*) AS o1_events FROM events WHERE order_id = :o1 \gset
SELECT count(*) = :o1_events AS all_events FROM history(:o1);
SET ROLE regress_ev_buyer;
SET customorder.buyer_id = 9101;
SELECT count(*) > 0 AS own_history FROM customorder.history(:o1);
SELECT count(*) > 0 AS own_events_visible FROM customorder.events WHERE order_id = :o1;
SELECT count(*) AS others_events_visible FROM customorder.events WHERE order_id = :o2;
SELECT err('SELECT customorder.history(' || :o2 || ')');
SELECT err('SELECT customorder.history(999999)');
SELECT err('SELECT customorder.refund_status(' || :o2 || ')');
SELECT err('SELECT customorder.claim_events(''regress_app'')');
RESET customorder.buyer_id;
RESET ROLE;
SET ROLE regress_ev_platform;
SELECT err('SELECT customorder.history(999999)');
SELECT err('SELECT customorder.history(NULL)');
RESET ROLE;

--
-- V3: the outbox: each claim hands out the head of an order's undelivered
-- events, leased; ack delivers
--
SELECT count(*) AS undelivered FROM deliveries WHERE consumer = 'regress_app' \gset
SELECT :undelivered > 0 AS some_undelivered;
SELECT count(DISTINCT order_id) AS orders FROM deliveries WHERE consumer = 'regress_app' \gset
SELECT count(*) = :orders AS one_per_order,
       count(DISTINCT order_id) = :orders AS every_order
FROM claim_events('regress_app', 1000);
SELECT count(*) AS while_leased FROM claim_events('regress_app', 1000);
-- the lease runs out: delivered again
SET customorder.clock = '2024-08-05 14:02:00-07';
SELECT count(*) = :orders AS redelivered FROM claim_events('regress_app', 1000);
-- ack everything, one claim at a time, in order per order
CREATE TEMP TABLE got (order_id bigint, event_id bigint, k serial);
DO $$
DECLARE
    ids bigint[];
BEGIN
    LOOP
        PERFORM set_config('customorder.clock',
                           (customorder.now() + interval '2 minutes')::text, false);
        WITH c AS (SELECT * FROM customorder.claim_events('regress_app', 1000))
        INSERT INTO got (order_id, event_id) SELECT order_id, event_id FROM c;
        SELECT array_agg(g.event_id) INTO ids FROM got g
        WHERE NOT EXISTS (SELECT 1 FROM customorder.deliveries d
                          WHERE d.consumer = 'regress_app' AND d.event_id = g.event_id) IS NOT TRUE;
        EXIT WHEN NOT EXISTS (SELECT 1 FROM customorder.deliveries WHERE consumer = 'regress_app');
        PERFORM customorder.ack_events('regress_app', array_agg(event_id)) FROM got;
    END LOOP;
END $$;
SELECT count(DISTINCT event_id) = :undelivered AS all_delivered FROM got;
-- per order, first deliveries come in event order
SELECT count(*) AS out_of_order FROM (
    SELECT order_id, event_id, lag(event_id) OVER (PARTITION BY order_id ORDER BY min(k)) AS prev
    FROM got GROUP BY order_id, event_id) s WHERE event_id < prev;
SELECT err('SELECT customorder.claim_events(''nobody'')');
SELECT err('SELECT customorder.ack_events(''nobody'', ''{1}'')');
SELECT err('SELECT customorder.claim_events(''regress_app'', 0)');
SELECT err('SELECT customorder.register_consumer('''')');

--
-- V5: verify(order_id) checks one order, through the order's keys
--
SELECT * FROM verify(:o1);
SELECT invariant, count(*) FROM verify() GROUP BY invariant ORDER BY invariant;
SELECT err('SELECT customorder.verify(999999::bigint)');
SET ROLE regress_ev_merchant;
SET customorder.shop_id = 1;
SELECT err('SELECT customorder.verify(' || :o2 || '::bigint)');
RESET customorder.shop_id;
RESET ROLE;
BEGIN;
ALTER TABLE refunds DISABLE TRIGGER refunds_guard;
UPDATE refunds SET amount = amount - 1, state = 'succeeded' WHERE order_id = :o1;
SELECT invariant, order_id = :o1 AS o1, regexp_replace(detail, '(CO)?[0-9]{5,}(-[0-9]+)?', '#', 'g') AS detail
FROM verify(:o1);
ROLLBACK;

--
-- V1: how an event is written.  The triggers append the events and their
-- deliveries without the executor (src/append.c): every index of both
-- tables is kept (amcheck finds each row in each index, expression and
-- partial ones too), a unique index refuses a duplicate, NOT NULL holds,
-- and a dropped column is skipped.  A table altered into a shape that path
-- does not write (a CHECK, an INSERT trigger, a column of its own) gets its
-- rows from one SQL statement, which the executor checks in full.
--
CREATE EXTENSION IF NOT EXISTS amcheck;
BEGIN;
CREATE INDEX regress_events_expr ON events ((lower(action)), order_id)
    WHERE machine = 'order';
CREATE INDEX regress_deliveries_expr ON deliveries ((consumer || '/' || event_id));
ALTER TABLE events ADD COLUMN regress_gone int;
ALTER TABLE events DROP COLUMN regress_gone;
SELECT place_order(prod('wok'), 9105, 199.00) AS o5 \gset
SELECT request_refund(:o5, 'refund_only', 'no_reason') IS NOT NULL AS instant_refund;
SELECT n, machine, action, from_state, to_state, actor FROM pg_temp.ev(:o5);
SELECT count(*) AS deliveries FROM deliveries d JOIN events e USING (order_id, event_id)
WHERE d.consumer = 'regress_app' AND e.order_id = :o5;
SELECT c.relname, bt_index_check(c.oid, true)::text = '' AS checked
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid IN ('customorder.events'::regclass, 'customorder.deliveries'::regclass)
ORDER BY c.relname;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) AS by_expression_index FROM events
WHERE lower(action) = 'place_order' AND machine = 'order' AND order_id = :o5;
SELECT count(*) AS by_deliveries_index FROM deliveries d JOIN events e USING (order_id, event_id)
WHERE d.consumer || '/' || d.event_id = 'regress_app/' || e.event_id AND e.order_id = :o5;
ROLLBACK;
-- a unique index
BEGIN;
SELECT place_order(prod('wok'), 9106, 199.00) AS o6 \gset
CREATE UNIQUE INDEX regress_one_per_machine ON events (order_id, machine)
    WHERE order_id >= :o6;
SELECT err($$SELECT customorder.request_refund($$ || :o6 || $$, 'refund_only', 'no_reason')$$) AS second_order_event;
ROLLBACK;
-- NOT NULL
BEGIN;
ALTER TABLE events DISABLE TRIGGER events_append_only;
DELETE FROM events WHERE from_state IS NULL;
ALTER TABLE events ALTER from_state SET NOT NULL;
SELECT err($$SELECT customorder.place_order(prod('wok'), 9107, 199.00)$$) AS from_state_null;
ROLLBACK;
-- a CHECK constraint, an INSERT trigger, a column with a default: the SQL path
BEGIN;
ALTER TABLE events ADD CONSTRAINT regress_no_refund_events CHECK (machine <> 'refund') NOT VALID;
SELECT place_order(prod('wok'), 9108, 199.00) AS o8 \gset
SELECT err($$SELECT customorder.request_refund($$ || :o8 || $$, 'refund_only', 'no_reason')$$) AS refund_event;
ROLLBACK;
BEGIN;
CREATE FUNCTION public.regress_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.detail := NEW.detail || '{"tagged": true}';
    RETURN NEW;
END $$;
CREATE TRIGGER regress_tag BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION public.regress_tag();
ALTER TABLE events ADD COLUMN regress_source text DEFAULT 'the executor';
SELECT place_order(prod('wok'), 9109, 199.00) AS o9 \gset
SELECT machine, action, detail->'tagged' AS tagged, regress_source FROM events WHERE order_id = :o9;
SELECT count(*) AS deliveries FROM deliveries WHERE consumer = 'regress_app' AND order_id = :o9;
ROLLBACK;
-- the events table renamed away (a 1.0 database's path): nothing appended
BEGIN;
ALTER TABLE events RENAME TO regress_events_away;
SELECT place_order(prod('wok'), 9110, 199.00) AS o10 \gset
SELECT count(*) AS appended FROM regress_events_away WHERE order_id = :o10;
ROLLBACK;
SELECT count(*) AS left_over FROM deliveries WHERE consumer = 'regress_app';

RESET customorder.clock;
