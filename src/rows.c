/*-------------------------------------------------------------------------
 *
 * rows.c
 *	  The row-access layer (see rows.h): column maps, tuple reads, "changed?"
 *	  and fetch by key, written once for every table the rules read.
 *
 *-------------------------------------------------------------------------
 */
#include "rows.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/*
 * Every cached relation OID (a mapped table's, an append target's), so one
 * relcache callback can forget them
 */
static Oid *cached_relids[16];
static int	n_cached_relids = 0;
static bool callback_registered = false;

/*
 * A relation changed (ALTER TABLE, CREATE INDEX, CREATE TRIGGER, a rename,
 * DROP/CREATE EXTENSION): forget what was cached for it.  InvalidOid means
 * "every relation".
 */
static void
forget_maps(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < n_cached_relids; i++)
		if (relid == InvalidOid || *cached_relids[i] == relid)
			*cached_relids[i] = InvalidOid;
}

/*
 * Have *relid reset to InvalidOid whenever its relation changes: whatever
 * the caller cached along with it is then rebuilt from the relation.
 */
void
co_remember_relid(Oid *relid)
{
	int			i;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_maps, (Datum) 0);
		callback_registered = true;
	}
	for (i = 0; i < n_cached_relids; i++)
		if (cached_relids[i] == relid)
			return;
	if (n_cached_relids >= lengthof(cached_relids))
		elog(ERROR, "customorder: too many cached relations");
	cached_relids[n_cached_relids++] = relid;
}

/*
 * Map the table's rule columns onto "rel"'s attributes; a no-op while the
 * map is valid for this relation.
 */
void
co_table_map(CoTable *table, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	if (table->relid == RelationGetRelid(rel))
		return;
	Assert(table->ncols <= CO_MAX_COLS);
	co_remember_relid(&table->relid);
	table->missing = 0;
	for (i = 0; i < table->ncols; i++)
	{
		Form_pg_attribute att;
		int			attnum = SPI_fnumber(tupdesc, table->cols[i]);

		if (attnum <= 0 && table->nrequired > 0 && i >= table->nrequired)
		{
			/* a 1.0 database, not yet updated: the column reads NULL */
			table->missing |= ((uint32) 1) << i;
			table->attnums[i] = InvalidAttrNumber;
			table->byval[i] = true;
			table->typlen[i] = sizeof(Datum);
			table->typmod[i] = -1;
			continue;
		}
		if (attnum <= 0)
			elog(ERROR, "column \"%s\" of customorder.%s is missing",
				 table->cols[i], table->relname);
		att = TupleDescAttr(tupdesc, attnum - 1);
		table->attnums[i] = attnum;
		table->byval[i] = att->attbyval;
		table->typlen[i] = att->attlen;
		table->typmod[i] = att->atttypmod;
	}
	table->relid = RelationGetRelid(rel);
}

/*
 * Read a trigger tuple's rule columns.  The tuple is deformed once (a
 * heap_getattr per column would walk it again after every variable-width
 * column); the values point into the tuple.
 */
void
co_row_read(CoTable *table, Relation rel, HeapTuple tuple,
			Datum *values, bool *isnull)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Datum	   *all_values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *all_isnull = palloc(tupdesc->natts * sizeof(bool));
	int			i;

	co_table_map(table, rel);
	heap_deform_tuple(tuple, tupdesc, all_values, all_isnull);
	for (i = 0; i < table->ncols; i++)
	{
		if (table->attnums[i] == InvalidAttrNumber)
		{
			values[i] = (Datum) 0;
			isnull[i] = true;
			continue;
		}
		values[i] = all_values[table->attnums[i] - 1];
		isnull[i] = all_isnull[table->attnums[i] - 1];
	}
	pfree(all_values);
	pfree(all_isnull);
}

/* Do two reads of a row differ in rule column "col"?  (The table is mapped.) */
bool
co_row_changed(const CoTable *table, int col, const Datum *av, const bool *an,
			   const Datum *bv, const bool *bn)
{
	if (an[col] != bn[col])
		return true;
	if (an[col])
		return false;
	return !datumIsEqual(av[col], bv[col], table->byval[col],
						 table->typlen[col]);
}

/* Set rule columns of a trigger tuple (the table is mapped) */
HeapTuple
co_row_modify(const CoTable *table, Relation rel, HeapTuple tuple, int n,
			  const int *cols, const Datum *values, const bool *isnull)
{
	int			attnums[CO_MAX_COLS];
	Datum		vals[CO_MAX_COLS];
	bool		nulls[CO_MAX_COLS];
	int			m = 0;
	int			i;

	/* a column a 1.0 database lacks (U2) is not written */
	for (i = 0; i < n; i++)
		if (table->attnums[cols[i]] != InvalidAttrNumber)
		{
			attnums[m] = table->attnums[cols[i]];
			vals[m] = values[i];
			nulls[m++] = isnull[i];
		}
	return heap_modify_tuple_by_cols(tuple, RelationGetDescr(rel), m, attnums,
									 vals, nulls);
}

/* Does the table have rule column "col"?  (Not in a 1.0 database, U2.) */
bool
co_row_has(CoTable *table, int col)
{
	if (!OidIsValid(table->relid))
	{
		Relation	rel = table_open(get_relname_relid(table->relname,
													   get_namespace_oid(CO_SCHEMA, false)),
									 AccessShareLock);

		co_table_map(table, rel);
		table_close(rel, AccessShareLock);
	}
	return table->attnums[col] != InvalidAttrNumber;
}

/* The kept plan that selects the rule columns by key, FOR UPDATE if "lock" */
static SPIPlanPtr
fetch_plan(CoTable *table, bool lock)
{
	StringInfoData sql;
	Oid			argtypes[CO_MAX_COLS];
	int			i;

	if (table->relid == InvalidOid)
	{
		Relation	rel = table_open(get_relname_relid(table->relname,
													   get_namespace_oid("customorder", false)),
									 AccessShareLock);

		co_table_map(table, rel);
		table_close(rel, AccessShareLock);
	}
	/* made before ALTER EXTENSION UPDATE added a column: make it again */
	if (table->fetch_plan[lock] != NULL &&
		table->fetch_missing[lock] != table->missing)
	{
		SPI_freeplan(table->fetch_plan[lock]);
		table->fetch_plan[lock] = NULL;
	}
	if (table->fetch_plan[lock] != NULL)
		return table->fetch_plan[lock];
	table->fetch_missing[lock] = table->missing;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (i = 0; i < table->ncols; i++)
		appendStringInfo(&sql, (table->missing & (((uint32) 1) << i)) ?
						 "%sNULL" : "%st.%s", i ? ", " : "", table->cols[i]);
	appendStringInfo(&sql, " FROM customorder.%s t WHERE ", table->relname);
	for (i = 0; i < table->nkeys; i++)
	{
		appendStringInfo(&sql, "%st.%s OPERATOR(pg_catalog.=) $%d",
						 i ? " AND " : "", table->cols[i], i + 1);
		argtypes[i] = INT8OID;
	}
	if (lock)
		appendStringInfoString(&sql, " FOR UPDATE");
	co_prepare(&table->fetch_plan[lock], sql.data, table->nkeys, argtypes);
	pfree(sql.data);
	return table->fetch_plan[lock];
}

/*
 * Fetch a row by its key (bigints), locked FOR UPDATE when asked.  The
 * values are copied into the caller's memory context.  Returns false when
 * there is no such row.
 */
bool
co_row_fetch(CoTable *table, const Datum *key, bool lock, Datum *values,
			 bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		found;

	co_connect();
	co_execute(fetch_plan(table, lock), key, NULL, !lock, 1);
	found = SPI_processed == 1;
	if (found)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);
		HeapTuple	copy = heap_copytuple(SPI_tuptable->vals[0]);
		Datum	   *all_values = palloc(table->ncols * sizeof(Datum));

		heap_deform_tuple(copy, SPI_tuptable->tupdesc, all_values, isnull);
		memcpy(values, all_values, table->ncols * sizeof(Datum));
		pfree(all_values);
		MemoryContextSwitchTo(spi);
	}
	co_finish();
	return found;
}
