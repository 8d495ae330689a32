/*-------------------------------------------------------------------------
 *
 * order.c
 *	  The order state machine: its transition table, its guards and the
 *	  BEFORE trigger on customorder.orders that accepts exactly the changes
 *	  the table lists, whoever makes them.
 *
 *	  A button locks the order, asks co_order_choose() which row of the table
 *	  applies (the same guards), and updates the row; the trigger then judges
 *	  that update like any other.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/numeric.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_order_trigger);

const char *const co_order_col_names[OC_COUNT] = {
	"order_id", "shop_id", "product_id", "buyer_id", "amount", "is_custom",
	"paid_at", "ship_by", "state", "custom_started_at", "tracking_no",
	"shipped_at", "signed_at", "refunded_amount", "category_id",
	"start_lock", "high_score_threshold", "evidence_review",
	"promised_ship", "evidence_bundle_id", "open_aftersale_id", "closed_at"
};

/* ----------------------------------------------------------------
 *		Guards
 * ----------------------------------------------------------------
 */

/* S1/S2: custom order, and the grey window is over */
static CoRefusal *
check_start_enabled(const OrderGuardCtx *ctx)
{
	const OrderRow *o = ctx->old;
	TimestampTz blue_at;
	TimestampTz now = co_now();

	if (!ORD_IS_CUSTOM(o))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "start_customization is only for custom orders (rule S1)",
						  psprintf("Order " INT64_FORMAT " is not a custom order.",
								   ORD_ID(o)),
						  "Ordinary orders are shipped directly with ship().");

	blue_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  o->v[OC_PAID_AT],
													  o->v[OC_START_LOCK]));
	if (now < blue_at)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "start_customization is not available yet: the Start button is grey (rule S2)",
						  psprintf("Order " INT64_FORMAT " was paid at %s and its category locks Start for %s, until %s; it is now %s.",
								   ORD_ID(o), co_timestamptz_str(ORD_PAID_AT(o)),
								   co_interval_str(o->v[OC_START_LOCK]),
								   co_timestamptz_str(blue_at),
								   co_timestamptz_str(now)),
						  psprintf("Press Start at or after %s; until then a buyer's cancel is refunded instantly.",
								   co_timestamptz_str(blue_at)));
	return NULL;
}

/*
 * S3/S4: the shop's service score at the moment Start is pressed, against
 * the threshold the order snapshotted.  A missing score counts as low.
 */
static bool
shop_score_is_high(const OrderRow *o, char **score_out)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		high = false;
	bool		isnull;
	Datum		score;

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT s.service_score FROM customorder.shops s "
					  "WHERE s.shop_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	values[0] = o->v[OC_SHOP_ID];
	co_execute(plan, values, NULL, false, 1);
	*score_out = NULL;
	if (SPI_processed == 1)
	{
		score = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
							  1, &isnull);
		if (!isnull)
		{
			high = DatumGetInt32(DirectFunctionCall2(numeric_cmp, score,
													 o->v[OC_HIGH_SCORE_THRESHOLD])) >= 0;
			*score_out = co_numeric_str(score);
		}
	}
	co_finish();
	if (*score_out == NULL)
		*score_out = pstrdup("none");
	return high;
}

static CoRefusal *
guard_start_high(const OrderGuardCtx *ctx)
{
	CoRefusal  *r = check_start_enabled(ctx);
	char	   *score;

	if (r)
		return r;
	if (!shop_score_is_high(ctx->old, &score))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "start_customization takes effect at once only for a high-score shop (rule S3)",
						  psprintf("Shop service score %s is below the order's threshold %s.",
								   score, co_numeric_str(ctx->old->v[OC_HIGH_SCORE_THRESHOLD])),
						  "A shop below the threshold goes to awaiting_evidence and submits production evidence.");
	return NULL;
}

static CoRefusal *
guard_start_low(const OrderGuardCtx *ctx)
{
	CoRefusal  *r = check_start_enabled(ctx);
	char	   *score;

	if (r)
		return r;
	if (shop_score_is_high(ctx->old, &score))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "start_customization needs production evidence only from a shop below the threshold (rule S4)",
						  psprintf("Shop service score %s is at or above the order's threshold %s.",
								   score, co_numeric_str(ctx->old->v[OC_HIGH_SCORE_THRESHOLD])),
						  "A high-score shop's Start goes straight to in_production.");
	return NULL;
}

/*
 * Look at the evidence bundle an order names.  Fills *sealed, *purpose,
 * *review_state (NULL when never reviewed).  Returns false if the bundle
 * does not belong to the order.
 */
static bool
fetch_bundle(const OrderRow *o, Datum bundle_id, bool *sealed,
			 char **purpose, char **review_state)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	bool		found = false;

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT b.submitted_at IS NOT NULL, b.purpose, b.review_state "
					  "FROM customorder.evidence_bundles b "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.bundle_id OPERATOR(pg_catalog.=) $2",
					  2, argtypes);
	values[0] = o->v[OC_ORDER_ID];
	values[1] = bundle_id;
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *s;

		found = true;
		*sealed = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		s = SPI_getvalue(tup, desc, 2);
		*purpose = s ? SPI_palloc(strlen(s) + 1) : NULL;
		if (s)
			strcpy(*purpose, s);
		s = SPI_getvalue(tup, desc, 3);
		*review_state = s ? SPI_palloc(strlen(s) + 1) : NULL;
		if (s)
			strcpy(*review_state, s);
	}
	co_finish();
	return found;
}

/* S5: a sealed, never-reviewed production bundle of this order */
static CoRefusal *
check_evidence_qualified(const OrderGuardCtx *ctx)
{
	const OrderRow *n = ctx->new;
	bool		sealed;
	char	   *purpose;
	char	   *review_state;

	if (ctx->probe)
		return NULL;
	if (n->isnull[OC_EVIDENCE_BUNDLE_ID] ||
		(!ctx->old->isnull[OC_EVIDENCE_BUNDLE_ID] &&
		 DatumGetInt64(ctx->old->v[OC_EVIDENCE_BUNDLE_ID]) ==
		 DatumGetInt64(n->v[OC_EVIDENCE_BUNDLE_ID])))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "submit_custom_evidence needs a new production evidence bundle (rule S5)",
						  psprintf("Order " INT64_FORMAT " names no new evidence bundle.",
								   ORD_ID(n)),
						  "Call customorder.submit_custom_evidence(order_id, items).");
	if (!fetch_bundle(n, n->v[OC_EVIDENCE_BUNDLE_ID], &sealed, &purpose,
					  &review_state) ||
		!sealed || strcmp(purpose, "production") != 0 || review_state != NULL)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "submit_custom_evidence needs a submitted production evidence bundle of this order (rule S5)",
						  psprintf("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is missing, not submitted, not production evidence, or already reviewed.",
								   DatumGetInt64(n->v[OC_EVIDENCE_BUNDLE_ID]), ORD_ID(n)),
						  "Call customorder.submit_custom_evidence(order_id, items).");
	return NULL;
}

static CoRefusal *
guard_evidence_direct(const OrderGuardCtx *ctx)
{
	if (DatumGetBool(ctx->old->v[OC_EVIDENCE_REVIEW]))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "submit_custom_evidence sends this order's evidence to platform review (rule S5)",
						  psprintf("The category of order " INT64_FORMAT " required evidence review when the order was placed.",
								   ORD_ID(ctx->old)),
						  "The platform approves it with review_evidence().");
	return check_evidence_qualified(ctx);
}

static CoRefusal *
guard_evidence_review(const OrderGuardCtx *ctx)
{
	if (!DatumGetBool(ctx->old->v[OC_EVIDENCE_REVIEW]))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "evidence review is not required for this order (rule S5)",
						  psprintf("The category of order " INT64_FORMAT " did not require evidence review when the order was placed.",
								   ORD_ID(ctx->old)),
						  "Qualified evidence moves this order straight to in_production.");
	return check_evidence_qualified(ctx);
}

static CoRefusal *
check_review_outcome(const OrderGuardCtx *ctx, const char *wanted)
{
	const OrderRow *n = ctx->new;
	bool		sealed;
	char	   *purpose;
	char	   *review_state = NULL;

	if (ctx->probe)
		return NULL;
	if (n->isnull[OC_EVIDENCE_BUNDLE_ID] ||
		!fetch_bundle(n, n->v[OC_EVIDENCE_BUNDLE_ID], &sealed, &purpose,
					  &review_state) ||
		review_state == NULL || strcmp(review_state, wanted) != 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("review_evidence: the order's evidence bundle is not %s (rule S5)", wanted),
						  psprintf("Order " INT64_FORMAT ", bundle %s, review state %s.",
								   ORD_ID(n),
								   n->isnull[OC_EVIDENCE_BUNDLE_ID] ? "none" :
								   psprintf(INT64_FORMAT, DatumGetInt64(n->v[OC_EVIDENCE_BUNDLE_ID])),
								   review_state ? review_state : "none"),
						  "Call customorder.review_evidence(order_id, approve, note).");
	return NULL;
}

static CoRefusal *
guard_review_approved(const OrderGuardCtx *ctx)
{
	return check_review_outcome(ctx, "approved");
}

static CoRefusal *
guard_review_rejected(const OrderGuardCtx *ctx)
{
	return check_review_outcome(ctx, "rejected");
}

/* Shipping: a tracking number, and no open after-sale case */
static CoRefusal *
check_ship(const OrderGuardCtx *ctx)
{
	const OrderRow *n = ctx->new;

	if (!n->isnull[OC_OPEN_AFTERSALE_ID])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "ship is refused while an after-sale case is open",
						  psprintf("Order " INT64_FORMAT " has open after-sale case " INT64_FORMAT ".",
								   ORD_ID(n), DatumGetInt64(n->v[OC_OPEN_AFTERSALE_ID])),
						  "Answer the case first: insist_ship() ships and closes it, agree_refund() refunds.");
	if (ctx->probe)
		return NULL;
	return co_tracking_refusal("ship", "", n->isnull[OC_TRACKING_NO],
							   n->v[OC_TRACKING_NO],
							   psprintf("Order " INT64_FORMAT " has no tracking_no.", ORD_ID(n)),
							   psprintf("Order " INT64_FORMAT " has an empty tracking_no.", ORD_ID(n)));
}

static CoRefusal *
guard_ship_custom(const OrderGuardCtx *ctx)
{
	return check_ship(ctx);
}

static CoRefusal *
guard_ship_ordinary(const OrderGuardCtx *ctx)
{
	if (ORD_IS_CUSTOM(ctx->old))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "ship: a custom order ships only once customization is in effect (rules S3-S5)",
						  psprintf("Custom order " INT64_FORMAT " is still in state paid.",
								   ORD_ID(ctx->old)),
						  "Press start_customization once the Start button is blue.");
	return check_ship(ctx);
}

static CoRefusal *
guard_none(const OrderGuardCtx *ctx)
{
	return NULL;
}

/* Money: the order is closed only once all it was paid is refunded */
static CoRefusal *
check_fully_refunded(const OrderGuardCtx *ctx, const char *button)
{
	const OrderRow *n = ctx->new;

	if (ctx->probe)
		return NULL;
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  n->v[OC_REFUNDED_AMOUNT],
										  n->v[OC_AMOUNT])) != 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("%s: the order closes only when its full amount is refunded", button),
						  psprintf("Order " INT64_FORMAT ": amount %s, refunded %s.",
								   ORD_ID(n), co_numeric_str(n->v[OC_AMOUNT]),
								   co_numeric_str(n->v[OC_REFUNDED_AMOUNT])),
						  "Refunds go through customorder.request_refund() and the after-sale buttons.");
	return NULL;
}

/* F2 and F6: instant refund before customization is in effect / shipment */
static CoRefusal *
guard_instant_refund(const OrderGuardCtx *ctx)
{
	if (!co_order_instant_refund_applies(ctx->old))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "request_refund: no instant refund once customization is in effect (rule F3)",
						  psprintf("Order " INT64_FORMAT " is in state %s.",
								   ORD_ID(ctx->old), co_order_state_names[ctx->old->state]),
						  "Open an after-sale case with request_refund(); the merchant decides.");
	return check_fully_refunded(ctx, "request_refund");
}

static CoRefusal *
guard_case_refund(const OrderGuardCtx *ctx)
{
	return check_fully_refunded(ctx, "after-sale refund");
}

/* ----------------------------------------------------------------
 *		The transition table
 * ----------------------------------------------------------------
 */
#define G(fn) fn, #fn

const OrderTransition co_order_transitions[] = {
	{OS_PAID, ACT_START, OS_IN_PRODUCTION, G(guard_start_high),
	"S2 S3: custom order, Start blue (paid_at + start_lock <= now), shop score >= threshold"},
	{OS_PAID, ACT_START, OS_AWAITING_EVIDENCE, G(guard_start_low),
	"S2 S4: custom order, Start blue, shop score < threshold (or none)"},
	{OS_AWAITING_EVIDENCE, ACT_SUBMIT_EVIDENCE, OS_IN_PRODUCTION, G(guard_evidence_direct),
	"S5: a new submitted production bundle; category needs no review"},
	{OS_AWAITING_EVIDENCE, ACT_SUBMIT_EVIDENCE, OS_EVIDENCE_REVIEW, G(guard_evidence_review),
	"S5: a new submitted production bundle; category needs platform review"},
	{OS_EVIDENCE_REVIEW, ACT_REVIEW_APPROVE, OS_IN_PRODUCTION, G(guard_review_approved),
	"S5: the platform approved the bundle"},
	{OS_EVIDENCE_REVIEW, ACT_REVIEW_REJECT, OS_AWAITING_EVIDENCE, G(guard_review_rejected),
	"S5: the platform rejected the bundle; instant refund applies again"},
	{OS_PAID, ACT_SHIP, OS_SHIPPED, G(guard_ship_ordinary),
	"ordinary order, tracking number, no open case"},
	{OS_IN_PRODUCTION, ACT_SHIP, OS_SHIPPED, G(guard_ship_custom),
	"tracking number, no open case (insist_ship closes the case as it ships)"},
	{OS_SHIPPED, ACT_MARK_SIGNED, OS_SIGNED, G(guard_none),
	"logistics reports delivery"},
	{OS_PAID, ACT_REQUEST_REFUND, OS_CANCELLED, G(guard_instant_refund),
	"F2 F6: instant refund, full amount"},
	{OS_AWAITING_EVIDENCE, ACT_REQUEST_REFUND, OS_CANCELLED, G(guard_instant_refund),
	"F2: instant refund, full amount"},
	{OS_EVIDENCE_REVIEW, ACT_REQUEST_REFUND, OS_CANCELLED, G(guard_instant_refund),
	"F2: instant refund, full amount"},
	{OS_IN_PRODUCTION, ACT_AGREE_REFUND, OS_REFUNDED, G(guard_case_refund),
	"A1.1 F7: all that was paid is refunded through a case"},
	{OS_SHIPPED, ACT_AGREE_REFUND, OS_REFUNDED, G(guard_case_refund),
	"A2.1 F7: all that was paid is refunded through a case"},
	{OS_SIGNED, ACT_AGREE_REFUND, OS_REFUNDED, G(guard_case_refund),
	"A2.1 A2.2 F7: all that was paid is refunded through a case"},
};

const int	co_order_transition_count = lengthof(co_order_transitions);

/* ----------------------------------------------------------------
 *		Choosing a transition
 * ----------------------------------------------------------------
 */

bool
co_order_in_effect(OrderState state)
{
	return state == OS_IN_PRODUCTION || state == OS_SHIPPED ||
		state == OS_SIGNED;
}

bool
co_order_before_shipment(OrderState state)
{
	return state == OS_PAID || state == OS_AWAITING_EVIDENCE ||
		state == OS_EVIDENCE_REVIEW || state == OS_IN_PRODUCTION;
}

/*
 * The row of the table that a button's press would take from "old".
 * "proposed" holds the row as the button would write it; its state is set to
 * the chosen row's to-state.  Returns NULL and sets *refusal if no row
 * applies.
 */
const OrderTransition *
co_order_choose(const OrderRow *old, CoAction action, OrderRow *proposed,
				bool probe, CoRefusal **refusal)
{
	OrderGuardCtx ctx;
	CoRefusal  *first = NULL;
	int			i;

	ctx.old = old;
	ctx.new = proposed;
	ctx.probe = probe;
	for (i = 0; i < co_order_transition_count; i++)
	{
		const OrderTransition *t = &co_order_transitions[i];
		CoRefusal  *r;

		if (t->from != old->state || t->action != action)
			continue;
		proposed->state = t->to;
		proposed->v[OC_STATE] = co_order_state_datum(t->to);
		r = t->guard(&ctx);
		if (r == NULL)
		{
			*refusal = NULL;
			return t;
		}
		if (first == NULL)
			first = r;
	}
	proposed->state = old->state;
	proposed->v[OC_STATE] = old->v[OC_STATE];
	if (first == NULL)
		first = co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("%s is not available for an order in state %s",
									co_action_names[action],
									co_order_state_names[old->state]),
						   psprintf("Order " INT64_FORMAT " is %s %s order.",
									ORD_ID(old),
									old->state == OS_IN_PRODUCTION ||
									old->state == OS_AWAITING_EVIDENCE ||
									old->state == OS_EVIDENCE_REVIEW ? "an" : "a",
									co_order_state_names[old->state]),
						   "customorder.order_buttons(order_id) lists what can be pressed now.");
	*refusal = first;
	return NULL;
}

/*
 * Fetch an order's rule columns, locked FOR UPDATE when asked.  A missing
 * order is P0002.
 */
void
co_order_fetch(int64 order_id, const char *button, bool lock, OrderRow *row)
{
	static SPIPlanPtr plan_lock = NULL;
	static SPIPlanPtr plan_read = NULL;
	SPIPlanPtr	plan;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	MemoryContext outer = CurrentMemoryContext;

	if (lock ? plan_lock == NULL : plan_read == NULL)
	{
		StringInfoData sql;
		int			i;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (i = 0; i < OC_COUNT; i++)
			appendStringInfo(&sql, "%so.%s", i ? ", " : "", co_order_col_names[i]);
		appendStringInfoString(&sql, " FROM customorder.orders o "
							   "WHERE o.order_id OPERATOR(pg_catalog.=) $1");
		if (lock)
			appendStringInfoString(&sql, " FOR UPDATE");
		co_connect();
		co_prepare(lock ? &plan_lock : &plan_read, sql.data, 1, argtypes);
		co_finish();
		pfree(sql.data);
	}
	plan = lock ? plan_lock : plan_read;

	co_connect();
	values[0] = Int64GetDatum(order_id);
	co_execute(plan, values, NULL, !lock, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: order " INT64_FORMAT " does not exist",
						button, order_id),
				 errhint("Check the order_id returned by place_order().")));
	{
		HeapTuple	copy;
		MemoryContext spi = MemoryContextSwitchTo(outer);

		copy = heap_copytuple(SPI_tuptable->vals[0]);
		co_order_row_from_tuple(copy, SPI_tuptable->tupdesc, row);
		MemoryContextSwitchTo(spi);
	}
	co_finish();
}

/*
 * Build an OrderRow from a tuple whose columns are in OrderCol order (the
 * buttons' SELECT).
 */
void
co_order_row_from_tuple(HeapTuple tuple, TupleDesc tupdesc, OrderRow *row)
{
	int			i;

	for (i = 0; i < OC_COUNT; i++)
		row->v[i] = heap_getattr(tuple, i + 1, tupdesc, &row->isnull[i]);
	row->state = co_order_state_from_datum(row->v[OC_STATE]);
}

/*
 * Press a button on a locked order: choose the transition (raising the
 * guard's refusal) and write the row.  Only the columns a button may change
 * are written; the trigger judges the write.
 */
OrderState
co_order_apply(const OrderRow *old, CoAction action, OrderRow *proposed)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	CoRefusal  *refusal;
	const OrderTransition *t;

	t = co_order_choose(old, action, proposed, false, &refusal);
	if (t == NULL)
		co_raise(refusal);

	co_connect();
	plan = co_prepare(&plan,
					  "UPDATE customorder.orders o SET "
					  "state = $2::pg_catalog.text::customorder.order_state, "
					  "tracking_no = $3, evidence_bundle_id = $4 "
					  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
					  4, argtypes);
	values[0] = old->v[OC_ORDER_ID];
	values[1] = CStringGetTextDatum(co_order_state_names[t->to]);
	values[2] = proposed->v[OC_TRACKING_NO];
	nulls[2] = proposed->isnull[OC_TRACKING_NO] ? 'n' : ' ';
	values[3] = proposed->v[OC_EVIDENCE_BUNDLE_ID];
	nulls[3] = proposed->isnull[OC_EVIDENCE_BUNDLE_ID] ? 'n' : ' ';
	co_execute(plan, values, nulls, false, 0);
	co_finish();
	return t->to;
}

/* ----------------------------------------------------------------
 *		The trigger
 * ----------------------------------------------------------------
 */

/* Attribute numbers of the rule columns in customorder.orders */
static Oid	attmap_relid = InvalidOid;
static AttrNumber attmap[OC_COUNT];
static bool attmap_callback_registered = false;

static void
attmap_reset(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == attmap_relid)
		attmap_relid = InvalidOid;
}

static void
attmap_fill(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	if (attmap_relid == RelationGetRelid(rel))
		return;
	if (!attmap_callback_registered)
	{
		CacheRegisterRelcacheCallback(attmap_reset, (Datum) 0);
		attmap_callback_registered = true;
	}
	for (i = 0; i < OC_COUNT; i++)
	{
		attmap[i] = SPI_fnumber(tupdesc, co_order_col_names[i]);
		if (attmap[i] <= 0)
			elog(ERROR, "column \"%s\" of customorder.orders is missing",
				 co_order_col_names[i]);
	}
	attmap_relid = RelationGetRelid(rel);
}

/*
 * Deform the whole tuple in one pass (heap_getattr per column would walk
 * the tuple again after every nullable or variable-width column) and pick
 * the rule columns.  The values point into the tuple.
 */
static void
row_from_trigger_tuple(HeapTuple tuple, TupleDesc tupdesc, OrderRow *row)
{
	Datum	   *values = palloc(tupdesc->natts * sizeof(Datum));
	bool	   *isnull = palloc(tupdesc->natts * sizeof(bool));
	int			i;

	heap_deform_tuple(tuple, tupdesc, values, isnull);
	for (i = 0; i < OC_COUNT; i++)
	{
		row->v[i] = values[attmap[i] - 1];
		row->isnull[i] = isnull[attmap[i] - 1];
	}
	pfree(values);
	pfree(isnull);
	row->state = co_order_state_from_datum(row->v[OC_STATE]);
}

static bool
col_changed(const OrderRow *a, const OrderRow *b, OrderCol col,
			TupleDesc tupdesc)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, attmap[col] - 1);

	if (a->isnull[col] != b->isnull[col])
		return true;
	if (a->isnull[col])
		return false;
	return !datumIsEqual(a->v[col], b->v[col], att->attbyval, att->attlen);
}

static void
refuse_column(const OrderRow *old, OrderCol col, const char *why,
			  const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("orders.%s cannot be changed directly (%s)",
					co_order_col_names[col], why),
			 errdetail("Order " INT64_FORMAT " is in state %s.",
					   ORD_ID(old), co_order_state_names[old->state]),
			 errhint("%s", hint)));
}

/* Columns fixed when the order is placed (L4 snapshot and payment) */
static const OrderCol immutable_cols[] = {
	OC_ORDER_ID, OC_SHOP_ID, OC_PRODUCT_ID, OC_BUYER_ID, OC_AMOUNT,
	OC_IS_CUSTOM, OC_PAID_AT, OC_SHIP_BY, OC_CATEGORY_ID, OC_START_LOCK,
	OC_HIGH_SCORE_THRESHOLD, OC_EVIDENCE_REVIEW, OC_PROMISED_SHIP
};

/* Timestamps the trigger sets from customorder.now() on their transition */
static const OrderCol stamped_cols[] = {
	OC_CUSTOM_STARTED_AT, OC_SHIPPED_AT, OC_SIGNED_AT, OC_CLOSED_AT
};

static HeapTuple
order_check_update(Relation rel, HeapTuple oldtuple, HeapTuple newtuple)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	OrderRow	old;
	OrderRow	new;
	bool		case_permit;
	int			i;
	int			stamp_col = -1;
	OrderGuardCtx ctx;
	CoRefusal  *first = NULL;
	const OrderTransition *chosen = NULL;

	row_from_trigger_tuple(oldtuple, tupdesc, &old);
	row_from_trigger_tuple(newtuple, tupdesc, &new);

	for (i = 0; i < lengthof(immutable_cols); i++)
		if (col_changed(&old, &new, immutable_cols[i], tupdesc))
			refuse_column(&old, immutable_cols[i],
						  "it is fixed when the order is placed (rule L4)",
						  "Place a new order instead.");

	case_permit = co_permit.kind == PERMIT_ORDER_CASE &&
		co_permit.order_id == ORD_ID(&old);
	if (!case_permit)
	{
		if (col_changed(&old, &new, OC_REFUNDED_AMOUNT, tupdesc))
			refuse_column(&old, OC_REFUNDED_AMOUNT,
						  "money moves only through after-sale cases (rule F7)",
						  "Use customorder.request_refund() and the after-sale buttons.");
		if (col_changed(&old, &new, OC_OPEN_AFTERSALE_ID, tupdesc))
			refuse_column(&old, OC_OPEN_AFTERSALE_ID,
						  "it is maintained by the after-sale trigger (rule F7)",
						  "Open and close cases in customorder.aftersales.");
	}

	if (old.state == new.state)
	{
		for (i = 0; i < lengthof(stamped_cols); i++)
			if (col_changed(&old, &new, stamped_cols[i], tupdesc))
				refuse_column(&old, stamped_cols[i],
							  "it is set from customorder.now() by its transition",
							  "Press the button that makes the transition.");
		if (col_changed(&old, &new, OC_TRACKING_NO, tupdesc))
			refuse_column(&old, OC_TRACKING_NO,
						  "it is set when the order ships",
						  "Pass the tracking number to ship() or insist_ship().");
		if (col_changed(&old, &new, OC_EVIDENCE_BUNDLE_ID, tupdesc))
			refuse_column(&old, OC_EVIDENCE_BUNDLE_ID,
						  "it is set when evidence is submitted (rule S5)",
						  "Use customorder.submit_custom_evidence().");
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  new.v[OC_REFUNDED_AMOUNT],
											  new.v[OC_AMOUNT])) >= 0 &&
			col_changed(&old, &new, OC_REFUNDED_AMOUNT, tupdesc))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("a partial refund cannot use up the order's amount without closing it (rule F7)"),
					 errdetail("Order " INT64_FORMAT ": amount %s, refunded %s.",
							   ORD_ID(&old), co_numeric_str(old.v[OC_AMOUNT]),
							   co_numeric_str(new.v[OC_REFUNDED_AMOUNT])),
					 errhint("A refund of all that remains moves the order to refunded.")));
		return newtuple;
	}

	/* A state change: it must be a row of the table whose guard passes */
	if (!new.isnull[OC_TRACKING_NO] && new.state != OS_SHIPPED &&
		col_changed(&old, &new, OC_TRACKING_NO, tupdesc))
		refuse_column(&old, OC_TRACKING_NO, "it is set when the order ships",
					  "Pass the tracking number to ship() or insist_ship().");
	if (col_changed(&old, &new, OC_EVIDENCE_BUNDLE_ID, tupdesc) &&
		!(old.state == OS_AWAITING_EVIDENCE &&
		  (new.state == OS_IN_PRODUCTION || new.state == OS_EVIDENCE_REVIEW)))
		refuse_column(&old, OC_EVIDENCE_BUNDLE_ID,
					  "it is set when evidence is submitted (rule S5)",
					  "Use customorder.submit_custom_evidence().");

	ctx.old = &old;
	ctx.new = &new;
	ctx.probe = false;
	for (i = 0; i < co_order_transition_count; i++)
	{
		const OrderTransition *t = &co_order_transitions[i];
		CoRefusal  *r;

		if (t->from != old.state || t->to != new.state)
			continue;
		r = t->guard(&ctx);
		if (r == NULL)
		{
			chosen = t;
			break;
		}
		if (first == NULL)
			first = r;
	}
	if (chosen == NULL)
	{
		if (first)
			co_raise(first);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("order state change from %s to %s is not in the transition table",
						co_order_state_names[old.state],
						co_order_state_names[new.state]),
				 errdetail("Order " INT64_FORMAT ".", ORD_ID(&old)),
				 errhint("customorder.transitions() lists every legal change; customorder.order_buttons(order_id) what can be pressed now.")));
	}

	/* Timestamps belong to the transition, from customorder.now() */
	switch (chosen->action)
	{
		case ACT_START:
			stamp_col = OC_CUSTOM_STARTED_AT;
			break;
		case ACT_SHIP:
			stamp_col = OC_SHIPPED_AT;
			break;
		case ACT_MARK_SIGNED:
			stamp_col = OC_SIGNED_AT;
			break;
		case ACT_REQUEST_REFUND:
		case ACT_AGREE_REFUND:
			stamp_col = OC_CLOSED_AT;
			break;
		default:
			break;
	}
	for (i = 0; i < lengthof(stamped_cols); i++)
		if (stamped_cols[i] != stamp_col &&
			col_changed(&old, &new, stamped_cols[i], tupdesc))
			refuse_column(&old, stamped_cols[i],
						  "it is set from customorder.now() by its transition",
						  "Press the button that makes the transition.");
	if (stamp_col >= 0)
	{
		int			colnum = attmap[stamp_col];
		Datum		value = TimestampTzGetDatum(co_now());
		bool		isnull = false;

		newtuple = heap_modify_tuple_by_cols(newtuple, tupdesc, 1, &colnum,
											 &value, &isnull);
	}
	return newtuple;
}

/*
 * INSERT: an order starts paid; the trigger fills what the product and its
 * category say at this moment (L4) and the payment time.
 */
static HeapTuple
order_check_insert(Relation rel, HeapTuple newtuple)
{
	static SPIPlanPtr plan = NULL;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	OrderRow	new;
	int			colnums[OC_COUNT];
	Datum		setv[OC_COUNT];
	bool		setn[OC_COUNT];
	int			nset = 0;
	TimestampTz now = co_now();
	int			i;

	row_from_trigger_tuple(newtuple, tupdesc, &new);

	if (new.isnull[OC_PRODUCT_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: product_id must not be null"),
				 errhint("Pass the product that was paid for.")));
	if (new.isnull[OC_BUYER_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: buyer_id must not be null"),
				 errhint("Pass the buyer who paid.")));
	if (new.isnull[OC_AMOUNT])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: amount must not be null"),
				 errhint("Pass the amount paid.")));
	co_check_money(new.v[OC_AMOUNT], "place_order", "amount", true);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, new.v[OC_AMOUNT],
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("place_order: amount must be positive"),
				 errdetail("Amount %s.", co_numeric_str(new.v[OC_AMOUNT])),
				 errhint("Pass the amount the buyer paid.")));
	if (new.state != OS_PAID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("an order starts in state paid (rule S1)"),
				 errdetail("The new order has state %s.",
						   co_order_state_names[new.state]),
				 errhint("Insert with state paid (the default), or call customorder.place_order().")));

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT p.shop_id, p.is_custom, p.promised_ship, p.category_id, "
					  "c.start_lock, c.high_score_threshold, c.evidence_review "
					  "FROM customorder.products p "
					  "JOIN customorder.categories c "
					  "ON c.category_id OPERATOR(pg_catalog.=) p.category_id "
					  "WHERE p.product_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	values[0] = new.v[OC_PRODUCT_ID];
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("place_order: product " INT64_FORMAT " does not exist",
						DatumGetInt64(new.v[OC_PRODUCT_ID])),
				 errhint("Publish the product first.")));
	{
		static const OrderCol from_product[] = {
			OC_SHOP_ID, OC_IS_CUSTOM, OC_PROMISED_SHIP, OC_CATEGORY_ID,
			OC_START_LOCK, OC_HIGH_SCORE_THRESHOLD, OC_EVIDENCE_REVIEW
		};
		HeapTuple	ptup = SPI_tuptable->vals[0];
		TupleDesc	pdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		promised = (Datum) 0;
		bool		promised_null = true;

		for (i = 0; i < lengthof(from_product); i++)
		{
			Datum		d = SPI_getbinval(ptup, pdesc, i + 1, &isnull);
			Form_pg_attribute att = TupleDescAttr(tupdesc, attmap[from_product[i]] - 1);

			colnums[nset] = attmap[from_product[i]];
			setn[nset] = isnull;
			setv[nset] = isnull ? (Datum) 0 : SPI_datumTransfer(d, att->attbyval, att->attlen);
			if (from_product[i] == OC_PROMISED_SHIP)
			{
				promised = setv[nset];
				promised_null = isnull;
			}
			nset++;
		}
		colnums[nset] = attmap[OC_PAID_AT];
		setv[nset] = TimestampTzGetDatum(now);
		setn[nset++] = false;
		colnums[nset] = attmap[OC_SHIP_BY];
		setn[nset] = promised_null;
		setv[nset] = promised_null ? (Datum) 0 :
			DirectFunctionCall2(timestamptz_pl_interval,
								TimestampTzGetDatum(now), promised);
		nset++;
	}
	co_finish();

	/* Nothing has happened to a new order yet */
	{
		static const OrderCol cleared[] = {
			OC_CUSTOM_STARTED_AT, OC_TRACKING_NO, OC_SHIPPED_AT, OC_SIGNED_AT,
			OC_EVIDENCE_BUNDLE_ID, OC_OPEN_AFTERSALE_ID, OC_CLOSED_AT
		};

		for (i = 0; i < lengthof(cleared); i++)
		{
			colnums[nset] = attmap[cleared[i]];
			setv[nset] = (Datum) 0;
			setn[nset++] = true;
		}
		/* zero in the column's own scale, as an ordinary INSERT stores it */
		colnums[nset] = attmap[OC_REFUNDED_AMOUNT];
		setv[nset] = DirectFunctionCall2(numeric,
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)),
										 Int32GetDatum(TupleDescAttr(tupdesc, attmap[OC_REFUNDED_AMOUNT] - 1)->atttypmod));
		setn[nset++] = false;
	}
	return heap_modify_tuple_by_cols(newtuple, tupdesc, nset, colnums,
									 setv, setn);
}

Datum
co_order_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "co_order_trigger: not called by trigger manager");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "co_order_trigger: must be fired before, for each row");

	attmap_fill(trigdata->tg_relation);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		result = order_check_insert(trigdata->tg_relation,
									trigdata->tg_trigtuple);
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		result = order_check_update(trigdata->tg_relation,
									trigdata->tg_trigtuple,
									trigdata->tg_newtuple);
	else
	{
		OrderRow	old;

		row_from_trigger_tuple(trigdata->tg_trigtuple,
							   RelationGetDescr(trigdata->tg_relation), &old);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders are never deleted"),
				 errdetail("Order " INT64_FORMAT " is in state %s.",
						   ORD_ID(&old), co_order_state_names[old.state]),
				 errhint("Cancel or refund it through customorder.request_refund().")));
		result = NULL;
	}
	return PointerGetDatum(result);
}
