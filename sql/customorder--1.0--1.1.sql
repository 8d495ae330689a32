/*
 * customorder--1.0--1.1.sql: ALTER EXTENSION customorder UPDATE from 1.0 to
 * 1.1 on a populated database.  It must leave the schema exactly as a fresh
 * CREATE EXTENSION of 1.1 (customorder--1.1.sql) does; test/upgrade/run
 * compares the two.
 *
 * What 1.1 adds to 1.0:
 * - fillfactor 80 on orders, evidence_bundles and aftersales (see
 *   customorder--1.1.sql).  SET (fillfactor) rewrites nothing and takes only
 *   a SHARE UPDATE EXCLUSIVE lock: reads and writes of the tables go on
 *   during the update; pages written from now on keep the room free.
 * - the CHECK constraints on the money of orders and cases are dropped: the
 *   triggers enforce those rules and verify() checks them (see
 *   customorder--1.1.sql).  Dropping a constraint rewrites nothing.
 * - deadlines (SPEC §7): the periods in categories, aftersales.due_at,
 *   orders.late_at and late_refund_instant, case state lapsed, run_due()
 *   and deadlines().  The new columns have constant defaults (no rewrite).
 *   due_at of the cases waiting on a party is filled from their 1.0
 *   stamps with the default periods (U1); deadlines already passed are
 *   applied by the first run_due().
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION customorder UPDATE TO '1.1'" to load this file. \quit

ALTER TABLE customorder.orders SET (fillfactor = 80);
ALTER TABLE customorder.evidence_bundles SET (fillfactor = 80);
ALTER TABLE customorder.aftersales SET (fillfactor = 80);

ALTER TABLE customorder.orders
    DROP CONSTRAINT orders_amount_check,
    DROP CONSTRAINT orders_check;
ALTER TABLE customorder.aftersales
    DROP CONSTRAINT aftersales_refund_amount_check,
    DROP CONSTRAINT aftersales_proposed_amount_check;

-- T3: a case whose buyer let the evidence invitation lapse
ALTER TYPE customorder.aftersale_state ADD VALUE 'lapsed';

ALTER TABLE customorder.categories
    ADD COLUMN merchant_response interval NOT NULL DEFAULT '48 hours',
    ADD COLUMN buyer_response interval NOT NULL DEFAULT '48 hours',
    ADD COLUMN buyer_evidence interval NOT NULL DEFAULT '7 days',
    ADD COLUMN buyer_return interval NOT NULL DEFAULT '7 days',
    ADD COLUMN merchant_receipt interval NOT NULL DEFAULT '10 days',
    ADD COLUMN escalation_window interval NOT NULL DEFAULT '7 days',
    ADD COLUMN late_refund_instant boolean NOT NULL DEFAULT true;

ALTER TABLE customorder.orders
    ADD COLUMN late_at timestamptz,
    ADD COLUMN late_refund_instant boolean NOT NULL DEFAULT true;

ALTER TABLE customorder.aftersales ADD COLUMN due_at timestamptz;

-- U1: the deadline each waiting case would carry had 1.0 kept one, from
-- the stamp that started its clock (the categories hold the defaults
-- here: the columns were just added).  The trigger refuses writes of
-- due_at; this one fill is the update's own.
ALTER TABLE customorder.aftersales DISABLE TRIGGER aftersales_guard;
UPDATE customorder.aftersales a
   SET due_at = CASE
       WHEN a.state IN ('requested', 'rejecting', 'communicating')
            OR (a.state = 'negotiating' AND a.proposed_amount IS NULL)
           THEN a.requested_at + c.merchant_response
       WHEN a.state = 'negotiating'
           THEN a.communicated_at + c.buyer_response
       WHEN a.state = 'awaiting_buyer_evidence'
           THEN a.communicated_at + c.buyer_evidence
       ELSE a.closed_at + c.escalation_window
   END
  FROM customorder.orders o, customorder.categories c
 WHERE o.order_id = a.order_id AND c.category_id = o.category_id
   AND a.state IN ('requested', 'rejecting', 'communicating', 'negotiating',
                   'awaiting_buyer_evidence', 'rejected');
ALTER TABLE customorder.aftersales ENABLE TRIGGER aftersales_guard;

CREATE INDEX orders_ship_due ON customorder.orders (ship_by)
    WHERE late_at IS NULL AND shipped_at IS NULL AND closed_at IS NULL;
CREATE INDEX aftersales_due ON customorder.aftersales (due_at);

CREATE FUNCTION customorder.deadlines(order_id bigint)
    RETURNS TABLE (deadline text, party text, due_at timestamptz,
                   on_expiry text, passed boolean)
    AS 'MODULE_PATHNAME', 'co_deadlines' LANGUAGE C STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION customorder.run_due(max_actions integer DEFAULT 1000)
    RETURNS integer AS 'MODULE_PATHNAME', 'co_run_due' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION customorder.deadlines(bigint),
    customorder.run_due(integer) FROM PUBLIC;

INSERT INTO customorder.actor_functions (kind, function) VALUES
    ('platform', 'customorder.run_due(integer)'),
    ('platform', 'customorder.deadlines(bigint)'),
    ('merchant', 'customorder.deadlines(bigint)'),
    ('buyer', 'customorder.deadlines(bigint)');

-- the roles 1.0 made actors get the new functions of their kind
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT a.role, f.function
          FROM customorder.actors a
          JOIN customorder.actor_functions f ON f.kind OPERATOR(pg_catalog.=) a.kind
         WHERE f.function IN ('customorder.run_due(integer)'::pg_catalog.regprocedure,
                              'customorder.deadlines(bigint)'::pg_catalog.regprocedure)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
                                  r.function, r.role);
    END LOOP;
END $$;
