/*-------------------------------------------------------------------------
 *
 * order_machine.c
 *	  The order state machine: its transition table and its guards (rules
 *	  S1-S5, shipping, F2 and F6's instant refund, refunds through a case).
 *	  The order trigger (order_trigger.c) runs it on every write.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

/* ----------------------------------------------------------------
 *		Guards
 * ----------------------------------------------------------------
 */

/* S1/S2: custom order, and the grey window is over */
static CoRefusal *
check_start_enabled(const CoGuardCtx *ctx)
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
 * H9: the score is read FOR SHARE, so it is the latest committed one (READ
 * COMMITTED waits for a change in progress and reads its result); under
 * REPEATABLE READ or SERIALIZABLE a score changed after the snapshot is a
 * serialization failure (40001), never judged stale.  FOR KEY SHARE would
 * not do: a score update does not touch the key, and would not conflict.
 * Distributed, it reads and locks this node's placement of shops, which a
 * score update through Citus writes too (co_prepare_reference).
 */
static bool
shop_score_is_high(const OrderRow *o, char **score_out)
{
	static CoReferencePlan plan;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		high = false;
	bool		isnull;
	Datum		score;

	co_connect();
	values[0] = o->v[OC_SHOP_ID];
	co_execute(co_prepare_reference(&plan, "shops",
									"SELECT s.service_score FROM %s s "
									"WHERE s.shop_id OPERATOR(pg_catalog.=) $1 FOR SHARE",
									1, argtypes),
			   values, NULL, false, 1);
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
guard_start_high(const CoGuardCtx *ctx)
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
guard_start_low(const CoGuardCtx *ctx)
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
check_evidence_qualified(const CoGuardCtx *ctx)
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
guard_evidence_direct(const CoGuardCtx *ctx)
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
guard_evidence_review(const CoGuardCtx *ctx)
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
check_review_outcome(const CoGuardCtx *ctx, const char *wanted)
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
guard_review_approved(const CoGuardCtx *ctx)
{
	return check_review_outcome(ctx, "approved");
}

static CoRefusal *
guard_review_rejected(const CoGuardCtx *ctx)
{
	return check_review_outcome(ctx, "rejected");
}

/*
 * P4: a case in arbitration does not stop shipping.  Under the order's
 * lock, which every change of the case takes first.  The case is read by
 * its order's key: on Citus this trigger runs on the order's shard, where
 * the case's shard is local (a lookup by its id alone may be remote, which
 * Citus refuses in a trigger on a shard).
 */
static bool
open_case_in_arbitration(const OrderRow *order)
{
	CaseRow		kase;
	OrderRow	o;

	co_case_fetch_in_order(ORD_ID(order),
						   DatumGetInt64(order->v[OC_OPEN_AFTERSALE_ID]), "ship",
						   false, &kase, &o);
	return kase.state == CS_ARBITRATION;
}

/* Shipping: a tracking number, and no open after-sale case (but P4) */
static CoRefusal *
check_ship(const CoGuardCtx *ctx)
{
	const OrderRow *n = ctx->new;

	if (!n->isnull[OC_OPEN_AFTERSALE_ID] && !open_case_in_arbitration(n))
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
guard_ship_custom(const CoGuardCtx *ctx)
{
	return check_ship(ctx);
}

static CoRefusal *
guard_ship_ordinary(const CoGuardCtx *ctx)
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
guard_none(const CoGuardCtx *ctx)
{
	return NULL;
}

/* Money: the order is closed only once all it was paid is refunded */
static CoRefusal *
check_fully_refunded(const CoGuardCtx *ctx, const char *button)
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
guard_instant_refund(const CoGuardCtx *ctx)
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
guard_case_refund(const CoGuardCtx *ctx)
{
	return check_fully_refunded(ctx, "after-sale refund");
}

/* ----------------------------------------------------------------
 *		The transition table
 * ----------------------------------------------------------------
 */
#define B(col) CO_BIT(OC_##col)
#define OC_NONE CO_NO_STAMP
#define ROW(from, action, to, guard, may_change, stamp, rule) \
	{OS_##from, ACT_##action, OS_##to, guard, #guard, may_change, OC_##stamp, \
	 NULL, CLOCK_KEEPS, rule}
/* T1, T3: ship_by passed on an unshipped order; run_due stamps late_at */
#define LATE_ROW(state) \
	{OS_##state, ACT_MARK_LATE, OS_##state, co_guard_deadline_passed, \
	 "co_guard_deadline_passed", 0, OC_LATE_AT, NULL, CLOCK_STOPS, \
	 "T1 T3: ship_by passed, not shipped; the system stamps late_at", DL_SHIP_BY}

static const CoTransition order_transitions[] = {
	ROW(PAID, START, IN_PRODUCTION, guard_start_high, 0, CUSTOM_STARTED_AT,
		"S2 S3: custom order, Start blue (paid_at + start_lock <= now), shop score >= threshold"),
	ROW(PAID, START, AWAITING_EVIDENCE, guard_start_low, 0, CUSTOM_STARTED_AT,
		"S2 S4: custom order, Start blue, shop score < threshold (or none)"),
	ROW(AWAITING_EVIDENCE, SUBMIT_EVIDENCE, IN_PRODUCTION, guard_evidence_direct, B(EVIDENCE_BUNDLE_ID), NONE,
		"S5: a new submitted production bundle; category needs no review"),
	ROW(AWAITING_EVIDENCE, SUBMIT_EVIDENCE, EVIDENCE_REVIEW, guard_evidence_review, B(EVIDENCE_BUNDLE_ID), NONE,
		"S5: a new submitted production bundle; category needs platform review"),
	ROW(EVIDENCE_REVIEW, REVIEW_APPROVE, IN_PRODUCTION, guard_review_approved, 0, NONE,
		"S5: the platform approved the bundle"),
	ROW(EVIDENCE_REVIEW, REVIEW_REJECT, AWAITING_EVIDENCE, guard_review_rejected, 0, NONE,
		"S5: the platform rejected the bundle; instant refund applies again"),
	ROW(PAID, SHIP, SHIPPED, guard_ship_ordinary, B(TRACKING_NO), SHIPPED_AT,
		"P4: ordinary order, tracking number, no open case but one in arbitration"),
	ROW(IN_PRODUCTION, SHIP, SHIPPED, guard_ship_custom, B(TRACKING_NO), SHIPPED_AT,
		"P4: tracking number, no open case but one in arbitration (insist_ship closes the case as it ships)"),
	ROW(SHIPPED, MARK_SIGNED, SIGNED, guard_none, 0, SIGNED_AT,
		"logistics reports delivery"),
	ROW(PAID, REQUEST_REFUND, CANCELLED, guard_instant_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"F2 F6: instant refund, full amount"),
	ROW(AWAITING_EVIDENCE, REQUEST_REFUND, CANCELLED, guard_instant_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"F2: instant refund, full amount"),
	ROW(EVIDENCE_REVIEW, REQUEST_REFUND, CANCELLED, guard_instant_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"F2: instant refund, full amount"),
	ROW(IN_PRODUCTION, REQUEST_REFUND, CANCELLED, guard_instant_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"T1 F2: late (ship_by passed, late_at stamped) and the order's late_refund_instant: instant refund, full amount"),
	LATE_ROW(PAID),
	LATE_ROW(AWAITING_EVIDENCE),
	LATE_ROW(EVIDENCE_REVIEW),
	LATE_ROW(IN_PRODUCTION),
	ROW(IN_PRODUCTION, AGREE_REFUND, REFUNDED, guard_case_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"A1.1 F7: all that was paid is refunded through a case"),
	ROW(SHIPPED, AGREE_REFUND, REFUNDED, guard_case_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"A2.1 F7: all that was paid is refunded through a case"),
	ROW(SIGNED, AGREE_REFUND, REFUNDED, guard_case_refund, B(REFUNDED_AMOUNT) | B(OPEN_AFTERSALE_ID), CLOSED_AT,
		"A2.1 A2.2 F7: all that was paid is refunded through a case"),
};

/* A press names an action no row leaves the order's state by */
static CoRefusal *
order_no_row(const CoGuardCtx *ctx, int from, CoAction action, int to)
{
	const OrderRow *o = ctx->old;

	if ((int) action < 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("order state change from %s to %s is not in the transition table",
								   co_order_state_names[from],
								   co_order_state_names[to]),
						  psprintf("Order " INT64_FORMAT ".", ORD_ID(o)),
						  "customorder.transitions() lists every legal change; customorder.order_buttons(order_id) what can be pressed now.");
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("%s is not available for an order in state %s",
							   co_action_names[action],
							   co_order_state_names[from]),
					  psprintf("Order " INT64_FORMAT " is %s %s order.",
							   ORD_ID(o),
							   from == OS_IN_PRODUCTION ||
							   from == OS_AWAITING_EVIDENCE ||
							   from == OS_EVIDENCE_REVIEW ? "an" : "a",
							   co_order_state_names[from]),
					  "customorder.order_buttons(order_id) lists what can be pressed now.");
}

/*
 * A column the chosen change does not write was changed: why it cannot be,
 * and which button writes it.
 */
static CoRefusal *
order_bad_column(const CoGuardCtx *ctx, const CoTransition *t, int col)
{
	const char *why;
	const char *hint;

	switch (col)
	{
		case OC_TRACKING_NO:
			why = "it is set when the order ships";
			hint = "Pass the tracking number to ship() or insist_ship().";
			break;
		case OC_EVIDENCE_BUNDLE_ID:
			why = "it is set when evidence is submitted (rule S5)";
			hint = "Use customorder.submit_custom_evidence().";
			break;
		case OC_REFUNDED_AMOUNT:
			why = "money moves only through after-sale cases (rule F7)";
			hint = "Use customorder.request_refund() and the after-sale buttons.";
			break;
		case OC_OPEN_AFTERSALE_ID:
			why = "it is maintained by the after-sale trigger (rule F7)";
			hint = "Open and close cases in customorder.aftersales.";
			break;
		default:
			why = "it is set from customorder.now() by its transition";
			hint = "Press the button that makes the transition.";
			break;
	}
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("orders.%s cannot be changed directly (%s)",
							   co_order_col_names[col], why),
					  psprintf("Order " INT64_FORMAT " is in state %s.",
							   ORD_ID(ctx->old),
							   co_order_state_names[ctx->old->state]),
					  hint);
}

const CoMachine co_order_machine = {
	"order", &co_orders_table, co_order_state_names, -1,
	order_transitions, lengthof(order_transitions),
	order_no_row, order_bad_column
};
