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
 * - H3: place_order is the platform's (buyers lose it), with an overload
 *   idempotent per payment (orders.pay_no; payments keeps one order per
 *   pay_no).
 * - H2: orders.last_stamp_at, the latest stamp of the order and its cases,
 *   filled from the 1.0 stamps (with the triggers off: it is theirs).
 * - H4: accept_refund_amount(aftersale_id, amount) replaces the one-argument
 *   form (dropped; its C entry point stays for 1.0 databases, U2).
 * - H5: actors.ids binds a role to shops or buyers; grant_actor,
 *   grant_merchant and grant_buyer take the ids (the one-argument forms are
 *   dropped and created again with the ids, defaulting to NULL: unbound);
 *   revoke_actor(role, kind).
 * - deadlines (SPEC §7): the periods in categories, aftersales.due_at,
 *   orders.late_at and late_refund_instant, case state lapsed, run_due()
 *   and deadlines().  The new columns have constant defaults (no rewrite).
 *   due_at of the cases waiting on a party is filled from their 1.0
 *   stamps with the default periods (U1); deadlines already passed are
 *   applied by the first run_due().
 * - returns (§8) and platform arbitration (§9): see the end of this file.
 * - ready for distribution by order_id (SPEC §12): row-level security
 *   policies without subqueries (acts_as(), acting_*_id() and
 *   order_visible() run per row and keep their answer for the statement);
 *   payments (pay_no -> order_id) instead of a UNIQUE orders.pay_no;
 *   case_orders (aftersale_id -> order_id) where the after-sale buttons
 *   find a case's order; refunds unique per (order_id, refund_no).  The
 *   update fills case_orders from 1.0's cases; payments starts empty.
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

-- H3, H2: the payment's id (payments, below, keeps one order per payment)
-- and the latest stamp
ALTER TABLE customorder.orders
    ADD COLUMN pay_no text,
    ADD COLUMN last_stamp_at timestamptz;
SET LOCAL session_replication_role = replica;
UPDATE customorder.orders o SET last_stamp_at = (
    SELECT pg_catalog.max(t) FROM (
        SELECT pg_catalog.unnest(ARRAY[o.paid_at, o.custom_started_at, o.shipped_at,
                                       o.signed_at, o.closed_at])
        UNION ALL
        SELECT pg_catalog.unnest(ARRAY[a.requested_at, a.communicated_at, a.closed_at])
        FROM customorder.aftersales a
        WHERE a.order_id OPERATOR(pg_catalog.=) o.order_id) AS s(t));
RESET session_replication_role;

-- New buttons: run as the extension's owner, executed by their actors only
CREATE FUNCTION customorder.place_order(product_id bigint, buyer_id bigint, amount numeric,
                                        pay_no text)
    RETURNS bigint AS 'MODULE_PATHNAME', 'co_place_order' LANGUAGE C;
DELETE FROM customorder.actor_functions
WHERE function OPERATOR(pg_catalog.=) 'customorder.accept_refund_amount(bigint)'::pg_catalog.regprocedure
   OR (kind OPERATOR(pg_catalog.=) 'buyer'
       AND function OPERATOR(pg_catalog.=) 'customorder.place_order(bigint,bigint,numeric)'::pg_catalog.regprocedure);
DROP FUNCTION customorder.accept_refund_amount(bigint);
CREATE FUNCTION customorder.accept_refund_amount(aftersale_id bigint, amount numeric)
    RETURNS text AS 'MODULE_PATHNAME', 'co_accept_refund_amount' LANGUAGE C;
INSERT INTO customorder.actor_functions (kind, function) VALUES
    ('platform', 'customorder.place_order(bigint,bigint,numeric,text)'),
    ('buyer', 'customorder.accept_refund_amount(bigint,numeric)');

DO $$
DECLARE
    fn pg_catalog.regprocedure;
    r record;
BEGIN
    FOREACH fn IN ARRAY ARRAY['customorder.place_order(bigint,bigint,numeric,text)',
                              'customorder.accept_refund_amount(bigint,numeric)']::pg_catalog.regprocedure[]
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', fn);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
    -- what each actor may execute now
    FOR r IN
        SELECT pg_catalog.quote_ident(ro.rolname) AS grantee, f.function
        FROM customorder.actors a
        JOIN pg_catalog.pg_roles ro ON ro.oid OPERATOR(pg_catalog.=) a.role::pg_catalog.oid
        JOIN customorder.actor_functions f ON f.kind OPERATOR(pg_catalog.=) a.kind
        WHERE f.function OPERATOR(pg_catalog.=) ANY (ARRAY[
            'customorder.place_order(bigint,bigint,numeric,text)',
            'customorder.accept_refund_amount(bigint,numeric)']::pg_catalog.regprocedure[])
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', r.function, r.grantee);
    END LOOP;
    -- buyers no longer record payments (unless also the platform)
    FOR r IN
        SELECT pg_catalog.quote_ident(ro.rolname) AS grantee
        FROM customorder.actors a
        JOIN pg_catalog.pg_roles ro ON ro.oid OPERATOR(pg_catalog.=) a.role::pg_catalog.oid
        WHERE a.kind OPERATOR(pg_catalog.=) 'buyer'
          AND NOT EXISTS (SELECT 1 FROM customorder.actors p
                          WHERE p.role OPERATOR(pg_catalog.=) a.role
                            AND p.kind OPERATOR(pg_catalog.=) 'platform')
    LOOP
        EXECUTE pg_catalog.format(
            'REVOKE EXECUTE ON FUNCTION customorder.place_order(bigint,bigint,numeric) FROM %s',
            r.grantee);
    END LOOP;
END $$;

-- H5: bound identities.  The grant functions are dropped and created again
-- with their new arguments (the 1.0 calls with one argument still resolve)
ALTER TABLE customorder.actors ADD COLUMN ids bigint[];
-- Row-level security without subqueries (SPEC C1: Citus refuses a subquery
-- in a policy on a distributed table).  acts_as(), acting_shop_id() and
-- acting_buyer_id() run on every row now and keep their answer for the
-- statement in C; they read actors as their owner there, so acts_as() is
-- no longer SECURITY DEFINER (its SET search_path would cost a GUC save and
-- restore per row).  order_visible(order_id) is the policy of every
-- order-scoped table.
ALTER FUNCTION customorder.acts_as(text) SECURITY INVOKER RESET search_path;
CREATE FUNCTION customorder.order_visible(order_id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'co_order_visible' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION customorder.order_visible(bigint) FROM PUBLIC;
INSERT INTO customorder.actor_functions (kind, function)
SELECT k, 'customorder.order_visible(bigint)'::pg_catalog.regprocedure
FROM (VALUES ('platform'), ('merchant'), ('buyer')) AS kinds(k);
DO $$
DECLARE
    r record;
    t text;
BEGIN
    FOR r IN SELECT DISTINCT a.role FROM customorder.actors a
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION customorder.order_visible(bigint) TO %s', r.role);
    END LOOP;
    ALTER POLICY platform_rows ON customorder.orders
        USING (customorder.acts_as('platform'));
    ALTER POLICY merchant_rows ON customorder.orders
        USING (shop_id OPERATOR(pg_catalog.=) customorder.acting_shop_id()
               AND customorder.acts_as('merchant'));
    ALTER POLICY buyer_rows ON customorder.orders
        USING (buyer_id OPERATOR(pg_catalog.=) customorder.acting_buyer_id()
               AND customorder.acts_as('buyer'));
    FOREACH t IN ARRAY ARRAY['evidence_bundles', 'evidence_items', 'aftersales',
                             'communications']
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER POLICY order_rows ON customorder.%I '
            'USING (customorder.order_visible(order_id))', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['shops', 'products', 'custom_approvals']
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER POLICY platform_rows ON customorder.%I '
            'USING (customorder.acts_as(''platform''))', t);
        EXECUTE pg_catalog.format(
            'ALTER POLICY merchant_rows ON customorder.%I '
            'USING (shop_id OPERATOR(pg_catalog.=) customorder.acting_shop_id() '
            'AND customorder.acts_as(''merchant''))', t);
        IF t OPERATOR(pg_catalog.<>) 'custom_approvals' THEN
            EXECUTE pg_catalog.format(
                'ALTER POLICY buyer_rows ON customorder.%I '
                'USING (customorder.acts_as(''buyer''))', t);
        END IF;
    END LOOP;
END $$;
DROP FUNCTION customorder.grant_platform(pg_catalog.regrole);
DROP FUNCTION customorder.grant_merchant(pg_catalog.regrole);
DROP FUNCTION customorder.grant_buyer(pg_catalog.regrole);
DROP FUNCTION customorder.grant_actor(pg_catalog.regrole, text);

-- H5: the ids of a grant, sorted and without repeats (NULL: unbound)
CREATE FUNCTION customorder.merge_ids(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF a IS NULL AND b IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT pg_catalog.array_agg(DISTINCT i.id ORDER BY i.id)
              FROM pg_catalog.unnest(COALESCE(a, '{}') OPERATOR(pg_catalog.||)
                                     COALESCE(b, '{}')) AS i(id));
END $$;
REVOKE ALL ON FUNCTION customorder.merge_ids(bigint[], bigint[]) FROM PUBLIC;

-- The functions one kind of actor executes (actor_functions): granted to a
-- role, or revoked from it but for those a kind it still holds (actors)
-- executes.  grant_actor and revoke_actor call it on the node they run on.
-- On Citus, where a grant on an extension's function does not reach the
-- other nodes, actors_grants_follow calls it on every node that holds a
-- placement of actors, in the transaction that writes it there (SPEC C1:
-- the grants on the workers): row-level security calls acts_as() and
-- order_visible() on the workers' shards, as the reading role.
CREATE FUNCTION customorder.actor_function_grants(role pg_catalog.regrole, kind text,
                                                  granting boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fn pg_catalog.regprocedure;
    grantee text;
BEGIN
    SELECT pg_catalog.quote_ident(r.rolname) INTO grantee
    FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role::pg_catalog.oid;
    IF granting THEN
        FOR fn IN
            SELECT a.function FROM customorder.actor_functions a
            WHERE a.kind OPERATOR(pg_catalog.=) actor_function_grants.kind
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fn, grantee);
        END LOOP;
    ELSE
        FOR fn IN
            SELECT f.function FROM customorder.actor_functions f
            WHERE f.kind OPERATOR(pg_catalog.=) actor_function_grants.kind
              AND NOT EXISTS (
                  SELECT 1 FROM customorder.actor_functions g
                  JOIN customorder.actors a ON a.kind OPERATOR(pg_catalog.=) g.kind
                  WHERE a.role OPERATOR(pg_catalog.=) actor_function_grants.role
                    AND g.function OPERATOR(pg_catalog.=) f.function)
        LOOP
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM %s', fn, grantee);
        END LOOP;
    END IF;
END $$;
REVOKE ALL ON FUNCTION customorder.actor_function_grants(pg_catalog.regrole, text, boolean)
    FROM PUBLIC;

-- On Citus, a grant's function grants follow its row to every placement of
-- actors (see actor_function_grants); on customorder.actors itself, which
-- a Citus table's writes never reach and which one server's grant_actor
-- and revoke_actor write, it does nothing.
CREATE FUNCTION customorder.actors_grants_follow() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_RELID OPERATOR(pg_catalog.=) 'customorder.actors'::pg_catalog.regclass THEN
        RETURN NULL;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        PERFORM customorder.actor_function_grants(OLD.role, OLD.kind, false);
    ELSE
        PERFORM customorder.actor_function_grants(NEW.role, NEW.kind, true);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION customorder.actors_grants_follow() FROM PUBLIC;
CREATE TRIGGER actors_grants_follow
    AFTER INSERT OR UPDATE OR DELETE ON customorder.actors
    FOR EACH ROW EXECUTE FUNCTION customorder.actors_grants_follow();

-- Give an existing role exactly what one kind of actor needs.  H5: ids binds
-- a merchant to shops or a buyer to buyers (NULL: unbound, the trusted
-- application of 1.0).  Granting again widens: the ids are added to the
-- role's, and an unbound grant stays unbound (revoke_actor first to bind it).
CREATE FUNCTION customorder.grant_actor(role pg_catalog.regrole, kind text,
                                        ids bigint[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grantee text;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'grant_%: role must not be null', kind
            USING ERRCODE = '22004', HINT = 'Pass an existing role.';
    END IF;
    IF ids IS NOT NULL AND (kind OPERATOR(pg_catalog.=) 'platform'
            OR pg_catalog.cardinality(ids) OPERATOR(pg_catalog.=) 0
            OR EXISTS (SELECT 1 FROM pg_catalog.unnest(ids) AS i(id)
                       WHERE i.id IS NULL OR i.id OPERATOR(pg_catalog.<=) 0)) THEN
        RAISE EXCEPTION 'grant_%: ids must be positive (rule H5)', kind
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('ids = %s', ids),
                  HINT = 'Pass one or more positive shop or buyer ids, or NULL for an unbound grant; the platform is never bound.';
    END IF;
    SELECT pg_catalog.quote_ident(r.rolname) INTO grantee
    FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role::pg_catalog.oid;
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA customorder TO %s', grantee);
    PERFORM customorder.actor_function_grants(grant_actor.role, grant_actor.kind, true);
    -- reading is row-filtered by the policies below; writing is the buttons'
    EXECUTE pg_catalog.format(
        'GRANT SELECT ON customorder.categories, customorder.shops, '
        'customorder.custom_approvals, customorder.products, customorder.orders, '
        'customorder.evidence_bundles, customorder.evidence_items, '
        'customorder.aftersales, customorder.communications, customorder.scripts, '
        'customorder.events, customorder.refunds '
        'TO %s', grantee);
    IF kind OPERATOR(pg_catalog.=) 'platform' THEN
        -- set-up is plain DML on the configuration tables (SPEC §3)
        EXECUTE pg_catalog.format(
            'GRANT INSERT, UPDATE, DELETE ON customorder.categories, '
            'customorder.shops, customorder.custom_approvals, '
            'customorder.products, customorder.scripts TO %s', grantee);
        -- the lookups by pay_no and aftersale_id are the platform's to read
        EXECUTE pg_catalog.format(
            'GRANT SELECT ON customorder.payments, customorder.case_orders TO %s',
            grantee);
    END IF;
    -- no subquery in the statement itself: on Citus actors is a reference
    -- table, whose writes Citus refuses with one (SPEC §12)
    INSERT INTO customorder.actors AS a (role, kind, ids)
    VALUES (grant_actor.role, grant_actor.kind, customorder.merge_ids(grant_actor.ids, NULL))
    ON CONFLICT ON CONSTRAINT actors_pkey DO UPDATE
    SET ids = CASE WHEN a.ids IS NULL OR excluded.ids IS NULL THEN NULL
                   ELSE customorder.merge_ids(a.ids, excluded.ids) END;
END $$;

CREATE FUNCTION customorder.grant_platform(role pg_catalog.regrole) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT customorder.grant_actor(role, 'platform') $$;
CREATE FUNCTION customorder.grant_merchant(role pg_catalog.regrole,
                                           shop_ids bigint[] DEFAULT NULL) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT customorder.grant_actor(role, 'merchant', shop_ids) $$;
CREATE FUNCTION customorder.grant_buyer(role pg_catalog.regrole,
                                        buyer_ids bigint[] DEFAULT NULL) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT customorder.grant_actor(role, 'buyer', buyer_ids) $$;

-- H5: take one kind of actor away from a role: its row in actors, and what
-- grant_actor gave for that kind and no other kind the role still has
CREATE FUNCTION customorder.revoke_actor(role pg_catalog.regrole, kind text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grantee text;
BEGIN
    IF role IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'revoke_actor: role and kind must not be null'
            USING ERRCODE = '22004', HINT = 'Pass an existing role and platform, merchant or buyer.';
    END IF;
    IF kind OPERATOR(pg_catalog.<>) ALL (ARRAY['platform', 'merchant', 'buyer']) THEN
        RAISE EXCEPTION 'revoke_actor: unknown actor kind'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('kind = %L', kind),
                  HINT = 'Pass platform, merchant or buyer.';
    END IF;
    SELECT pg_catalog.quote_ident(r.rolname) INTO grantee
    FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role::pg_catalog.oid;
    DELETE FROM customorder.actors a
    WHERE a.role OPERATOR(pg_catalog.=) revoke_actor.role
      AND a.kind OPERATOR(pg_catalog.=) revoke_actor.kind;
    PERFORM customorder.actor_function_grants(revoke_actor.role, revoke_actor.kind, false);
    IF kind OPERATOR(pg_catalog.=) 'platform' THEN
        EXECUTE pg_catalog.format(
            'REVOKE INSERT, UPDATE, DELETE ON customorder.categories, '
            'customorder.shops, customorder.custom_approvals, '
            'customorder.products, customorder.scripts FROM %s', grantee);
        EXECUTE pg_catalog.format(
            'REVOKE SELECT ON customorder.payments, customorder.case_orders FROM %s',
            grantee);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM customorder.actors a
                   WHERE a.role OPERATOR(pg_catalog.=) revoke_actor.role) THEN
        EXECUTE pg_catalog.format(
            'REVOKE SELECT ON customorder.categories, customorder.shops, '
            'customorder.custom_approvals, customorder.products, customorder.orders, '
            'customorder.evidence_bundles, customorder.evidence_items, '
            'customorder.aftersales, customorder.communications, customorder.scripts, '
            'customorder.events, customorder.refunds '
            'FROM %s', grantee);
        EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA customorder FROM %s', grantee);
    END IF;
END $$;
REVOKE ALL ON FUNCTION customorder.grant_actor(pg_catalog.regrole, text, bigint[]),
    customorder.grant_platform(pg_catalog.regrole),
    customorder.grant_merchant(pg_catalog.regrole, bigint[]),
    customorder.grant_buyer(pg_catalog.regrole, bigint[]),
    customorder.revoke_actor(pg_catalog.regrole, text) FROM PUBLIC;
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

-------------------------------------------------------------------------------
-- Events, the outbox and refund execution (SPEC §10, V1-V5)
-------------------------------------------------------------------------------

-- V1: one row per change of an order, a case, an evidence bundle or a
-- refund, appended by the triggers in the same transaction; event_id
-- increases (a sequence: ids are not gap-free).  No constraint beyond the
-- key: every append pays for what the table checks.
CREATE TABLE customorder.events (
    order_id bigint NOT NULL,
    event_id bigint GENERATED ALWAYS AS IDENTITY,
    aftersale_id bigint,
    machine text NOT NULL,
    action text NOT NULL,
    from_state text,
    to_state text NOT NULL,
    actor text NOT NULL,
    actor_role text NOT NULL,
    at timestamptz NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (order_id, event_id)
);

-- Events are append-only
CREATE FUNCTION customorder.events_append_only() RETURNS trigger
    AS 'MODULE_PATHNAME', 'co_events_append_only' LANGUAGE C;
CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON customorder.events
    FOR EACH ROW EXECUTE FUNCTION customorder.events_append_only();
CREATE TRIGGER events_truncate_guard
    BEFORE TRUNCATE ON customorder.events
    FOR EACH STATEMENT EXECUTE FUNCTION customorder.events_append_only();

-- place_order's event, once the order row is there (an INSERT ... ON
-- CONFLICT DO NOTHING that inserts nothing has none)
CREATE FUNCTION customorder.order_created() RETURNS trigger
    AS 'MODULE_PATHNAME', 'co_order_created_event' LANGUAGE C;
CREATE TRIGGER orders_created_event
    AFTER INSERT ON customorder.orders
    FOR EACH ROW EXECUTE FUNCTION customorder.order_created();

-- V3: the consumers of the outbox, and each one's undelivered events
-- (filled by the statement that appends an event; deleted on ack)
CREATE TABLE customorder.consumers (
    consumer text PRIMARY KEY,
    registered_at timestamptz NOT NULL
);
CREATE TABLE customorder.deliveries (
    consumer text NOT NULL,
    order_id bigint NOT NULL,
    event_id bigint NOT NULL,
    lease_until timestamptz,
    claims integer NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer, order_id, event_id)
);
CREATE INDEX deliveries_next ON customorder.deliveries (consumer, event_id);

-- V4: every money decision, executed by the payment service under
-- refund_no (its idempotency key)
CREATE TABLE customorder.refunds (
    order_id bigint NOT NULL REFERENCES customorder.orders,
    refund_id bigint GENERATED ALWAYS AS IDENTITY,
    aftersale_id bigint NOT NULL,
    amount numeric(12,2) NOT NULL,
    refund_no text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    payment_ref text,
    error text,
    created_at timestamptz NOT NULL,
    settled_at timestamptz,
    PRIMARY KEY (order_id, refund_id),
    -- refund_no is 'CO' || order_id || '-' || refund_id (the trigger writes
    -- it), so it is unique across orders too; the key includes order_id, as
    -- a unique key of a table distributed by order_id must, and the
    -- payment service's reports find the refund by it (order_id parsed out)
    UNIQUE (order_id, refund_no)
);
-- what the payment service still has to execute
CREATE INDEX refunds_pending ON customorder.refunds (created_at)
    WHERE state = 'pending';

CREATE FUNCTION customorder.refund_guard() RETURNS trigger
    AS 'MODULE_PATHNAME', 'co_refund_trigger' LANGUAGE C;
CREATE TRIGGER refunds_guard
    BEFORE INSERT OR UPDATE OR DELETE ON customorder.refunds
    FOR EACH ROW EXECUTE FUNCTION customorder.refund_guard();

SELECT pg_catalog.pg_extension_config_dump('customorder.events', '');
SELECT pg_catalog.pg_extension_config_dump('customorder.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('customorder.deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('customorder.refunds', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('customorder.events', 'event_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('customorder.refunds', 'refund_id'), '');

CREATE FUNCTION customorder.history(order_id bigint)
    RETURNS SETOF customorder.events
    AS 'MODULE_PATHNAME', 'co_history' LANGUAGE C STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.register_consumer(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'co_register_consumer' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.claim_events(consumer text, max integer DEFAULT 100)
    RETURNS SETOF customorder.events
    AS 'MODULE_PATHNAME', 'co_claim_events' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.ack_events(consumer text, event_ids bigint[])
    RETURNS integer AS 'MODULE_PATHNAME', 'co_ack_events' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.refund_succeeded(refund_no text, payment_ref text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_refund_succeeded' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.refund_failed(refund_no text, error text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_refund_failed' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.retry_refund(refund_no text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_retry_refund' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION customorder.refund_status(order_id bigint)
    RETURNS TABLE (refund_no text, aftersale_id bigint, amount numeric,
                   state text, created_at timestamptz, settled_at timestamptz)
    AS 'MODULE_PATHNAME', 'co_refund_status' LANGUAGE C STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
-- V5: one order and what hangs off it
CREATE FUNCTION customorder.verify(for_order bigint)
    RETURNS TABLE (invariant text, order_id bigint, detail text)
    AS 'MODULE_PATHNAME', 'co_verify' LANGUAGE C STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION customorder.history(bigint),
    customorder.register_consumer(text),
    customorder.claim_events(text, integer),
    customorder.ack_events(text, bigint[]),
    customorder.refund_succeeded(text, text),
    customorder.refund_failed(text, text),
    customorder.retry_refund(text),
    customorder.refund_status(bigint),
    customorder.verify(bigint),
    customorder.events_append_only(), customorder.order_created(),
    customorder.refund_guard() FROM PUBLIC;

INSERT INTO customorder.actor_functions (kind, function)
SELECT k, f::pg_catalog.regprocedure
FROM (VALUES
    ('platform', 'customorder.register_consumer(text)'),
    ('platform', 'customorder.claim_events(text,integer)'),
    ('platform', 'customorder.ack_events(text,bigint[])'),
    ('platform', 'customorder.refund_succeeded(text,text)'),
    ('platform', 'customorder.refund_failed(text,text)'),
    ('platform', 'customorder.retry_refund(text)'),
    ('platform', 'customorder.verify(bigint)')
) AS v(k, f)
UNION ALL
SELECT k, f::pg_catalog.regprocedure
FROM (VALUES ('platform'), ('merchant'), ('buyer')) AS kinds(k),
     (VALUES ('customorder.history(bigint)'),
             ('customorder.refund_status(bigint)')) AS common(f);

-- V2: an order's events and refunds are visible exactly when the order is
ALTER TABLE customorder.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY order_rows ON customorder.events FOR SELECT
    USING (customorder.order_visible(order_id));
ALTER TABLE customorder.refunds ENABLE ROW LEVEL SECURITY;
CREATE POLICY order_rows ON customorder.refunds FOR SELECT
    USING (customorder.order_visible(order_id));

-- U1: 1.0's refunded money, paid before 1.1 kept refunds, as succeeded
-- refunds (the trigger refuses writes outside a money decision; this one
-- fill is the update's own)
ALTER TABLE customorder.refunds DISABLE TRIGGER refunds_guard;
INSERT INTO customorder.refunds (order_id, refund_id, aftersale_id, amount,
                                 refund_no, state, payment_ref, created_at,
                                 settled_at)
OVERRIDING SYSTEM VALUE
SELECT s.order_id, s.refund_id, s.aftersale_id, s.refund_amount,
       'CO' || s.order_id || '-' || s.refund_id, 'succeeded', 'before-1.1',
       s.closed_at, s.closed_at
  FROM (SELECT a.order_id, a.aftersale_id, a.refund_amount, a.closed_at,
               nextval(pg_get_serial_sequence('customorder.refunds', 'refund_id')) AS refund_id
          FROM (SELECT * FROM customorder.aftersales
                 WHERE state IN ('refunded', 'instant_refunded')
                   AND refund_amount IS NOT NULL
                 ORDER BY order_id, aftersale_id) a) s;
ALTER TABLE customorder.refunds ENABLE TRIGGER refunds_guard;

-- the roles 1.0 made actors read the new tables (row-filtered) and execute
-- the new functions of their kind
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.role FROM customorder.actors a
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT SELECT ON customorder.events, customorder.refunds TO %s', r.role);
    END LOOP;
    FOR r IN
        SELECT a.role, f.function
          FROM customorder.actors a
          JOIN customorder.actor_functions f ON f.kind OPERATOR(pg_catalog.=) a.kind
         WHERE f.function IN ('customorder.history(bigint)'::pg_catalog.regprocedure,
                              'customorder.register_consumer(text)'::pg_catalog.regprocedure,
                              'customorder.claim_events(text,integer)'::pg_catalog.regprocedure,
                              'customorder.ack_events(text,bigint[])'::pg_catalog.regprocedure,
                              'customorder.refund_succeeded(text,text)'::pg_catalog.regprocedure,
                              'customorder.refund_failed(text,text)'::pg_catalog.regprocedure,
                              'customorder.retry_refund(text)'::pg_catalog.regprocedure,
                              'customorder.refund_status(bigint)'::pg_catalog.regprocedure,
                              'customorder.verify(bigint)'::pg_catalog.regprocedure)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
                                  r.function, r.role);
    END LOOP;
END $$;

-- Returns (SPEC §8) and platform arbitration (§9).  The open states are
-- inserted before refunded, so that the open states stay one range of the
-- enum: aftersales_one_open_case's predicate can then name only labels 1.0
-- has (a label added in this transaction cannot be used by it yet).
ALTER TYPE customorder.aftersale_state ADD VALUE 'awaiting_return' BEFORE 'refunded';
ALTER TYPE customorder.aftersale_state ADD VALUE 'return_shipped' BEFORE 'refunded';
ALTER TYPE customorder.aftersale_state ADD VALUE 'arbitration' BEFORE 'refunded';
ALTER TYPE customorder.aftersale_state ADD VALUE 'upheld';

DROP INDEX customorder.aftersales_one_open_case;
CREATE UNIQUE INDEX aftersales_one_open_case
    ON customorder.aftersales (order_id)
    WHERE state > 'instant_refunded' AND state < 'refunded';

ALTER TABLE customorder.aftersales
    ADD COLUMN return_tracking_no text,
    ADD COLUMN return_shipped_at timestamptz,
    ADD COLUMN escalated_at timestamptz,
    ADD COLUMN escalation_note text,
    ADD COLUMN arbitration_note text;

ALTER TABLE customorder.evidence_bundles
    DROP CONSTRAINT evidence_bundles_purpose_check,
    ADD CONSTRAINT evidence_bundles_purpose_check
        CHECK (purpose IN ('production', 'rejection_proof',
                           'logistics_proof', 'buyer_supplement',
                           'return_proof', 'arbitration_merchant',
                           'arbitration_buyer'));

CREATE FUNCTION customorder.ship_return(aftersale_id bigint, tracking_no text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_ship_return' LANGUAGE C;
CREATE FUNCTION customorder.confirm_return(aftersale_id bigint)
    RETURNS text AS 'MODULE_PATHNAME', 'co_confirm_return' LANGUAGE C;
CREATE FUNCTION customorder.refuse_return(aftersale_id bigint, reason text, items jsonb)
    RETURNS text AS 'MODULE_PATHNAME', 'co_refuse_return' LANGUAGE C;
CREATE FUNCTION customorder.escalate(aftersale_id bigint, note text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_escalate' LANGUAGE C;
CREATE FUNCTION customorder.submit_arbitration_evidence(aftersale_id bigint, items jsonb)
    RETURNS text AS 'MODULE_PATHNAME', 'co_submit_arbitration_evidence' LANGUAGE C;
CREATE FUNCTION customorder.arbitrate(aftersale_id bigint, refund_amount numeric, note text)
    RETURNS text AS 'MODULE_PATHNAME', 'co_arbitrate' LANGUAGE C;

INSERT INTO customorder.actor_functions (kind, function) VALUES
    ('platform', 'customorder.arbitrate(bigint,numeric,text)'),
    ('merchant', 'customorder.confirm_return(bigint)'),
    ('merchant', 'customorder.refuse_return(bigint,text,jsonb)'),
    ('merchant', 'customorder.submit_arbitration_evidence(bigint,jsonb)'),
    ('buyer', 'customorder.ship_return(bigint,text)'),
    ('buyer', 'customorder.escalate(bigint,text)'),
    ('buyer', 'customorder.submit_arbitration_evidence(bigint,jsonb)');

-- run as the extension's owner, executed by their actors only; the roles
-- 1.0 made actors get the new functions of their kind
DO $$
DECLARE
    fns pg_catalog.regprocedure[] := ARRAY[
        'customorder.ship_return(bigint,text)',
        'customorder.confirm_return(bigint)',
        'customorder.refuse_return(bigint,text,jsonb)',
        'customorder.escalate(bigint,text)',
        'customorder.submit_arbitration_evidence(bigint,jsonb)',
        'customorder.arbitrate(bigint,numeric,text)']::pg_catalog.regprocedure[];
    fn pg_catalog.regprocedure;
    r record;
BEGIN
    FOREACH fn IN ARRAY fns
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', fn);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
    FOR r IN
        SELECT DISTINCT a.role, f.function
          FROM customorder.actors a
          JOIN customorder.actor_functions f ON f.kind OPERATOR(pg_catalog.=) a.kind
         WHERE f.function OPERATOR(pg_catalog.=) ANY (fns)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
                                  r.function, r.role);
    END LOOP;
END $$;

-------------------------------------------------------------------------------
-- Lookups by a key other than order_id (SPEC C1-C3: on Citus each is a
-- table of its own, distributed by that key, so a lookup reads one shard)
-------------------------------------------------------------------------------

-- H3: the order of each payment (see customorder--1.1.sql).  1.0 had no
-- pay_no: it starts empty.
CREATE TABLE customorder.payments (
    pay_no text PRIMARY KEY,
    order_id bigint NOT NULL
);

-- The order of each case (see customorder--1.1.sql), filled from 1.0's
-- cases
CREATE TABLE customorder.case_orders (
    aftersale_id bigint PRIMARY KEY,
    order_id bigint NOT NULL
);
INSERT INTO customorder.case_orders (aftersale_id, order_id)
SELECT a.aftersale_id, a.order_id FROM customorder.aftersales a;

SELECT pg_catalog.pg_extension_config_dump('customorder.payments', '');
SELECT pg_catalog.pg_extension_config_dump('customorder.case_orders', '');

-- the platform's to read; the buttons write them (SECURITY DEFINER)
DO $$
DECLARE
    t text;
    r record;
BEGIN
    FOREACH t IN ARRAY ARRAY['payments', 'case_orders']
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER TABLE customorder.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY platform_rows ON customorder.%I FOR SELECT '
            'USING (customorder.acts_as(''platform''))', t);
    END LOOP;
    FOR r IN SELECT a.role FROM customorder.actors a
             WHERE a.kind OPERATOR(pg_catalog.=) 'platform'
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT SELECT ON customorder.payments, customorder.case_orders TO %s', r.role);
    END LOOP;
END $$;

-------------------------------------------------------------------------------
-- Scale-out on Citus (SPEC §12, C1-C6)
-------------------------------------------------------------------------------

-- C2: a button's press on its way to the node that holds its order's shard
-- (src/citus.c).  Colocated with orders; the trigger declares the press in
-- the backend that will write the order and stores nothing, so the table
-- stays empty.  Only the buttons (as the extension's owner) insert here.
CREATE TABLE customorder.presses (
    order_id bigint NOT NULL,
    id bigint NOT NULL,
    machine text NOT NULL,
    action integer NOT NULL,
    button text NOT NULL,
    who integer NOT NULL,
    role text NOT NULL,
    clock text
);
CREATE FUNCTION customorder.press_arrives() RETURNS trigger
    AS 'MODULE_PATHNAME', 'co_press_arrives' LANGUAGE C;
CREATE TRIGGER presses_arrive
    BEFORE INSERT ON customorder.presses
    FOR EACH ROW EXECUTE FUNCTION customorder.press_arrives();
REVOKE ALL ON customorder.presses FROM PUBLIC;
REVOKE ALL ON FUNCTION customorder.press_arrives() FROM PUBLIC;

-- V3 on Citus: an event a raw change appends on a worker leaves a notice
-- there, which the node the client is connected to deletes and NOTIFYs
-- before it commits (src/citus_settings.c); a press notifies by itself.
-- Colocated with orders, empty between transactions; on one server unused.
CREATE TABLE customorder.notices (
    order_id bigint NOT NULL,
    token bigint NOT NULL
);
REVOKE ALL ON customorder.notices FROM PUBLIC;

-- C5: this session's customorder.clock, shop_id and buyer_id for the work a
-- worker does on its behalf (src/citus_settings.c).  The coordinator sends
-- it at the start of each worker connection's transaction, as the current
-- user: every actor runs it.  Like SET LOCAL of each, except that the clock
-- is left alone for a role that may not set it.
CREATE FUNCTION customorder.apply_settings(clock text, shop_id text, buyer_id text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'co_apply_settings' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION customorder.apply_settings(text, text, text) FROM PUBLIC;
INSERT INTO customorder.actor_functions (kind, function)
SELECT k, 'customorder.apply_settings(text,text,text)'::pg_catalog.regprocedure
FROM (VALUES ('platform'), ('merchant'), ('buyer')) AS kinds(k);
-- and the roles 1.0 made actors
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.role FROM customorder.actors a
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION customorder.apply_settings(text, text, text) TO %s',
            r.role);
    END LOOP;
END $$;

-- C4: the ids this node hands out.  The coordinator (Citus group 0) keeps
-- 1 .. 2^48 - 1; the node of group g draws from g * 2^48, the rule Citus
-- applies to the sequences it creates itself (the extension created its
-- own on every node).  Run on every node by distribute(); idempotent.
CREATE FUNCTION customorder.set_node_id_range(events_floor bigint DEFAULT 0)
    RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grp bigint;
    seq regclass;
    last bigint;
    top bigint;
    low bigint;
    high bigint;
    changed integer := 0;
BEGIN
    SELECT groupid INTO grp FROM pg_catalog.pg_dist_local_group;
    IF grp IS NULL THEN
        RETURN 0;
    END IF;
    -- each node's own range: Citus must not send this ALTER to the others
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    low := CASE WHEN grp OPERATOR(pg_catalog.=) 0 THEN 1
                ELSE grp OPERATOR(pg_catalog.*) 281474976710656 END;
    high := (grp OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.*) 281474976710656
            OPERATOR(pg_catalog.-) 1;
    -- events: every node draws from one range, the node's group in an id's
    -- low bits (src/events.c), at least events_floor (above the ids of the
    -- events a populated database had when distributed)
    seq := pg_catalog.pg_get_serial_sequence('customorder.events', 'event_id')::pg_catalog.regclass;
    SELECT COALESCE(s.last_value, 0), s.max_value INTO last, top
      FROM pg_catalog.pg_sequences s
     WHERE pg_catalog.format('%I.%I', s.schemaname, s.sequencename)::pg_catalog.regclass
           OPERATOR(pg_catalog.=) seq;
    IF top OPERATOR(pg_catalog.<>) 9007199254740991 THEN
        EXECUTE pg_catalog.format('ALTER SEQUENCE %s MINVALUE 1 MAXVALUE 9007199254740991', seq);
        changed := changed OPERATOR(pg_catalog.+) 1;
    END IF;
    IF last OPERATOR(pg_catalog.<) events_floor THEN
        EXECUTE pg_catalog.format('ALTER SEQUENCE %s RESTART WITH %s', seq, events_floor);
        changed := changed OPERATOR(pg_catalog.+) 1;
    END IF;
    FOR seq, last, top IN
        SELECT pg_catalog.format('%I.%I', s.schemaname, s.sequencename)::pg_catalog.regclass,
               COALESCE(s.last_value, 0), s.max_value
          FROM pg_catalog.pg_sequences s
         WHERE s.schemaname OPERATOR(pg_catalog.=) 'customorder'
           AND pg_catalog.format('%I.%I', s.schemaname, s.sequencename)::pg_catalog.regclass
               OPERATOR(pg_catalog.<>)
               pg_catalog.pg_get_serial_sequence('customorder.events', 'event_id')::pg_catalog.regclass
         ORDER BY 1
    LOOP
        IF top OPERATOR(pg_catalog.<>) high THEN
            EXECUTE pg_catalog.format('ALTER SEQUENCE %s MAXVALUE %s', seq, high);
            changed := changed OPERATOR(pg_catalog.+) 1;
        END IF;
        -- a worker starts its range; the coordinator keeps its ids
        IF last OPERATOR(pg_catalog.<) low THEN
            EXECUTE pg_catalog.format(
                'ALTER SEQUENCE %s MINVALUE %s START WITH %s RESTART WITH %s',
                seq, low, low, low);
            changed := changed OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;
    RETURN changed;
END $$;
REVOKE ALL ON FUNCTION customorder.set_node_id_range(bigint) FROM PUBLIC;

-- C1: distribute by order_id on a Citus cluster (superuser, coordinator).
-- Configuration tables become reference tables, order-scoped tables are
-- distributed by order_id and colocated with orders.  Each step is skipped
-- when it is done already, so a second call changes nothing.  C6: without
-- Citus it refuses and changes nothing.
CREATE FUNCTION customorder.distribute(shard_count integer DEFAULT 32)
    RETURNS text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    k text;
    vals text;
    libs text[];
    floor bigint;
    done integer := 0;
BEGIN
    IF shard_count IS NULL THEN
        RAISE EXCEPTION 'distribute: shard_count must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a shard count, or leave it out for 32.';
    END IF;
    IF shard_count OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'distribute: shard_count must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('shard_count is %s.', shard_count),
                  HINT = 'Pass a shard count of 1 or more (32 by default).';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname OPERATOR(pg_catalog.=) CURRENT_USER AND rolsuper) THEN
        RAISE EXCEPTION 'distribute: only a superuser may distribute customorder (rule C1)'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Connect to the coordinator as a superuser.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension
                    WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'distribute: Citus is not installed in this database (rule C6)'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Database %s has no extension citus; nothing was changed.',
                                             pg_catalog.current_database()),
                  HINT = 'Install Citus, preload it (shared_preload_libraries), CREATE EXTENSION citus, add the workers with citus_add_node(), then call distribute() again.';
    END IF;

    -- triggers judge every change on the shards (C2); foreign keys from
    -- the order-scoped tables to the configuration tables stay
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM pg_catalog.set_config('citus.enable_local_reference_table_foreign_keys', 'off', true);

    -- The rows a populated database already holds are copied into the new
    -- shards by COPY on the workers, where the rule triggers would judge
    -- them as new rows ("an order starts in state paid"): the copy runs
    -- with session_replication_role = replica, on this node and, as a
    -- SET LOCAL that Citus passes on, on every worker connection of this
    -- transaction (Citus passes one on from a DO block, not from a
    -- function's own statement); origin again before actors are written
    -- below (their trigger grants the kinds' functions).
    PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
    DO 'BEGIN SET LOCAL session_replication_role = replica; END';

    FOREACH t IN ARRAY ARRAY['categories', 'shops', 'custom_approvals', 'products',
                             'scripts', 'actors', 'actor_functions', 'consumers']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid OPERATOR(pg_catalog.=)
                              pg_catalog.format('customorder.%I', t)::pg_catalog.regclass) THEN
            PERFORM pg_catalog.create_reference_table(pg_catalog.format('customorder.%I', t));
            done := done OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ARRAY['orders', 'evidence_bundles', 'evidence_items',
                             'aftersales', 'communications', 'events',
                             'deliveries', 'refunds', 'presses', 'notices']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid OPERATOR(pg_catalog.=)
                              pg_catalog.format('customorder.%I', t)::pg_catalog.regclass) THEN
            IF t OPERATOR(pg_catalog.=) 'orders' THEN
                PERFORM pg_catalog.create_distributed_table('customorder.orders', 'order_id',
                                                            shard_count => shard_count);
            ELSE
                PERFORM pg_catalog.create_distributed_table(pg_catalog.format('customorder.%I', t),
                                                            'order_id',
                                                            colocate_with => 'customorder.orders');
            END IF;
            done := done OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;

    -- the lookups by another key: each its own table, distributed by that
    -- key, so a lookup reads one shard (payments by pay_no, H3; case_orders
    -- by aftersale_id, for the after-sale buttons)
    FOR t, k IN VALUES ('payments', 'pay_no'), ('case_orders', 'aftersale_id')
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid OPERATOR(pg_catalog.=)
                              pg_catalog.format('customorder.%I', t)::pg_catalog.regclass) THEN
            PERFORM pg_catalog.create_distributed_table(pg_catalog.format('customorder.%I', t),
                                                        k, colocate_with => 'none',
                                                        shard_count => shard_count);
            done := done OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;

    DO 'BEGIN SET LOCAL session_replication_role = origin; END';

    -- Citus copies a table's rows to its placements in binary, where a
    -- regrole or regprocedure is this node's oid, which names another role
    -- or function, or none, on another node.  actors and actor_functions are
    -- written again by name, which every node resolves to its own (a node
    -- added since too); rewriting actors runs actors_grants_follow on every
    -- placement: the function grants of the roles granted before
    SELECT pg_catalog.string_agg(pg_catalog.format('(%L, %L)', f.kind, f.function), ', ')
      INTO vals FROM customorder.actor_functions f;
    TRUNCATE customorder.actor_functions;
    IF vals IS NOT NULL THEN
        EXECUTE 'INSERT INTO customorder.actor_functions (kind, function) VALUES ' OPERATOR(pg_catalog.||) vals;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('(%L, %L, %L)', a.role, a.kind, a.ids), ', ')
      INTO vals FROM customorder.actors a;
    TRUNCATE customorder.actors;
    IF vals IS NOT NULL THEN
        EXECUTE 'INSERT INTO customorder.actors (role, kind, ids) VALUES ' OPERATOR(pg_catalog.||) vals;
    END IF;

    -- Citus 13.2.2 crashes (SIGSEGV in CheckAndBuildDelayedFastPathPlan,
    -- which takes the first of no tasks) planning a statement on a table
    -- with triggers whose WHERE clause names its distribution column and is
    -- false, e.g. UPDATE customorder.orders ... WHERE order_id = 2 AND
    -- false, on the coordinator as on a worker.  Its local fast-path
    -- optimization off in this database avoids that plan: ALTER DATABASE,
    -- which Citus propagates to every node (before set_node_id_range turns
    -- propagation off; a worker refuses it sent there directly), and this
    -- session.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.enable_local_fast_path_query_optimization = off',
                              pg_catalog.current_database());
    PERFORM pg_catalog.set_config('citus.enable_local_fast_path_query_optimization', 'off', false);

    -- C5: the session's customorder.clock, shop_id and buyer_id reach the
    -- workers through this library's executor hook (src/citus_settings.c),
    -- which must be loaded before a session's first statement: a session
    -- that only reads calls none of its functions on this node.  The
    -- libraries the database preloads already are kept; set on every call,
    -- so that Citus passes it on to a node added since.
    SELECT pg_catalog.array_agg(l) INTO libs
      FROM pg_catalog.unnest(pg_catalog.string_to_array(
               pg_catalog.replace(pg_catalog.current_setting('session_preload_libraries'), ' ', ''),
               ',')) l
     WHERE l OPERATOR(pg_catalog.<>) '';
    IF NOT ('customorder' OPERATOR(pg_catalog.=) ANY (COALESCE(libs, '{}'))) THEN
        libs := pg_catalog.array_append(libs, 'customorder');
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(l), ', ') INTO vals
      FROM pg_catalog.unnest(libs) l;
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET session_preload_libraries = ',
                              pg_catalog.current_database()) OPERATOR(pg_catalog.||) vals;

    -- C4: every node its own range of ids, and event ids above every event's
    -- so far (last: it turns DDL propagation off for the rest of the
    -- transaction)
    SELECT COALESCE(pg_catalog.max(e.event_id), 0) OPERATOR(pg_catalog./) 1024 OPERATOR(pg_catalog.+) 1
      INTO floor FROM customorder.events e;
    PERFORM customorder.set_node_id_range(floor);
    PERFORM pg_catalog.run_command_on_workers(
        pg_catalog.format('SELECT customorder.set_node_id_range(%s)', floor));

    RETURN pg_catalog.format('customorder is distributed by order_id (%s tables distributed now)', done);
END $$;
REVOKE ALL ON FUNCTION customorder.distribute(integer) FROM PUBLIC;
