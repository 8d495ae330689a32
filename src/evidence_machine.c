/*-------------------------------------------------------------------------
 *
 * evidence_machine.c
 *	  The evidence bundle machine: a bundle is created open, counts its items
 *	  (E1, E4), is submitted and sealed (E1, E3, A1.2), and a production
 *	  bundle gets the platform's verdict once (S5).  Its transition table and
 *	  guards; the bundle trigger (evidence_bundles.c) runs it.
 *
 *	  A bundle's state is not a column: it is read from submitted_at and
 *	  review_state (co_bundle_state).
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "evidence.h"

const char *const co_bundle_state_names[BS_COUNT + 1] = {
	"open", "submitted", "approved", "rejected", "(none)"
};

/* The state a bundle row is in; a verdict other than the two is 22023 */
BundleState
co_bundle_state(const CoRow *row)
{
	char	   *verdict;

	if (row->isnull[BC_SUBMITTED_AT])
		return BS_OPEN;
	if (row->isnull[BC_REVIEW_STATE])
		return BS_SUBMITTED;
	verdict = TextDatumGetCString(row->v[BC_REVIEW_STATE]);
	if (strcmp(verdict, "approved") == 0)
		return BS_APPROVED;
	if (strcmp(verdict, "rejected") == 0)
		return BS_REJECTED;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("review_evidence: the verdict is approved or rejected (rule S5)"),
			 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " was given review state %s.",
					   DatumGetInt64(row->v[BC_BUNDLE_ID]),
					   DatumGetInt64(row->v[BC_ORDER_ID]), verdict),
			 errhint("Call customorder.review_evidence(order_id, approve, note).")));
	return BS_OPEN;				/* keep the compiler quiet */
}

/* E3: what may not happen to a submitted bundle */
CoRefusal *
co_bundle_sealed(const CoRow *row, const char *what)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  "a submitted evidence bundle is immutable (rule E3)",
					  psprintf("%s bundle " INT64_FORMAT " of order " INT64_FORMAT ", which was submitted.",
							   what, DatumGetInt64(row->v[BC_BUNDLE_ID]),
							   DatumGetInt64(row->v[BC_ORDER_ID])),
					  "Submit a new bundle instead.");
}

/* ----------------------------------------------------------------
 *		Guards
 * ----------------------------------------------------------------
 */

/* E1: evidence belongs to an existing order */
static CoRefusal *
guard_bundle_order(const CoGuardCtx *ctx)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	bool		found;

	if (ctx->new->isnull[BC_ORDER_ID])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  "an evidence bundle needs an order_id",
						  NULL, "Evidence belongs to an order.");
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT 1 FROM customorder.orders o "
					  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, &ctx->new->v[BC_ORDER_ID], NULL, false, 1);
	found = SPI_processed == 1;
	co_finish();
	if (!found)
		return co_refusal(ERRCODE_NO_DATA_FOUND,
						  psprintf("evidence: order " INT64_FORMAT " does not exist",
								   DatumGetInt64(ctx->new->v[BC_ORDER_ID])),
						  NULL, "Evidence belongs to an existing order.");
	return NULL;
}

/* E4: the counters are the item trigger's */
static CoRefusal *
counters_refusal(const CoGuardCtx *ctx)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  "evidence_bundles counters are maintained by the item trigger (rule E4)",
					  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
							   DatumGetInt64(ctx->old->v[BC_BUNDLE_ID]),
							   DatumGetInt64(ctx->old->v[BC_ORDER_ID])),
					  "Insert items into customorder.evidence_items.");
}

/* E4: only the item trigger counts, under the bundle's row lock */
static CoRefusal *
guard_item_counted(const CoGuardCtx *ctx)
{
	if (co_permit.kind == PERMIT_BUNDLE_COUNT &&
		co_permit.order_id == DatumGetInt64(ctx->old->v[BC_ORDER_ID]))
		return NULL;
	return counters_refusal(ctx);
}

/* E1, A1.2: not empty; a rejection proof holds a photo */
static CoRefusal *
guard_submission(const CoGuardCtx *ctx)
{
	const CoRow *n = ctx->new;
	int64		order_id = DatumGetInt64(n->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(n->v[BC_BUNDLE_ID]);
	int32		images = DatumGetInt32(n->v[BC_IMAGE_COUNT]);
	int32		videos = DatumGetInt32(n->v[BC_VIDEO_COUNT]);

	if (images + videos == 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "an evidence bundle holds at least one item (rule E1)",
						  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is empty.",
								   bundle_id, order_id),
						  "Add at least one image or video.");
	if (images == 0 &&
		strcmp(TextDatumGetCString(n->v[BC_PURPOSE]), "rejection_proof") == 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "continue_reject: production proof holds at least one clear photo (rule A1.2)",
						  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT " has %d videos and no image.",
								   bundle_id, order_id, videos),
						  "Add photos showing the buyer's goods in production.");
	return NULL;
}

/* S5: a production bundle is reviewed once */
static CoRefusal *
reviewed_once(const CoRow *old)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  "review_evidence: a production bundle is reviewed once (rule S5)",
					  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT " (purpose %s) has review state %s.",
							   DatumGetInt64(old->v[BC_BUNDLE_ID]),
							   DatumGetInt64(old->v[BC_ORDER_ID]),
							   TextDatumGetCString(old->v[BC_PURPOSE]),
							   old->isnull[BC_REVIEW_STATE] ? "none" :
							   TextDatumGetCString(old->v[BC_REVIEW_STATE])),
					  "A rejected order submits a new bundle.");
}

/*
 * S5: the verdict is on the production bundle that an order in
 * evidence_review names.  The order is locked before it is judged, so a
 * concurrent refund waits.
 */
static CoRefusal *
guard_verdict(const CoGuardCtx *ctx)
{
	int64		order_id = DatumGetInt64(ctx->old->v[BC_ORDER_ID]);
	int64		bundle_id = DatumGetInt64(ctx->old->v[BC_BUNDLE_ID]);
	OrderRow	order;
	bool		names_bundle;

	if (strcmp(TextDatumGetCString(ctx->old->v[BC_PURPOSE]), "production") != 0)
		return reviewed_once(ctx->old);
	co_order_fetch(order_id, "review_evidence", true, &order);
	names_bundle = !order.isnull[OC_EVIDENCE_BUNDLE_ID] &&
		DatumGetInt64(order.v[OC_EVIDENCE_BUNDLE_ID]) == bundle_id;
	if (order.state != OS_EVIDENCE_REVIEW || !names_bundle)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "review_evidence: only the bundle of an order in evidence_review can be reviewed (rule S5)",
						  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT "; the order is %s and %s this bundle.",
								   bundle_id, order_id,
								   co_order_state_names[order.state],
								   names_bundle ? "names" : "does not name"),
						  "Evidence goes to review when submitted in a category that requires it.");
	return NULL;
}

/* ----------------------------------------------------------------
 *		The transition table
 * ----------------------------------------------------------------
 */
#define B(col) CO_BIT(BC_##col)
#define BC_NONE CO_NO_STAMP
#define ROW(from, action, to, guard, may_change, stamp, rule) \
	{BS_##from, ACT_##action, BS_##to, guard, #guard, may_change, \
	 BC_##stamp, NULL, CLOCK_KEEPS, rule}

static const CoTransition bundle_transitions[] = {
	ROW(NONE, OPEN_BUNDLE, OPEN, guard_bundle_order, 0, CREATED_AT,
		"E1: a bundle of an existing order is created open and empty"),
	ROW(OPEN, ADD_ITEM, OPEN, guard_item_counted,
		B(IMAGE_COUNT) | B(VIDEO_COUNT), NONE,
		"E1 E4: the item trigger counts each item into its bundle under the bundle's row lock"),
	ROW(OPEN, SUBMIT_BUNDLE, SUBMITTED, guard_submission, 0, SUBMITTED_AT,
		"E1 E3 A1.2: not empty, a rejection proof holds a photo; sealed from now on"),
	ROW(SUBMITTED, REVIEW_APPROVE, APPROVED, guard_verdict,
		B(REVIEW_STATE) | B(REVIEW_NOTE), REVIEWED_AT,
		"S5: the production bundle an order in evidence_review names; the order moves to in_production"),
	ROW(SUBMITTED, REVIEW_REJECT, REJECTED, guard_verdict,
		B(REVIEW_STATE) | B(REVIEW_NOTE), REVIEWED_AT,
		"S5: the production bundle an order in evidence_review names; the order returns to awaiting_evidence"),
};

/*
 * No row leads from the bundle's state to the one written: a sealed bundle
 * changed, a verdict on an open or reviewed bundle.
 */
static CoRefusal *
bundle_no_row(const CoGuardCtx *ctx, int from, CoAction action, int to)
{
	const CoRow *old = ctx->old;

	if (from == BS_OPEN)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "review_evidence: only a submitted bundle can be reviewed (rule S5)",
						  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is not submitted.",
								   DatumGetInt64(old->v[BC_BUNDLE_ID]),
								   DatumGetInt64(old->v[BC_ORDER_ID])),
						  "Submit the bundle first.");
	if (co_row_changed(&co_bundles_table, BC_SUBMITTED_AT, old->v, old->isnull,
					   ctx->new->v, ctx->new->isnull) ||
		co_row_changed(&co_bundles_table, BC_IMAGE_COUNT, old->v, old->isnull,
					   ctx->new->v, ctx->new->isnull) ||
		co_row_changed(&co_bundles_table, BC_VIDEO_COUNT, old->v, old->isnull,
					   ctx->new->v, ctx->new->isnull))
		return co_bundle_sealed(old, co_permit.kind == PERMIT_BUNDLE_COUNT ?
								"Adding an item to" : "Changing");
	return reviewed_once(old);
}

/* A column the chosen change does not write was changed */
static CoRefusal *
bundle_bad_column(const CoGuardCtx *ctx, const CoTransition *t, int col)
{
	if (col == BC_IMAGE_COUNT || col == BC_VIDEO_COUNT)
		return counters_refusal(ctx);
	return bundle_no_row(ctx, t->from, t->action, t->to);
}

const CoMachine co_bundle_machine = {
	"evidence", &co_bundles_table, co_bundle_state_names, BS_NONE,
	bundle_transitions, lengthof(bundle_transitions),
	bundle_no_row, bundle_bad_column
};
