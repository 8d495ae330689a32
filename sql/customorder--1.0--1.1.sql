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
