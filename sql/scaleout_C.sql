--
-- scaleout_C: SPEC §12 on one server.  distribute() needs Citus (C6); the
-- citus suite (test/citus/run) runs the rest on a real cluster.
--
SET search_path = customorder, public;

-- C6: without Citus it refuses, says why and what to do, and changes nothing
SELECT count(*) AS sequences_before FROM pg_sequences
 WHERE schemaname = 'customorder' AND max_value = 9223372036854775807;
SELECT * FROM err_full('SELECT customorder.distribute()');
SELECT * FROM err_full('SELECT customorder.distribute(NULL)');
SELECT * FROM err_full('SELECT customorder.distribute(0)');
SELECT count(*) AS sequences_after FROM pg_sequences
 WHERE schemaname = 'customorder' AND max_value = 9223372036854775807;
SELECT extname FROM pg_extension WHERE extname = 'citus';

-- only a superuser distributes, even one granted the function
CREATE ROLE regress_co_scaleout;
GRANT USAGE ON SCHEMA customorder TO regress_co_scaleout;
GRANT EXECUTE ON FUNCTION customorder.distribute(integer) TO regress_co_scaleout;
SET ROLE regress_co_scaleout;
SELECT * FROM err_full('SELECT customorder.distribute()');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION customorder.distribute(integer) FROM regress_co_scaleout;
REVOKE USAGE ON SCHEMA customorder FROM regress_co_scaleout;
DROP ROLE regress_co_scaleout;

-- C2: presses carry a button's intent to another node; nobody else writes
-- them, and the table stays empty
SELECT count(*) AS presses FROM presses;
CREATE ROLE regress_co_scaleout;
GRANT USAGE ON SCHEMA customorder TO regress_co_scaleout;
SET ROLE regress_co_scaleout;
SELECT err($$INSERT INTO customorder.presses VALUES (1, 1, 'order', 0, 'ship', 2, 'x', NULL)$$);
RESET ROLE;
REVOKE USAGE ON SCHEMA customorder FROM regress_co_scaleout;
DROP ROLE regress_co_scaleout;
