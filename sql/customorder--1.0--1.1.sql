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
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION customorder UPDATE TO '1.1'" to load this file. \quit

ALTER TABLE customorder.orders SET (fillfactor = 80);
ALTER TABLE customorder.evidence_bundles SET (fillfactor = 80);
ALTER TABLE customorder.aftersales SET (fillfactor = 80);
