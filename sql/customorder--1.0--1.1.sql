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
 *   idempotent per payment (orders.pay_no, unique).
 * - H2: orders.last_stamp_at, the latest stamp of the order and its cases,
 *   filled from the 1.0 stamps (with the triggers off: it is theirs).
 * - H4: accept_refund_amount(aftersale_id, amount) replaces the one-argument
 *   form (dropped; its C entry point stays for 1.0 databases, U2).
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

-- H3, H2: the payment's id and the latest stamp
ALTER TABLE customorder.orders
    ADD COLUMN pay_no text UNIQUE,
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
