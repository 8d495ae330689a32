-- test/upgrade/schema.sql: the extension's schema as sorted lines of text,
-- to diff a fresh CREATE EXTENSION against an updated older version.  Names
-- only, never OIDs; everything in schema customorder and everything that is
-- a member of the extension.

\set ON_ERROR_STOP 1
\set QUIET on
\pset format unaligned
\pset tuples_only on

WITH ext AS (
    SELECT * FROM pg_extension WHERE extname = 'customorder'
), rels AS (
    SELECT c.* FROM pg_class c WHERE c.relnamespace = 'customorder'::regnamespace
), acl(obj, acl) AS (
    SELECT 'schema customorder', nspacl FROM pg_namespace WHERE nspname = 'customorder'
    UNION ALL SELECT 'relation ' || relname, relacl FROM rels WHERE relkind <> 'i'
    UNION ALL SELECT 'column ' || c.relname || '.' || a.attname, a.attacl
      FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
    UNION ALL SELECT 'function ' || p.oid::regprocedure, p.proacl
      FROM pg_proc p WHERE p.pronamespace = 'customorder'::regnamespace
)
SELECT line FROM (
    -- the extension, its configuration tables (pg_dump) and its members
    SELECT format('extension %s %s relocatable=%s schema=%s owner=%s',
                  extname, extversion, extrelocatable, extnamespace::regnamespace,
                  extowner::regrole) AS line FROM ext
    UNION ALL
    SELECT format('config %s where %L', cfg::regclass, cond)
      FROM ext, unnest(extconfig, extcondition) AS u(cfg, cond)
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
      FROM ext JOIN pg_depend d
        ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
       AND d.deptype = 'e'
    -- types
    UNION ALL
    SELECT format('type %s kind=%s labels=%s', t.typname, t.typtype,
                  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                     FROM pg_enum e WHERE e.enumtypid = t.oid))
      FROM pg_type t
     WHERE t.typnamespace = 'customorder'::regnamespace
       AND t.typtype <> 'c' AND t.typcategory <> 'A'   -- row and array types go with their owner
    -- relations, columns (in their order), constraints, indexes
    UNION ALL
    SELECT format('relation %s kind=%s persistence=%s options=%s rls=%s force_rls=%s owner=%s',
                  relname, relkind, relpersistence, reloptions, relrowsecurity,
                  relforcerowsecurity, relowner::regrole)
      FROM rels
    UNION ALL
    SELECT format('column %s #%s %s %s notnull=%s identity=%s generated=%s default=%s collation=%s',
                  c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  a.attidentity, a.attgenerated, pg_get_expr(ad.adbin, ad.adrelid),
                  a.attcollation::regcollation)
      FROM rels c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT format('constraint %s %s %s deferrable=%s validated=%s', conrelid::regclass,
                  conname, pg_get_constraintdef(oid), condeferrable, convalidated)
      FROM pg_constraint WHERE connamespace = 'customorder'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL
    SELECT format('view %s %s', relname, pg_get_viewdef(oid))
      FROM rels WHERE relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence %s %s start=%s inc=%s min=%s max=%s cache=%s cycle=%s',
                  sequencename, data_type, start_value, increment_by, min_value,
                  max_value, cache_size, cycle)
      FROM pg_sequences WHERE schemaname = 'customorder'
    -- triggers, policies, functions, privileges, comments
    UNION ALL
    SELECT format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
      FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s.%s %s %s roles=%s using=%s check=%s', tablename, policyname,
                  permissive, cmd, roles, qual, with_check)
      FROM pg_policies WHERE schemaname = 'customorder'
    UNION ALL
    SELECT format('function %s owner=%s%s', p.oid::regprocedure, p.proowner::regrole,
                  E'\n' || pg_get_functiondef(p.oid))
      FROM pg_proc p WHERE p.pronamespace = 'customorder'::regnamespace AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT format('privileges %s %s', obj,
                  (SELECT array_agg(x::text ORDER BY x::text) FROM unnest(acl) x))
      FROM acl
    UNION ALL
    SELECT format('comment %s %L', pg_describe_object(d.classoid, d.objoid, d.objsubid),
                  d.description)
      FROM pg_description d JOIN ext ON true
     WHERE EXISTS (SELECT FROM pg_depend x
                    WHERE x.refclassid = 'pg_extension'::regclass AND x.refobjid = ext.oid
                      AND x.deptype = 'e' AND x.classid = d.classoid AND x.objid = d.objoid)
    -- the rows the install script seeds (the fill leaves them as they are)
    UNION ALL
    SELECT format('seeded script %s %s %s', situation, label, md5(script))
      FROM customorder.scripts
    UNION ALL
    SELECT format('seeded actor_function %s %s', kind, function)
      FROM customorder.actor_functions
) s
ORDER BY line COLLATE "C";
