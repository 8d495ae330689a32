/*-------------------------------------------------------------------------
 *
 * append.c
 *	  Appending rows to a table without the executor (see rows.h): the
 *	  events and their deliveries (events.c) are written once per change
 *	  by the triggers, and a planned INSERT through SPI costs most of a
 *	  row's price in executor start-up alone (issue 12).
 *
 *	  The direct path writes what the executor would write for a plain
 *	  INSERT of every column: the tuple through the table AM, then an
 *	  entry in every index the relation has, by ExecInsertIndexTuples
 *	  (unique checks, expression and partial indexes, exclusion constraints,
 *	  indexes being built concurrently), and NOT NULL is checked.  It is
 *	  taken only while the relation has nothing else an INSERT would
 *	  enforce or fire: no INSERT trigger (a foreign key, a deferrable
 *	  constraint, a user's trigger), no rule, no CHECK constraint, no column
 *	  beyond those the caller writes (a default or a generated value), and
 *	  every column of the type the caller writes.  Otherwise
 *	  co_append_usable() says no and the caller takes its SQL path, which
 *	  the executor checks in full.
 *
 *	  Privileges and row-level security are not checked: the rows are the
 *	  extension's record of a change its trigger already judged, written
 *	  whoever made the change.  Readers are not affected: the table's
 *	  grants and SELECT policies apply to them as before.
 *
 *-------------------------------------------------------------------------
 */
#include "rows.h"

#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/*
 * Does "rel" have exactly the shape the direct append writes (see the file
 * header)?  The answer is cached until the relation changes.
 */
bool
co_append_usable(CoAppendTable *table, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TriggerDesc *trig = rel->trigdesc;
	int			found = 0;
	int			i,
				c;

	if (table->relid == RelationGetRelid(rel))
		return table->direct;
	Assert(table->ncols <= CO_MAX_COLS);
	co_remember_relid(&table->relid);
	table->direct = false;
	table->relid = RelationGetRelid(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhasrules)
		return false;
	if (trig && (trig->trig_insert_before_row || trig->trig_insert_after_row ||
				 trig->trig_insert_instead_row ||
				 trig->trig_insert_before_statement ||
				 trig->trig_insert_after_statement ||
				 trig->trig_insert_new_table))
		return false;
	if (desc->constr && (desc->constr->num_check > 0 ||
						 desc->constr->has_generated_stored))
		return false;
	for (c = 0; c < table->ncols; c++)
		table->attnums[c] = InvalidAttrNumber;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		for (c = 0; c < table->ncols; c++)
			if (strcmp(NameStr(att->attname), table->cols[c]) == 0)
				break;
		/* a column we do not write, or one of another type */
		if (c == table->ncols || att->atttypid != table->types[c])
			return false;
		table->attnums[c] = att->attnum;
		found++;
	}
	table->direct = found == table->ncols;
	return table->direct;
}

/*
 * Open "rel"'s indexes for appending rows of "table" (usable, see above)
 * in "estate".
 */
void
co_append_begin(CoAppendTable *table, Relation rel, EState *estate,
				CoAppender *ap)
{
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);

	Assert(table->direct);
	ap->table = table;
	ap->rri = makeNode(ResultRelInfo);
	ap->rri->ri_RelationDesc = rel;
	ExecOpenIndices(ap->rri, false);
	ap->slot = table_slot_create(rel, NULL);
	MemoryContextSwitchTo(old);
}

/*
 * Append one row: values[c], nulls[c] are the table's cols[c].  NOT NULL
 * is checked as the executor would (23502).
 */
void
co_append_row(CoAppender *ap, EState *estate, const Datum *values,
			  const bool *nulls)
{
	Relation	rel = ap->rri->ri_RelationDesc;
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = ap->slot;
	List	   *recheck;
	int			i,
				c;

	ExecClearTuple(slot);
	for (i = 0; i < desc->natts; i++)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	for (c = 0; c < ap->table->ncols; c++)
	{
		AttrNumber	attnum = ap->table->attnums[c];

		if (nulls[c] && TupleDescAttr(desc, attnum - 1)->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							ap->table->cols[c], RelationGetRelationName(rel)),
					 errtablecol(rel, attnum)));
		slot->tts_values[attnum - 1] = values[c];
		slot->tts_isnull[attnum - 1] = nulls[c];
	}
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(rel, slot, GetCurrentCommandId(true),
					   ap->table->insert_options, NULL);
	recheck = ExecInsertIndexTuples(ap->rri, slot, estate, false, false,
									NULL, NIL);
	/* a deferred constraint has its trigger: the table was not usable */
	if (recheck != NIL)
		elog(ERROR, "customorder: a deferred constraint on %s",
			 RelationGetRelationName(rel));
}

/* Close what co_append_begin opened (the relation stays the caller's) */
void
co_append_end(CoAppender *ap)
{
	ExecDropSingleTupleTableSlot(ap->slot);
	ExecCloseIndices(ap->rri);
}
