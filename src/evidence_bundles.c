/*-------------------------------------------------------------------------
 *
 * evidence_bundles.c
 *	  Evidence bundles (rules E1, E3, S5): storing a button's upload as a
 *	  bundle, the trigger on evidence_bundles, and TRUNCATE refused on both
 *	  evidence tables.
 *
 *	  Every upload (production start, rejection proof, logistics proof, the
 *	  buyer's supplement) is a bundle: created open, filled with items (see
 *	  evidence_items.c), then submitted (sealed).  A submitted bundle is
 *	  immutable; only the platform's review verdict may be written, once.
 *
 *-------------------------------------------------------------------------
 */
#include "evidence.h"
#include "machines.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_bundle_trigger);
PG_FUNCTION_INFO_V1(co_evidence_truncate_trigger);

static const char *const bundle_cols[BC_COUNT] = {
	[BC_ORDER_ID] = "order_id",
	[BC_BUNDLE_ID] = "bundle_id",
	[BC_PURPOSE] = "purpose",
	[BC_AFTERSALE_ID] = "aftersale_id",
	[BC_CREATED_AT] = "created_at",
	[BC_SUBMITTED_AT] = "submitted_at",
	[BC_IMAGE_COUNT] = "image_count",
	[BC_VIDEO_COUNT] = "video_count",
	[BC_REVIEW_STATE] = "review_state",
	[BC_REVIEW_NOTE] = "review_note",
	[BC_REVIEWED_AT] = "reviewed_at",
};

CoTable		co_bundles_table = {
	.relname = "evidence_bundles",
	.cols = bundle_cols,
	.ncols = BC_COUNT,
	.nkeys = 2,
	.what = "evidence bundle",
};

/*
 * Store a bundle: create it open, insert each item (the item trigger judges
 * each), submit it (the bundle trigger judges the whole).  Returns the
 * bundle id.  The caller has locked the order.  The items are parsed before
 * anything is written, so a malformed upload does not use up a bundle id.
 */
int64
co_evidence_store(int64 order_id, const char *purpose, Datum aftersale_id,
				  bool aftersale_isnull, Jsonb *items, const char *button)
{
	static SPIPlanPtr plan_bundle = NULL;
	static SPIPlanPtr plan_seal = NULL;
	Oid			bundle_types[3] = {INT8OID, TEXTOID, INT8OID};
	Oid			seal_types[2] = {INT8OID, INT8OID};
	Datum		values[3];
	char		nulls[3];
	bool		isnull;
	int64		bundle_id;
	List	   *parsed = co_evidence_parse_items(items, button);

	co_connect();
	co_upload_send(order_id, button);	/* on Citus: clock and button (C5) */
	plan_bundle = co_prepare(&plan_bundle,
							 "INSERT INTO customorder.evidence_bundles (order_id, purpose, aftersale_id) "
							 "VALUES ($1, $2, $3) RETURNING bundle_id",
							 3, bundle_types);
	values[0] = Int64GetDatum(order_id);
	values[1] = CStringGetTextDatum(purpose);
	values[2] = aftersale_id;
	memset(nulls, ' ', sizeof(nulls));
	nulls[2] = aftersale_isnull ? 'n' : ' ';
	co_execute(plan_bundle, values, nulls, false, 0);
	bundle_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));

	co_evidence_insert_items(order_id, bundle_id, parsed, button);

	plan_seal = co_prepare(&plan_seal,
						   "UPDATE customorder.evidence_bundles b "
						   "SET submitted_at = pg_catalog.now() "
						   "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
						   "AND b.bundle_id OPERATOR(pg_catalog.=) $2",
						   2, seal_types);
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(bundle_id);
	co_execute(plan_seal, values, NULL, false, 0);
	co_finish();
	return bundle_id;
}

/* ----------------------------------------------------------------
 *		The bundle trigger
 * ----------------------------------------------------------------
 */

/* The rule columns a bundle's transitions write or stamp */
static const BundleCol transition_cols[] = {
	BC_SUBMITTED_AT, BC_IMAGE_COUNT, BC_VIDEO_COUNT, BC_REVIEW_STATE,
	BC_REVIEW_NOTE, BC_REVIEWED_AT
};

static void
read_bundle(Relation rel, HeapTuple tuple, CoRow *row)
{
	co_row_read(&co_bundles_table, rel, tuple, row->v, row->isnull);
}

static bool
changed(const CoRow *oldrow, const CoRow *newrow, BundleCol col)
{
	return co_row_changed(&co_bundles_table, col, oldrow->v, oldrow->isnull,
						  newrow->v, newrow->isnull);
}

/*
 * V1: the event of the chosen transition, naming the bundle, at "at" (the
 * order's stamp under its lock), which becomes the order's latest (H2)
 */
static void
bundle_event(Relation rel, const CoTransition *t, const CoRow *row,
			 const OrderRow *order, TimestampTz at)
{
	co_event_transition(&co_bundle_machine, t,
						DatumGetInt64(row->v[BC_ORDER_ID]),
						row->isnull[BC_AFTERSALE_ID] ? 0 :
						DatumGetInt64(row->v[BC_AFTERSALE_ID]), at,
						co_event_detail(&co_bundles_table, rel, row,
										t->may_change | CO_BIT(BC_BUNDLE_ID) |
										CO_BIT(BC_PURPOSE), NULL));
	co_order_restamp(order, at);
}

/*
 * INSERT: whatever the writer said, a bundle is created open and empty, and
 * stamped (E1).
 */
static HeapTuple
bundle_created(Relation rel, HeapTuple tuple, CoRow *row)
{
	static const int reset[7] = {BC_SUBMITTED_AT, BC_REVIEW_STATE,
	BC_REVIEW_NOTE, BC_REVIEWED_AT, BC_IMAGE_COUNT, BC_VIDEO_COUNT,
	BC_CREATED_AT};
	Datum		values[7];
	bool		nulls[7];
	CoGuardCtx	ctx = {NULL, row, NULL, false};
	CoRow		proposed;
	CoRefusal  *refusal;
	OrderRow	order;
	const CoTransition *t;
	int			i;

	if ((t = co_choose(&co_bundle_machine, &ctx, -1, BS_OPEN, 0, &proposed,
					   &refusal)) == NULL)
		co_raise(refusal);
	/* the bundle's event is appended under the order's lock (H2) */
	co_order_fetch(DatumGetInt64(row->v[BC_ORDER_ID]), "evidence", true,
				   &order);
	for (i = 0; i < 4; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	values[4] = values[5] = Int32GetDatum(0);
	nulls[4] = nulls[5] = false;
	values[6] = TimestampTzGetDatum(co_order_stamp(&order));
	nulls[6] = false;
	bundle_event(rel, t, row, &order, DatumGetTimestampTz(values[6]));
	return co_row_modify(&co_bundles_table, rel, tuple, 7, reset, values, nulls);
}

/* E3: a submitted bundle, or one holding items, is never deleted */
static void
check_bundle_delete(const CoRow *row)
{
	int64		order_id = DatumGetInt64(row->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(row->v[BC_BUNDLE_ID]);
	int32		count;

	if (!row->isnull[BC_SUBMITTED_AT])
		co_raise(co_bundle_sealed(row, "Deleting"));
	count = DatumGetInt32(row->v[BC_IMAGE_COUNT]) +
		DatumGetInt32(row->v[BC_VIDEO_COUNT]);
	if (count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("an evidence bundle with items cannot be deleted (rule E3)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " holds %d items.",
						   bundle_id, order_id, count),
				 errhint("Leave it unsubmitted; it does not count as evidence.")));
}

/* What a bundle is for and belongs to is fixed when it is created */
static void
check_fixed_columns(const CoRow *oldrow, const CoRow *newrow)
{
	static const BundleCol fixed[] = {BC_ORDER_ID, BC_BUNDLE_ID, BC_PURPOSE,
	BC_AFTERSALE_ID, BC_CREATED_AT};
	int			i;

	for (i = 0; i < lengthof(fixed); i++)
		if (changed(oldrow, newrow, fixed[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("evidence_bundles.%s cannot be changed",
							co_bundles_table.cols[fixed[i]]),
					 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
							   DatumGetInt64(oldrow->v[BC_BUNDLE_ID]),
							   DatumGetInt64(oldrow->v[BC_ORDER_ID])),
					 errhint("Create a new bundle instead.")));
}

/* H8: the platform's review note is free text of at most 500 characters */
static void
check_review_note(const CoRow *oldrow, const CoRow *newrow)
{
	int			chars;

	if (newrow->isnull[BC_REVIEW_NOTE] || !changed(oldrow, newrow, BC_REVIEW_NOTE))
		return;
	chars = pg_mbstrlen(TextDatumGetCString(newrow->v[BC_REVIEW_NOTE]));
	if (chars > CO_MAX_NOTE_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("review_evidence: note must have at most %d characters (rule H8)",
						CO_MAX_NOTE_CHARS),
				 errdetail("The note of bundle " INT64_FORMAT " has %d characters.",
						   DatumGetInt64(newrow->v[BC_BUNDLE_ID]), chars),
				 errhint("Shorten the note.")));
}

/*
 * UPDATE: judged by the bundle machine by (from, to) under the order's lock
 * (the buttons that submit or review a bundle hold it already; a raw UPDATE
 * takes it here), so that the bundle's event and its stamp (submitted_at,
 * reviewed_at) are never before the order's latest (H2).
 */
static HeapTuple
bundle_updated(Relation rel, HeapTuple newtuple, CoRow *old, CoRow *new)
{
	CoGuardCtx	ctx = {old, new, NULL, false};
	const CoTransition *t;
	CoRow		proposed;
	CoRefusal  *refusal;
	OrderRow	order;
	uint32		changes = 0;
	int			cols[1];
	Datum		now;
	bool		nonull = false;
	int			i;

	check_fixed_columns(old, new);
	check_review_note(old, new);
	old->state = co_bundle_state(old);
	new->state = co_bundle_state(new);
	for (i = 0; i < lengthof(transition_cols); i++)
		if (changed(old, new, transition_cols[i]))
			changes |= CO_BIT(transition_cols[i]);
	if (changes == 0 && old->state == new->state)
		return newtuple;
	co_order_fetch(DatumGetInt64(new->v[BC_ORDER_ID]), "evidence", true,
				   &order);
	t = co_choose(&co_bundle_machine, &ctx, -1, new->state, changes,
				  &proposed, &refusal);
	if (t == NULL)
		co_raise(refusal);
	now = TimestampTzGetDatum(co_order_stamp(&order));
	bundle_event(rel, t, new, &order, DatumGetTimestampTz(now));
	if (t->stamp == CO_NO_STAMP)
		return newtuple;
	cols[0] = t->stamp;
	return co_row_modify(&co_bundles_table, rel, newtuple, 1, cols, &now,
						 &nonull);
}

/* customorder.bundle_guard(): BEFORE INSERT OR UPDATE OR DELETE, per row */
Datum
co_bundle_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_bundle_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	CoRow		old;
	CoRow		new;

	/* on INSERT the trigger tuple is the new row; else the old one */
	read_bundle(rel, trigdata->tg_trigtuple, &old);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(bundle_created(rel, trigdata->tg_trigtuple,
											  &old));
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		check_bundle_delete(&old);
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	read_bundle(rel, trigdata->tg_newtuple, &new);
	return PointerGetDatum(bundle_updated(rel, trigdata->tg_newtuple,
										  &old, &new));
}

/* E3 by any path: TRUNCATE is refused too */
Datum
co_evidence_truncate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo,
											 "co_evidence_truncate_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_STMT);

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("evidence cannot be truncated (rule E3)"),
			 errdetail("TRUNCATE of %s.",
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("Submitted evidence is kept for as long as its order.")));
	PG_RETURN_NULL();
}
