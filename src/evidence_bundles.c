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

/* Did the writer change bundle column "col"? */
static bool
changed(const CoRowData *oldrow, const CoRowData *newrow, BundleCol col)
{
	return co_row_changed(&co_bundles_table, col, oldrow->v, oldrow->isnull,
						  newrow->v, newrow->isnull);
}

/* Did the writer change any column of the platform's review verdict? */
static bool
review_changed(const CoRowData *oldrow, const CoRowData *newrow)
{
	return changed(oldrow, newrow, BC_REVIEW_STATE) ||
		changed(oldrow, newrow, BC_REVIEW_NOTE) ||
		changed(oldrow, newrow, BC_REVIEWED_AT);
}

/* Is the item trigger counting an item into a bundle of this order? */
static bool
counting_permitted(int64 order_id)
{
	return co_permit.kind == PERMIT_BUNDLE_COUNT &&
		co_permit.order_id == order_id;
}

/* The tuple with column "col" set to customorder.now() */
static HeapTuple
stamp_now(Relation rel, HeapTuple tuple, BundleCol col)
{
	int			cols[1] = {col};
	Datum		now = TimestampTzGetDatum(co_now());
	bool		nonull = false;

	return co_row_modify(&co_bundles_table, rel, tuple, 1, cols, &now, &nonull);
}

static void
refuse_sealed(int64 order_id, int64 bundle_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("a submitted evidence bundle is immutable (rule E3)"),
			 errdetail("%s bundle " INT64_FORMAT " of order " INT64_FORMAT ", which was submitted.",
					   what, bundle_id, order_id),
			 errhint("Submit a new bundle instead.")));
}

/*
 * Evidence belongs to an existing order.  Checked here, before the foreign
 * key would, so that the refusal says so in the extension's words.
 */
static void
check_order_exists(Datum order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = order_id;
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT 1 FROM customorder.orders o "
					  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("evidence: order " INT64_FORMAT " does not exist",
						DatumGetInt64(order_id)),
				 errhint("Evidence belongs to an existing order.")));
	co_finish();
}

/*
 * INSERT: a bundle starts open and empty, whatever the INSERT said; its
 * counters, submission and review are the triggers' to write.
 */
static HeapTuple
bundle_created(Relation rel, HeapTuple tuple, const CoRowData *row)
{
	static const int reset[7] = {BC_SUBMITTED_AT, BC_REVIEW_STATE,
	BC_REVIEW_NOTE, BC_REVIEWED_AT, BC_IMAGE_COUNT, BC_VIDEO_COUNT,
	BC_CREATED_AT};
	Datum		values[7];
	bool		nulls[7];
	int			i;

	if (row->isnull[BC_ORDER_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an evidence bundle needs an order_id"),
				 errhint("Evidence belongs to an order.")));
	check_order_exists(row->v[BC_ORDER_ID]);
	for (i = 0; i < 4; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	values[4] = values[5] = Int32GetDatum(0);
	nulls[4] = nulls[5] = false;
	values[6] = TimestampTzGetDatum(co_now());
	nulls[6] = false;
	return co_row_modify(&co_bundles_table, rel, tuple, 7, reset, values, nulls);
}

/*
 * DELETE: only an open bundle that holds nothing may go (E3); a bundle with
 * items is kept, since its items reference it.
 */
static void
check_bundle_delete(const CoRowData *row)
{
	int64		order_id = DatumGetInt64(row->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(row->v[BC_BUNDLE_ID]);
	int32		count;

	if (!row->isnull[BC_SUBMITTED_AT])
		refuse_sealed(order_id, bundle_id, "Deleting");
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

/* UPDATE: what a bundle is and belongs to never changes */
static void
check_fixed_columns(const CoRowData *oldrow, const CoRowData *newrow)
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

/*
 * S5: the platform's verdict is approved or rejected, and only on the bundle
 * that an order in evidence_review names.
 */
static void
check_verdict(int64 order_id, int64 bundle_id, const CoRowData *newrow)
{
	OrderRow	order;
	char	   *verdict;
	const char *state;
	bool		names_bundle;

	verdict = TextDatumGetCString(newrow->v[BC_REVIEW_STATE]);
	if (strcmp(verdict, "approved") != 0 && strcmp(verdict, "rejected") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("review_evidence: the verdict is approved or rejected (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " was given review state %s.",
						   bundle_id, order_id, verdict),
				 errhint("Call customorder.review_evidence(order_id, approve, note).")));

	/* lock the order before judging: a concurrent refund must wait */
	co_order_fetch(order_id, "review_evidence", true, &order);
	state = co_order_state_names[order.state];
	names_bundle = !order.isnull[OC_EVIDENCE_BUNDLE_ID] &&
		DatumGetInt64(order.v[OC_EVIDENCE_BUNDLE_ID]) == bundle_id;
	if (order.state != OS_EVIDENCE_REVIEW || !names_bundle)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("review_evidence: only the bundle of an order in evidence_review can be reviewed (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT "; the order is %s and %s this bundle.",
						   bundle_id, order_id, state,
						   names_bundle ? "names" : "does not name"),
				 errhint("Evidence goes to review when submitted in a category that requires it.")));
}

/*
 * UPDATE of a submitted bundle: its contents are sealed (E3); the review
 * verdict of a production bundle may be written once, and is stamped.
 */
static HeapTuple
sealed_bundle_updated(Relation rel, HeapTuple newtuple,
					  const CoRowData *oldrow, const CoRowData *newrow)
{
	int64		order_id = DatumGetInt64(oldrow->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(oldrow->v[BC_BUNDLE_ID]);
	char	   *purpose;

	if (changed(oldrow, newrow, BC_SUBMITTED_AT) ||
		changed(oldrow, newrow, BC_IMAGE_COUNT) ||
		changed(oldrow, newrow, BC_VIDEO_COUNT))
		refuse_sealed(order_id, bundle_id,
					  counting_permitted(order_id) ?
					  "Adding an item to" : "Changing");
	if (!review_changed(oldrow, newrow))
		return newtuple;
	purpose = TextDatumGetCString(oldrow->v[BC_PURPOSE]);
	if (!oldrow->isnull[BC_REVIEW_STATE] || newrow->isnull[BC_REVIEW_STATE] ||
		strcmp(purpose, "production") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("review_evidence: a production bundle is reviewed once (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " (purpose %s) has review state %s.",
						   bundle_id, order_id, purpose,
						   oldrow->isnull[BC_REVIEW_STATE] ? "none" :
						   TextDatumGetCString(oldrow->v[BC_REVIEW_STATE])),
				 errhint("A rejected order submits a new bundle.")));
	check_verdict(order_id, bundle_id, newrow);
	return stamp_now(rel, newtuple, BC_REVIEWED_AT);
}

/*
 * Submitting: the bundle as a whole must qualify (E1: not empty; A1.2: a
 * rejection proof holds a photo).
 */
static void
check_submission(const CoRowData *newrow)
{
	int64		order_id = DatumGetInt64(newrow->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(newrow->v[BC_BUNDLE_ID]);
	int32		images = DatumGetInt32(newrow->v[BC_IMAGE_COUNT]);
	int32		videos = DatumGetInt32(newrow->v[BC_VIDEO_COUNT]);
	char	   *purpose = TextDatumGetCString(newrow->v[BC_PURPOSE]);

	if (images + videos == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("an evidence bundle holds at least one item (rule E1)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is empty.",
						   bundle_id, order_id),
				 errhint("Add at least one image or video.")));
	if (images == 0 && strcmp(purpose, "rejection_proof") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("continue_reject: production proof holds at least one clear photo (rule A1.2)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " has %d videos and no image.",
						   bundle_id, order_id, videos),
				 errhint("Add photos showing the buyer's goods in production.")));
}

/*
 * UPDATE of an open bundle: no verdict yet (S5); the counters move only
 * under the item trigger's permit (E4); setting submitted_at submits it,
 * stamped with customorder.now().
 */
static HeapTuple
open_bundle_updated(Relation rel, HeapTuple newtuple,
					const CoRowData *oldrow, const CoRowData *newrow)
{
	int64		order_id = DatumGetInt64(oldrow->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(oldrow->v[BC_BUNDLE_ID]);

	if (review_changed(oldrow, newrow))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("review_evidence: only a submitted bundle can be reviewed (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is not submitted.",
						   bundle_id, order_id),
				 errhint("Submit the bundle first.")));
	if ((changed(oldrow, newrow, BC_IMAGE_COUNT) ||
		 changed(oldrow, newrow, BC_VIDEO_COUNT)) &&
		!counting_permitted(order_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evidence_bundles counters are maintained by the item trigger (rule E4)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
						   bundle_id, order_id),
				 errhint("Insert items into customorder.evidence_items.")));
	if (newrow->isnull[BC_SUBMITTED_AT])
		return newtuple;
	check_submission(newrow);
	return stamp_now(rel, newtuple, BC_SUBMITTED_AT);
}

/*
 * evidence_bundles: created open and empty; counters move only under the
 * item trigger's permit; submitting seals it (non-empty, and a rejection
 * proof holds an image); once sealed only the platform's review verdict may
 * be written, once.
 */
Datum
co_bundle_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_bundle_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	HeapTuple	newtuple = trigdata->tg_newtuple;
	CoRowData	oldrow;
	CoRowData	newrow;

	/* on INSERT the trigger tuple is the new row; else the old one */
	co_row_read(&co_bundles_table, rel, trigdata->tg_trigtuple,
				oldrow.v, oldrow.isnull);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(bundle_created(rel, trigdata->tg_trigtuple,
											  &oldrow));
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		check_bundle_delete(&oldrow);
		return PointerGetDatum(trigdata->tg_trigtuple);
	}

	co_row_read(&co_bundles_table, rel, newtuple, newrow.v, newrow.isnull);
	check_fixed_columns(&oldrow, &newrow);
	if (!oldrow.isnull[BC_SUBMITTED_AT])
		return PointerGetDatum(sealed_bundle_updated(rel, newtuple,
													 &oldrow, &newrow));
	return PointerGetDatum(open_bundle_updated(rel, newtuple,
											   &oldrow, &newrow));
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
