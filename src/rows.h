/*-------------------------------------------------------------------------
 *
 * rows.h
 *	  The row-access layer: for each table the rules read, its rule columns
 *	  in one fixed order, their attribute numbers (cached, forgotten on a
 *	  relcache change), one read of a trigger tuple, "did this column
 *	  change", and fetch by key with or without a row lock.
 *
 *	  Order-scoped rows are keyed (order_id, id): a key's first column is
 *	  always order_id, so a distributed install routes each fetch to the
 *	  order's shard.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_ROWS_H
#define CUSTOMORDER_ROWS_H

#include "customorder.h"

#include "access/htup.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

#define CO_MAX_COLS 32

/*
 * A table as the rules see it.  The static part names the columns; the
 * cache part is filled on first use in a backend.
 */
typedef struct CoTable
{
	const char *relname;		/* in schema customorder */
	const char *const *cols;	/* rule columns, in the C enum's order */
	int			ncols;
	int			nkeys;			/* cols[0 .. nkeys-1] are the key */
	const char *what;			/* "order", "after-sale case", ... */
	int			nrequired;		/* 0, or cols[nrequired ..] are 1.1's: a 1.0
								 * database (U2) lacks them, they read NULL */

	/* cache: attribute numbers and types of cols[] in the relation */
	Oid			relid;
	AttrNumber	attnums[CO_MAX_COLS];
	bool		byval[CO_MAX_COLS];
	int16		typlen[CO_MAX_COLS];
	int32		typmod[CO_MAX_COLS];
	uint32		missing;		/* bits of the optional cols[] it lacks */
	SPIPlanPtr	fetch_plan[2];	/* [lock] */
	uint32		fetch_missing[2];	/* "missing" when the plan was made */
} CoTable;

/* A row's rule columns as Datums; values may point into a tuple */
typedef struct CoRowData
{
	Datum		v[CO_MAX_COLS];
	bool		isnull[CO_MAX_COLS];
} CoRowData;

extern CoTable co_orders_table;
extern CoTable co_cases_table;

/*
 * A table the extension appends rows to without the executor (append.c):
 * the columns it writes, by name and type.  The cache part says whether
 * the relation is usable: exactly those columns and nothing else an
 * INSERT would enforce or fire.
 */
typedef struct CoAppendTable
{
	const char *const *cols;
	const Oid  *types;
	int			ncols;
	int			insert_options; /* table_tuple_insert's, e.g. SKIP_FSM */

	/* cache for relation relid, forgotten on a relcache change */
	Oid			relid;
	bool		direct;			/* usable */
	AttrNumber	attnums[CO_MAX_COLS];
} CoAppendTable;

/* A usable relation opened for appending: its indexes and a slot */
typedef struct CoAppender
{
	CoAppendTable *table;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
} CoAppender;

extern void co_remember_relid(Oid *relid);
extern void co_table_map(CoTable *table, Relation rel);
extern void co_row_read(CoTable *table, Relation rel, HeapTuple tuple,
						Datum *values, bool *isnull);
extern bool co_row_changed(const CoTable *table, int col,
						   const Datum *av, const bool *an,
						   const Datum *bv, const bool *bn);
extern HeapTuple co_row_modify(const CoTable *table, Relation rel,
							   HeapTuple tuple, int n, const int *cols,
							   const Datum *values, const bool *isnull);
extern bool co_row_has(CoTable *table, int col);
extern bool co_row_fetch(CoTable *table, const Datum *key, bool lock,
						 Datum *values, bool *isnull);

extern bool co_append_usable(CoAppendTable *table, Relation rel);
extern void co_append_begin(CoAppendTable *table, Relation rel,
							EState *estate, CoAppender *ap);
extern void co_append_row(CoAppender *ap, EState *estate,
						  const Datum *values, const bool *nulls);
extern void co_append_end(CoAppender *ap);

#endif							/* CUSTOMORDER_ROWS_H */
