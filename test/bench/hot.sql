-- The HOT share of a lifecycle workload, committed (test/bench/run).
-- N = :n fresh custom orders (product 2 of buttons.sql) are placed, started,
-- shipped and signed through the buttons; one in ten is refunded through a
-- case while in production (request_refund + agree_refund) and one in ten
-- after signing.  Prints the share of updates of orders and aftersales that
-- were HOT, from pg_stat_user_tables (n_tup_hot_upd of n_tup_upd) read
-- before and after, all in this one session.
\set QUIET on
\set ON_ERROR_STOP on
SET client_min_messages = warning;
-- A backend flushes its table counters as it exits, after its client has
-- gone: wait until the bench's earlier sessions have left, so that no late
-- flush lands between the two readings.
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        PERFORM pg_catalog.pg_stat_clear_snapshot();
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity
                              WHERE datname = pg_catalog.current_database()
                                AND pid <> pg_catalog.pg_backend_pid());
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
END $$;
SELECT pg_catalog.pg_stat_clear_snapshot();
SELECT o.n_tup_upd AS o_upd0, o.n_tup_hot_upd AS o_hot0,
       a.n_tup_upd AS a_upd0, a.n_tup_hot_upd AS a_hot0
FROM pg_catalog.pg_stat_user_tables o, pg_catalog.pg_stat_user_tables a
WHERE o.relid = 'customorder.orders'::pg_catalog.regclass
  AND a.relid = 'customorder.aftersales'::pg_catalog.regclass \gset

SET customorder.clock = '2026-01-02 00:00:00+00';
CREATE TEMP TABLE life AS
SELECT customorder.place_order(2, 1000000 + g, 10) AS order_id
FROM pg_catalog.generate_series(1, :n) g;
SET customorder.clock = '2026-01-02 02:00:00+00';
SELECT count(customorder.start_customization(order_id)) FROM life;
SET customorder.clock = '2026-01-03 00:00:00+00';
SELECT count(customorder.request_refund(order_id, 'refund_only', 'quality'))
FROM life WHERE order_id % 10 = 1;
SELECT count(customorder.agree_refund(a.aftersale_id))
FROM customorder.aftersales a JOIN life USING (order_id) WHERE a.state = 'requested';
SET customorder.clock = '2026-01-04 00:00:00+00';
SELECT count(customorder.ship(o.order_id, 'H' || o.order_id))
FROM customorder.orders o JOIN life USING (order_id) WHERE o.state = 'in_production';
SET customorder.clock = '2026-01-07 00:00:00+00';
SELECT count(customorder.mark_signed(order_id)) FROM life WHERE order_id % 10 <> 1;
SET customorder.clock = '2026-01-08 00:00:00+00';
SELECT count(customorder.request_refund(order_id, 'return_refund', 'quality'))
FROM life WHERE order_id % 10 = 2;
SELECT count(customorder.agree_refund(a.aftersale_id))
FROM customorder.aftersales a JOIN life USING (order_id) WHERE a.state = 'requested';

-- flush this session's counters now (at the next idle), then read them
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_catalog.pg_stat_clear_snapshot();
\pset format unaligned
\pset tuples_only on
SELECT pg_catalog.format('HOT updates: orders %s%% (%s of %s), aftersales %s%% (%s of %s)',
           CASE WHEN ou > 0 THEN round(100.0 * oh / ou, 1) ELSE 0 END, oh, ou,
           CASE WHEN au > 0 THEN round(100.0 * ah / au, 1) ELSE 0 END, ah, au)
FROM (SELECT o.n_tup_upd - :o_upd0 AS ou, o.n_tup_hot_upd - :o_hot0 AS oh,
             a.n_tup_upd - :a_upd0 AS au, a.n_tup_hot_upd - :a_hot0 AS ah
      FROM pg_catalog.pg_stat_user_tables o, pg_catalog.pg_stat_user_tables a
      WHERE o.relid = 'customorder.orders'::pg_catalog.regclass
        AND a.relid = 'customorder.aftersales'::pg_catalog.regclass) d;
