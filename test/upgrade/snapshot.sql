-- test/upgrade/snapshot.sql: public.upgrade_snapshot(), one row per table and
-- identity sequence of the extension: how many rows, and an md5 of them all.
-- The columns are those the object has when this file runs (before the
-- update), so columns a later version adds do not count as a change, while a
-- lost or altered value of a 1.0 column does.  actor_functions is the
-- extension's own seeded list of what each actor may execute, which 1.1
-- changes on purpose (H3, H4); schema.sql compares it with a fresh install's.

\set ON_ERROR_STOP 1

CREATE TABLE public.upgrade_columns AS
SELECT c.relname::text AS tbl,
       CASE c.relkind
           WHEN 'S' THEN '{last_value,is_called}'::text[]
           ELSE (SELECT array_agg(a.attname::text ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
       END AS cols
  FROM pg_class c
 WHERE c.relnamespace = 'customorder'::regnamespace AND c.relkind IN ('r', 'S')
   AND c.relname <> 'actor_functions';

-- The functions 1.0 has: rows of actor_functions that name functions a
-- later version adds are new rows, not a change
CREATE TABLE public.upgrade_functions AS
SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'customorder'::regnamespace;

CREATE FUNCTION public.upgrade_snapshot(OUT tbl text, OUT n bigint, OUT md5 text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    u record;
BEGIN
    FOR u IN SELECT * FROM public.upgrade_columns c ORDER BY c.tbl LOOP
        tbl := u.tbl;
        EXECUTE format(
            'SELECT count(*), md5(coalesce(string_agg(r, E''\n'' ORDER BY r COLLATE "C"), '''')) '
            'FROM (SELECT ROW(%s)::text AS r FROM customorder.%I t%s) s',
            (SELECT string_agg(format('t.%I', c), ', ') FROM unnest(u.cols) c), u.tbl,
            CASE u.tbl WHEN 'actor_functions'
                THEN ' WHERE t.function::oid IN (SELECT oid FROM public.upgrade_functions)'
                ELSE '' END)
            INTO n, md5;
        RETURN NEXT;
    END LOOP;
END $$;
