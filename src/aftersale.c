/*-------------------------------------------------------------------------
 *
 * aftersale.c
 *	  Refunds and after-sale cases: the case state machine, its trigger on
 *	  customorder.aftersales, refund eligibility (F1-F7) and the buyer's
 *	  request_refund button.
 *
 *	  A case row is the record of every refund, instant ones included.  The
 *	  case trigger judges each change against the case table and applies its
 *	  effect on the order (money, the open-case marker, shipment) through a
 *	  permitted UPDATE, which the order trigger judges in turn.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "aftersale.h"

PG_FUNCTION_INFO_V1(co_case_trigger);
PG_FUNCTION_INFO_V1(co_request_refund);
PG_FUNCTION_INFO_V1(co_refund_eligibility);

const char *const co_case_col_names[CC_COUNT] = {
	"order_id", "aftersale_id", "kind", "reason", "state", "requested_at",
	"refund_amount", "proposed_amount", "comm_reason", "communicated_at",
	"reject_reason", "proof_bundle_id", "tracking_no", "buyer_bundle_id",
	"closed_at"
};

const char *const co_kind_names[KIND_COUNT] = {"refund_only", "return_refund"};

const char *const co_comm_reason_names[COMM_COUNT] = {
	"in_transit", "negotiate_amount", "invite_evidence", "agreement_reached",
	"signed_not_received"
};

/* Columns a button writes; the rest are fixed or the trigger's */
static const CaseCol mutable_cols[] = {
	CC_REFUND_AMOUNT, CC_PROPOSED_AMOUNT, CC_COMM_REASON, CC_REJECT_REASON,
	CC_PROOF_BUNDLE_ID, CC_TRACKING_NO, CC_BUYER_BUNDLE_ID
};

const char *const co_reason_names[REASON_COUNT] = {
	"no_reason", "quality", "wrong_quantity", "not_received", "not_as_agreed"
};

/* ----------------------------------------------------------------
 *		Eligibility (F1-F3, F6)
 * ----------------------------------------------------------------
 */

/*
 * F2 and the cancel part of F6: before customization is in effect (custom)
 * or before shipment (ordinary), a refund request is refunded at once.
 */
bool
co_order_instant_refund_applies(const OrderRow *row)
{
	if (ORD_IS_CUSTOM(row))
		return row->state == OS_PAID || row->state == OS_AWAITING_EVIDENCE ||
			row->state == OS_EVIDENCE_REVIEW;
	return row->state == OS_PAID;
}

/*
 * F6: is a no_reason return_refund asked at "asked_at" the buyer's right on
 * this ordinary order?  The 7 days count from signing; a request made while
 * the goods travel (not yet signed) is covered too.
 */
bool
co_no_reason_return_covered(const OrderRow *row, TimestampTz asked_at)
{
	if (ORD_IS_CUSTOM(row))
		return false;
	if (row->isnull[OC_SIGNED_AT])
		return row->state == OS_SHIPPED;
	return asked_at < DatumGetTimestampTz(row->v[OC_SIGNED_AT]) + CO_SEVEN_DAYS_USEC;
}

Datum
co_order_remaining(const OrderRow *row)
{
	return DirectFunctionCall2(numeric_sub, row->v[OC_AMOUNT],
							   row->v[OC_REFUNDED_AMOUNT]);
}

/* ----------------------------------------------------------------
 *		Guards
 * ----------------------------------------------------------------
 */

static CoRefusal *
case_refuse(int code, const char *message, const char *detail, const char *hint)
{
	return co_refusal(code, message, detail, hint);
}

/* What every request checks: a live order, no other open case, valid kind */
static CoRefusal *
check_request(const CaseGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;

	if (o->state == OS_CANCELLED || o->state == OS_REFUNDED)
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("request_refund: order is already %s",
									co_order_state_names[o->state]),
						   psprintf("Order " INT64_FORMAT " has refunded %s of %s.",
									ORD_ID(o), co_numeric_str(o->v[OC_REFUNDED_AMOUNT]),
									co_numeric_str(o->v[OC_AMOUNT])),
						   "Nothing is left to refund.");
	if (!o->isnull[OC_OPEN_AFTERSALE_ID])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "request_refund: the order already has an open after-sale case (rule F7)",
						   psprintf("Order " INT64_FORMAT " has open case " INT64_FORMAT ".",
									ORD_ID(o), DatumGetInt64(o->v[OC_OPEN_AFTERSALE_ID])),
						   "Wait for the merchant's answer, or withdraw the case with withdraw_refund() and ask again.");
	if (ctx->probe)
		return NULL;
	if (n->kind == KIND_RETURN_REFUND && co_order_before_shipment(o->state))
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "request_refund: before shipment the kind is refund_only",
						   psprintf("Order " INT64_FORMAT " is %s; nothing has been shipped to return.",
									ORD_ID(o), co_order_state_names[o->state]),
						   "Ask with kind refund_only.");
	return NULL;
}

static CoRefusal *
guard_open_instant(const CaseGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	CoRefusal  *r = check_request(ctx);

	if (r)
		return r;
	if (!co_order_instant_refund_applies(o))
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   ORD_IS_CUSTOM(o) ?
						   "request_refund: no instant refund once customization is in effect (rules F2, F3)" :
						   "request_refund: no instant refund once the order has shipped (rule F6)",
						   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						   "The request opens an after-sale case the merchant decides.");
	if (ctx->probe)
		return NULL;
	if (ctx->new->isnull[CC_REFUND_AMOUNT] ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, ctx->new->v[CC_REFUND_AMOUNT],
										  co_order_remaining(o))) != 0)
		return case_refuse(ERRCODE_CHECK_VIOLATION,
						   "request_refund: an instant refund returns all that was paid (rule F2)",
						   psprintf("Order " INT64_FORMAT ": refundable %s, case refund_amount %s.",
									ORD_ID(o), co_numeric_str(co_order_remaining(o)),
									ctx->new->isnull[CC_REFUND_AMOUNT] ? "null" :
									co_numeric_str(ctx->new->v[CC_REFUND_AMOUNT])),
						   "Call customorder.request_refund(order_id, kind, reason).");
	return NULL;
}

static CoRefusal *
guard_open_case(const CaseGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	CoRefusal  *r = check_request(ctx);

	if (r)
		return r;
	if (co_order_instant_refund_applies(o))
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "request_refund: before customization is in effect the refund is instant (rule F2)",
						   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						   "Call customorder.request_refund(); it refunds at once.");
	if (!ctx->probe && !ctx->new->isnull[CC_REFUND_AMOUNT])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "request_refund: a new case has refunded nothing yet (rule F3)",
						   psprintf("Case refund_amount %s.",
									co_numeric_str(ctx->new->v[CC_REFUND_AMOUNT])),
						   "The merchant agrees with agree_refund().");
	return NULL;
}

/* Scenario 1 (A1): not yet shipped; scenario 2 (A2): shipped or signed */
static bool
scenario_shipped(const OrderRow *o)
{
	return o->state == OS_SHIPPED || o->state == OS_SIGNED;
}

/*
 * F6: an ordinary order's no_reason return_refund asked within 7 days of
 * signing is the buyer's right; the merchant cannot reject it.
 */
static CoRefusal *
check_rejectable(const CaseGuardCtx *ctx, const char *button)
{
	const OrderRow *o = ctx->order;
	const CaseRow *c = ctx->old;

	if (ORD_IS_CUSTOM(o) || c == NULL || c->kind != KIND_RETURN_REFUND ||
		c->reason != REASON_NO_REASON)
		return NULL;
	if (co_no_reason_return_covered(o, DatumGetTimestampTz(c->v[CC_REQUESTED_AT])))
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("%s: an ordinary order's 7-day no-reason return cannot be rejected (rule F6)", button),
						   o->isnull[OC_SIGNED_AT] ?
						   psprintf("Order " INT64_FORMAT " is not signed yet; case " INT64_FORMAT " asked a no_reason return_refund at %s, before the 7 days from signing began.",
									ORD_ID(o), DatumGetInt64(c->v[CC_AFTERSALE_ID]),
									co_timestamptz_str(DatumGetTimestampTz(c->v[CC_REQUESTED_AT]))) :
						   psprintf("Order " INT64_FORMAT " was signed at %s; case " INT64_FORMAT " asked a no_reason return_refund at %s.",
									ORD_ID(o), co_timestamptz_str(DatumGetTimestampTz(o->v[OC_SIGNED_AT])),
									DatumGetInt64(c->v[CC_AFTERSALE_ID]),
									co_timestamptz_str(DatumGetTimestampTz(c->v[CC_REQUESTED_AT]))),
						   "Agree the refund with agree_refund().");
	return NULL;
}

static CoRefusal *
guard_withdraw(const CaseGuardCtx *ctx)
{
	return NULL;
}

/* A1.1 A2.1: all that is still refundable */
static CoRefusal *
guard_agree(const CaseGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;

	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_REFUND_AMOUNT] ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT],
										  co_order_remaining(ctx->order))) != 0)
		return case_refuse(ERRCODE_CHECK_VIOLATION,
						   "agree_refund refunds all that is still refundable (rule A1.1, A2.1)",
						   psprintf("Order " INT64_FORMAT ": refundable %s, case refund_amount %s.",
									ORD_ID(ctx->order), co_numeric_str(co_order_remaining(ctx->order)),
									n->isnull[CC_REFUND_AMOUNT] ? "null" : co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						   "Call customorder.agree_refund(aftersale_id); a partial refund is negotiated with propose_refund_amount().");
	return NULL;
}

static CoRefusal *
guard_insist_reject(const CaseGuardCtx *ctx)
{
	return check_rejectable(ctx, "insist_reject");
}

/*
 * communicate: scenario 1 takes no reason; scenario 2 one of five reasons,
 * each with its logistics precondition (A2.2).  "wanted" is the case state
 * the reason leads to.
 */
static CoRefusal *
check_communicate(const CaseGuardCtx *ctx, CaseState wanted)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;
	char	   *reason;
	int			r;
	CaseState	leads_to;
	bool		ok;

	if (!ctx->probe && !n->isnull[CC_COMM_REASON] &&
		co_lookup_label(co_comm_reason_names, COMM_COUNT,
						TextDatumGetCString(n->v[CC_COMM_REASON])) < 0)
		return case_refuse(ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("communicate: unknown reason \"%s\"",
									TextDatumGetCString(n->v[CC_COMM_REASON])),
						   NULL,
						   "Pass NULL before shipment; after it in_transit, negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	if (!scenario_shipped(o))
	{
		if (ctx->probe)
			return wanted == CS_COMMUNICATING ? NULL :
				case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							"communicate: not shipped", NULL, NULL);
		if (!n->isnull[CC_COMM_REASON])
			return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "communicate: before shipment the reason is null (rule A1.2)",
							   psprintf("Order " INT64_FORMAT " is %s; reason \"%s\" is a shipped-order reason.",
										ORD_ID(o), co_order_state_names[o->state],
										TextDatumGetCString(n->v[CC_COMM_REASON])),
							   "Call communicate(aftersale_id, NULL).");
		return wanted == CS_COMMUNICATING ? NULL :
			case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						"communicate: before shipment the case goes to communicating (rule A1.2)",
						NULL, "Call communicate(aftersale_id, NULL).");
	}
	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_COMM_REASON])
		return case_refuse(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						   "communicate: after shipment a reason is required (rule A2.2)",
						   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						   "Pass in_transit, negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	reason = TextDatumGetCString(n->v[CC_COMM_REASON]);
	r = co_lookup_label(co_comm_reason_names, COMM_COUNT, reason);
	if (r < 0)
		return case_refuse(ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("communicate: unknown reason \"%s\"", reason),
						   NULL,
						   "Pass in_transit, negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	switch ((CommReason) r)
	{
		case COMM_IN_TRANSIT:
			ok = o->state == OS_SHIPPED;
			break;
		case COMM_AGREEMENT_REACHED:
			ok = true;
			break;
		default:
			ok = o->state == OS_SIGNED;
			break;
	}
	if (!ok)
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("communicate: reason %s needs the goods %s (rule A2.2)", reason,
									r == COMM_IN_TRANSIT ? "shipped and not yet signed" : "signed"),
						   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						   o->state == OS_SHIPPED ?
						   "While in transit, communicate with in_transit or agreement_reached." :
						   "Once signed, communicate with negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	leads_to = r == COMM_NEGOTIATE_AMOUNT ? CS_NEGOTIATING :
		r == COMM_INVITE_EVIDENCE ? CS_AWAITING_BUYER_EVIDENCE : CS_COMMUNICATING;
	if (leads_to != wanted)
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("communicate: reason %s leads to %s (rule A2.2)", reason,
									co_case_state_names[leads_to]),
						   NULL, "Let the button choose the state.");
	return NULL;
}

static CoRefusal *
guard_communicate(const CaseGuardCtx *ctx)
{
	return check_communicate(ctx, CS_COMMUNICATING);
}

static CoRefusal *
guard_communicate_negotiate(const CaseGuardCtx *ctx)
{
	return check_communicate(ctx, CS_NEGOTIATING);
}

static CoRefusal *
guard_communicate_invite(const CaseGuardCtx *ctx)
{
	return check_communicate(ctx, CS_AWAITING_BUYER_EVIDENCE);
}

/*
 * Does the case name a submitted bundle of this case with this purpose?
 * Returns the number of images, or -1 if not.
 */
static int
case_bundle_images(const CaseGuardCtx *ctx, CaseCol col, const char *purpose)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	int			images = -1;

	if (ctx->new->isnull[col])
		return -1;
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT b.image_count FROM customorder.evidence_bundles b "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.bundle_id OPERATOR(pg_catalog.=) $2 "
					  "AND b.aftersale_id OPERATOR(pg_catalog.=) $3 "
					  "AND b.purpose OPERATOR(pg_catalog.=) $4 "
					  "AND b.submitted_at IS NOT NULL",
					  4, argtypes);
	values[0] = ctx->order->v[OC_ORDER_ID];
	values[1] = ctx->new->v[col];
	values[2] = ctx->new->v[CC_AFTERSALE_ID];
	values[3] = CStringGetTextDatum(purpose);
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed == 1)
		images = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	co_finish();
	return images;
}

/*
 * continue_reject (A1.2, A2.3): after communicating; scenario 1 with
 * production photos, scenario 2 with a reason that fits the logistics and
 * a logistics proof.
 */
static CoRefusal *
guard_continue_reject(const CaseGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;
	CoRefusal  *r = check_rejectable(ctx, "continue_reject");
	char	   *reason;

	if (r)
		return r;
	if (ctx->old->isnull[CC_COMMUNICATED_AT])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   scenario_shipped(ctx->order) ?
						   "continue_reject is grey until the merchant has communicated (rule A2.3)" :
						   "continue_reject is grey until the merchant has communicated (rule A1.2)",
						   psprintf("Case " INT64_FORMAT " has sent the buyer nothing yet.",
									DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID])),
						   "Press communicate() first; it sends the default script.");
	if (ctx->probe)
		return NULL;
	if (!scenario_shipped(o))
	{
		if (!n->isnull[CC_REJECT_REASON])
			return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: before shipment the reason is null (rule A1.2)",
							   psprintf("Order " INT64_FORMAT " is %s; reason \"%s\" is a shipped-order reason.",
										ORD_ID(o), co_order_state_names[o->state],
										TextDatumGetCString(n->v[CC_REJECT_REASON])),
							   "Call continue_reject(aftersale_id, NULL, items) with production photos.");
		if (case_bundle_images(ctx, CC_PROOF_BUNDLE_ID, "rejection_proof") < 1)
			return case_refuse(ERRCODE_CHECK_VIOLATION,
							   "continue_reject needs clear photos of the buyer's goods in production (rule A1.2)",
							   "The case names no submitted production proof with an image.",
							   "Pass the photos as items to continue_reject().");
		return NULL;
	}
	if (n->isnull[CC_REJECT_REASON])
		return case_refuse(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						   "continue_reject: after shipment a reason is required (rule A2.3)",
						   NULL, "Pass in_transit or signed_no_reason.");
	reason = TextDatumGetCString(n->v[CC_REJECT_REASON]);
	if (strcmp(reason, "in_transit") == 0)
	{
		if (o->state != OS_SHIPPED)
			return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: in_transit only while the goods are shipped and not signed (rule A2.3)",
							   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
										co_order_state_names[o->state]),
							   "Once signed, reject with signed_no_reason if the request has no reason.");
	}
	else if (strcmp(reason, "signed_no_reason") == 0)
	{
		if (o->state != OS_SIGNED)
			return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: signed_no_reason only once the goods are signed (rule A2.3)",
							   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
										co_order_state_names[o->state]),
							   "While in transit, reject with in_transit.");
		if (ctx->old->reason != REASON_NO_REASON)
			return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: signed_no_reason only rejects a no_reason request (rule F5)",
							   psprintf("Case " INT64_FORMAT " asks for reason %s.",
										DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID]),
										co_reason_names[ctx->old->reason]),
							   "Answer a quality complaint: negotiate an amount, invite evidence, or agree the refund.");
	}
	else
		return case_refuse(ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("continue_reject: unknown reason \"%s\"", reason),
						   NULL, "Pass in_transit or signed_no_reason.");
	if (case_bundle_images(ctx, CC_PROOF_BUNDLE_ID, "logistics_proof") < 0)
		return case_refuse(ERRCODE_CHECK_VIOLATION,
						   "continue_reject needs a logistics proof (rule A2.3)",
						   "The case names no submitted logistics proof.",
						   "Pass the logistics screenshots as items to continue_reject().");
	return NULL;
}

/* A1.3: goods finished but not shipped, after communicating */
static CoRefusal *
guard_insist_ship(const CaseGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;

	if (scenario_shipped(o))
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "insist_ship is only for goods not yet shipped (rule A1.3)",
						   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						   "Communicate with a shipped-order reason instead.");
	if (ctx->old->isnull[CC_COMMUNICATED_AT])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "insist_ship is grey until the merchant has communicated (rule A1.3)",
						   NULL, "Press communicate() first.");
	if (ctx->probe)
		return NULL;
	return co_tracking_refusal("insist_ship", " (rule A1.3)",
							   n->isnull[CC_TRACKING_NO], n->v[CC_TRACKING_NO],
							   NULL, NULL);
}

/* A2.2: 0 < amount <= paid - already refunded */
static CoRefusal *
guard_propose(const CaseGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_PROPOSED_AMOUNT])
		return case_refuse(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						   "propose_refund_amount needs an amount (rule A2.2)",
						   NULL, "Pass the amount agreed in chat.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_PROPOSED_AMOUNT], zero)) <= 0)
		return case_refuse(ERRCODE_INVALID_PARAMETER_VALUE,
						   "propose_refund_amount: the amount must be positive (rule A2.2)",
						   psprintf("Amount %s.", co_numeric_str(n->v[CC_PROPOSED_AMOUNT])),
						   "Pass an amount greater than 0.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_PROPOSED_AMOUNT],
										  co_order_remaining(ctx->order))) > 0)
		return case_refuse(ERRCODE_CHECK_VIOLATION,
						   "propose_refund_amount: the amount exceeds what is still refundable (rule A2.2)",
						   psprintf("Order " INT64_FORMAT ": paid %s, refunded %s, proposed %s.",
									ORD_ID(ctx->order), co_numeric_str(ctx->order->v[OC_AMOUNT]),
									co_numeric_str(ctx->order->v[OC_REFUNDED_AMOUNT]),
									co_numeric_str(n->v[CC_PROPOSED_AMOUNT])),
						   psprintf("Propose at most %s.", co_numeric_str(co_order_remaining(ctx->order))));
	return NULL;
}

static CoRefusal *
check_proposal(const CaseGuardCtx *ctx, const char *button)
{
	if (ctx->old->isnull[CC_PROPOSED_AMOUNT])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("%s: the merchant has proposed no amount yet (rule A2.2)", button),
						   psprintf("Case " INT64_FORMAT " is negotiating without a proposal.",
									DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID])),
						   "Wait for propose_refund_amount().");
	return NULL;
}

static CoRefusal *
guard_accept(const CaseGuardCtx *ctx)
{
	CoRefusal  *r = check_proposal(ctx, "accept_refund_amount");
	const CaseRow *n = ctx->new;

	if (r || ctx->probe)
		return r;
	if (n->isnull[CC_REFUND_AMOUNT] ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT],
										  ctx->old->v[CC_PROPOSED_AMOUNT])) != 0)
		return case_refuse(ERRCODE_CHECK_VIOLATION,
						   "accept_refund_amount refunds the proposed amount (rule A2.2)",
						   psprintf("Proposed %s, case refund_amount %s.",
									co_numeric_str(ctx->old->v[CC_PROPOSED_AMOUNT]),
									n->isnull[CC_REFUND_AMOUNT] ? "null" : co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						   "Call customorder.accept_refund_amount(aftersale_id).");
	return NULL;
}

static CoRefusal *
guard_decline(const CaseGuardCtx *ctx)
{
	CoRefusal  *r = check_proposal(ctx, "decline_refund_amount");

	if (r || ctx->probe)
		return r;
	if (!ctx->new->isnull[CC_PROPOSED_AMOUNT])
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "decline_refund_amount withdraws the proposal (rule A2.2)",
						   NULL, "Call customorder.decline_refund_amount(aftersale_id).");
	return NULL;
}

/* A2.2: the buyer's supplement is a submitted bundle of this case */
static CoRefusal *
guard_supplement(const CaseGuardCtx *ctx)
{
	if (ctx->probe)
		return NULL;
	if (case_bundle_images(ctx, CC_BUYER_BUNDLE_ID, "buyer_supplement") < 0)
		return case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   "supplement_evidence needs the buyer's submitted bundle (rule A2.2)",
						   "The case names no submitted buyer_supplement bundle.",
						   "Call customorder.supplement_evidence(aftersale_id, items).");
	return NULL;
}

#define G(fn) fn, #fn
#define B(col) CASE_BIT(CC_##col)
#define OPEN_ROWS(action, to, guard, bits, rule) \
	{CS_REQUESTED, action, to, G(guard), bits, rule}, \
	{CS_REJECTING, action, to, G(guard), bits, rule}, \
	{CS_COMMUNICATING, action, to, G(guard), bits, rule}, \
	{CS_NEGOTIATING, action, to, G(guard), bits, rule}, \
	{CS_AWAITING_BUYER_EVIDENCE, action, to, G(guard), bits, rule}

const CaseTransition co_case_transitions[] = {
	{CS_NONE, ACT_REQUEST_REFUND, CS_INSTANT_REFUNDED, G(guard_open_instant), B(REFUND_AMOUNT),
	"F2 F6: before customization is in effect (ordinary: before shipment), refund all at once"},
	{CS_NONE, ACT_REQUEST_REFUND, CS_REQUESTED, G(guard_open_case), 0,
	"F3 F4 F7: customization in effect or shipped; no other open case"},
	OPEN_ROWS(ACT_WITHDRAW, CS_WITHDRAWN, guard_withdraw, 0,
			  "A3: the buyer withdraws an open case"),
	OPEN_ROWS(ACT_AGREE_REFUND, CS_REFUNDED, guard_agree, B(REFUND_AMOUNT),
			  "A1.1 A2.1: refund all that is still refundable; the order goes to refunded"),
	{CS_REQUESTED, ACT_INSIST_REJECT, CS_REJECTING, G(guard_insist_reject), 0,
	"A1.2 A2.2 F6: not an ordinary order's 7-day no-reason return"},
	{CS_REJECTING, ACT_COMMUNICATE, CS_COMMUNICATING, G(guard_communicate), B(COMM_REASON),
	"A1.2 A2.2: default script sent; reason null before shipment, in_transit (shipped), agreement_reached, signed_not_received (signed)"},
	{CS_REJECTING, ACT_COMMUNICATE, CS_NEGOTIATING, G(guard_communicate_negotiate), B(COMM_REASON),
	"A2.2: negotiate_amount, goods signed"},
	{CS_REJECTING, ACT_COMMUNICATE, CS_AWAITING_BUYER_EVIDENCE, G(guard_communicate_invite), B(COMM_REASON),
	"A2.2: invite_evidence, goods signed"},
	{CS_COMMUNICATING, ACT_COMMUNICATE, CS_COMMUNICATING, G(guard_communicate), B(COMM_REASON),
	"A2.2: communicate again, possibly with another reason"},
	{CS_COMMUNICATING, ACT_COMMUNICATE, CS_NEGOTIATING, G(guard_communicate_negotiate), B(COMM_REASON),
	"A2.2: negotiate_amount, goods signed"},
	{CS_COMMUNICATING, ACT_COMMUNICATE, CS_AWAITING_BUYER_EVIDENCE, G(guard_communicate_invite), B(COMM_REASON),
	"A2.2: invite_evidence, goods signed"},
	{CS_REJECTING, ACT_CONTINUE_REJECT, CS_REJECTED, G(guard_continue_reject),
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID),
	"A1.2 A2.3: grey until the merchant has communicated (always refused from rejecting)"},
	{CS_COMMUNICATING, ACT_CONTINUE_REJECT, CS_REJECTED, G(guard_continue_reject),
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID),
	"A1.2 A2.3 F5 F6: communicated; production photos (not shipped) or in_transit / signed_no_reason with logistics proof"},
	{CS_REJECTING, ACT_INSIST_SHIP, CS_CLOSED_BY_SHIPMENT, G(guard_insist_ship), B(TRACKING_NO),
	"A1.3: grey until the merchant has communicated (always refused from rejecting)"},
	{CS_COMMUNICATING, ACT_INSIST_SHIP, CS_CLOSED_BY_SHIPMENT, G(guard_insist_ship), B(TRACKING_NO),
	"A1.3: not shipped, communicated, tracking number; the order ships"},
	{CS_NEGOTIATING, ACT_PROPOSE_AMOUNT, CS_NEGOTIATING, G(guard_propose), B(PROPOSED_AMOUNT),
	"A2.2: 0 < amount <= paid - already refunded"},
	{CS_NEGOTIATING, ACT_ACCEPT_AMOUNT, CS_REFUNDED, G(guard_accept), B(REFUND_AMOUNT),
	"A2.2 F7: the buyer accepts; partial refund, the order keeps its state unless nothing remains"},
	{CS_NEGOTIATING, ACT_DECLINE_AMOUNT, CS_COMMUNICATING, G(guard_decline), B(PROPOSED_AMOUNT),
	"A2.2: the buyer declines; back to communicating"},
	{CS_AWAITING_BUYER_EVIDENCE, ACT_SUPPLEMENT_EVIDENCE, CS_COMMUNICATING, G(guard_supplement), B(BUYER_BUNDLE_ID),
	"A2.2: the buyer's supplement bundle; back to communicating"},
};

const int	co_case_transition_count = lengthof(co_case_transitions);

/* ----------------------------------------------------------------
 *		Case rows
 * ----------------------------------------------------------------
 */

static Oid	case_attmap_relid = InvalidOid;
static AttrNumber case_attmap[CC_COUNT];
static bool case_attmap_callback = false;

static void
case_attmap_reset(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == case_attmap_relid)
		case_attmap_relid = InvalidOid;
}

static void
case_attmap_fill(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	if (case_attmap_relid == RelationGetRelid(rel))
		return;
	if (!case_attmap_callback)
	{
		CacheRegisterRelcacheCallback(case_attmap_reset, (Datum) 0);
		case_attmap_callback = true;
	}
	for (i = 0; i < CC_COUNT; i++)
	{
		case_attmap[i] = SPI_fnumber(tupdesc, co_case_col_names[i]);
		if (case_attmap[i] <= 0)
			elog(ERROR, "column \"%s\" of customorder.aftersales is missing",
				 co_case_col_names[i]);
	}
	case_attmap_relid = RelationGetRelid(rel);
}

/* Decode kind and reason; -1 when unknown, -2 when null */
static void
case_decode_request(CaseRow *row)
{
	row->kind = row->isnull[CC_KIND] ? -2 :
		co_lookup_label(co_kind_names, KIND_COUNT,
						TextDatumGetCString(row->v[CC_KIND]));
	row->reason = row->isnull[CC_REASON] ? -2 :
		co_lookup_label(co_reason_names, REASON_COUNT,
						TextDatumGetCString(row->v[CC_REASON]));
}

/* A request names a known kind and reason: 22004 when null, 22023 unknown */
static void
case_check_request(const CaseRow *row)
{
	if (row->kind == -2 || row->reason == -2)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request_refund: %s must not be null",
						row->kind == -2 ? "kind" : "reason"),
				 errhint("kind is refund_only or return_refund; reason is no_reason, quality, wrong_quantity, not_received or not_as_agreed.")));
	if (row->kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_refund: unknown kind \"%s\"",
						TextDatumGetCString(row->v[CC_KIND])),
				 errhint("kind is refund_only or return_refund.")));
	if (row->reason < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_refund: unknown reason \"%s\"",
						TextDatumGetCString(row->v[CC_REASON])),
				 errhint("reason is no_reason, quality, wrong_quantity, not_received or not_as_agreed.")));
}


static void
case_decode(CaseRow *row)
{
	row->state = co_case_state_from_datum(row->v[CC_STATE]);
	case_decode_request(row);
}

static void
case_from_trigger_tuple(HeapTuple tuple, TupleDesc tupdesc, CaseRow *row)
{
	int			i;

	for (i = 0; i < CC_COUNT; i++)
		row->v[i] = heap_getattr(tuple, case_attmap[i], tupdesc, &row->isnull[i]);
	case_decode(row);
}

/*
 * Fetch a case by id and its order, both locked FOR UPDATE when asked.  The
 * case row is locked first, then the order: the same order a raw UPDATE of
 * the case takes (the executor locks the case row, then its trigger locks
 * the order), so a button and a raw update cannot deadlock.  Both are locked
 * before anything is judged.  A missing case is P0002.
 */
void
co_case_fetch(int64 aftersale_id, const char *button, bool lock,
			  CaseRow *row, OrderRow *order)
{
	static SPIPlanPtr plan_case = NULL;
	static SPIPlanPtr plan_case_read = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	MemoryContext outer = CurrentMemoryContext;

	values[0] = Int64GetDatum(aftersale_id);
	co_connect();
	if (lock ? plan_case == NULL : plan_case_read == NULL)
	{
		StringInfoData sql;
		int			i;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (i = 0; i < CC_COUNT; i++)
			appendStringInfo(&sql, "%sa.%s", i ? ", " : "", co_case_col_names[i]);
		appendStringInfoString(&sql, " FROM customorder.aftersales a "
							   "WHERE a.aftersale_id OPERATOR(pg_catalog.=) $1");
		if (lock)
			appendStringInfoString(&sql, " FOR UPDATE");
		co_prepare(lock ? &plan_case : &plan_case_read, sql.data, 1, argtypes);
	}
	co_execute(lock ? plan_case : plan_case_read, values, NULL, !lock, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: after-sale case " INT64_FORMAT " does not exist",
						button, aftersale_id),
				 errhint("Check the aftersale_id returned by request_refund().")));
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		HeapTuple	copy = heap_copytuple(SPI_tuptable->vals[0]);
		int			i;

		for (i = 0; i < CC_COUNT; i++)
			row->v[i] = heap_getattr(copy, i + 1, SPI_tuptable->tupdesc, &row->isnull[i]);
		case_decode(row);
		MemoryContextSwitchTo(spi);
	}
	co_finish();

	co_order_fetch(DatumGetInt64(row->v[CC_ORDER_ID]), button, lock, order);
}

/*
 * The case transition a button would take; NULL and *refusal if none.
 */
const CaseTransition *
co_case_choose(const CaseRow *old, const OrderRow *order, CoAction action,
			   CaseRow *proposed, bool probe, CoRefusal **refusal)
{
	CaseGuardCtx ctx;
	CoRefusal  *first = NULL;
	CaseState	from = old ? old->state : CS_NONE;
	int			i;

	ctx.old = old;
	ctx.new = proposed;
	ctx.order = order;
	ctx.probe = probe;
	for (i = 0; i < co_case_transition_count; i++)
	{
		const CaseTransition *t = &co_case_transitions[i];
		CoRefusal  *r;

		if (t->from != from || t->action != action)
			continue;
		proposed->state = t->to;
		proposed->v[CC_STATE] = co_case_state_datum(t->to);
		r = t->guard(&ctx);
		if (r == NULL)
		{
			*refusal = NULL;
			return t;
		}
		if (first == NULL)
			first = r;
	}
	if (first == NULL)
		first = co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						   psprintf("%s is not available for an after-sale case in state %s",
									co_action_names[action], co_case_state_names[from]),
						   old ? psprintf("Case " INT64_FORMAT " of order " INT64_FORMAT " is %s.",
										  DatumGetInt64(old->v[CC_AFTERSALE_ID]),
										  ORD_ID(order), co_case_state_names[from]) :
						   psprintf("Order " INT64_FORMAT " has no open case.", ORD_ID(order)),
						   "customorder.order_buttons(order_id) lists what can be pressed now.");
	*refusal = first;
	return NULL;
}

bool
co_case_is_open(CaseState state)
{
	return state == CS_REQUESTED || state == CS_REJECTING ||
		state == CS_COMMUNICATING || state == CS_NEGOTIATING ||
		state == CS_AWAITING_BUYER_EVIDENCE;
}

/* ----------------------------------------------------------------
 *		The trigger
 * ----------------------------------------------------------------
 */

/*
 * Apply a case's change to its order: money, the open-case marker and, for
 * insist_ship, the shipment.  Runs under the order permit; the order trigger
 * still judges the resulting order transition.
 */
static void
case_apply_to_order(const CaseRow *new, const OrderRow *order)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {INT8OID, TEXTOID, NUMERICOID, INT8OID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	OrderState	to = order->state;
	Datum		refunded = order->v[OC_REFUNDED_AMOUNT];
	bool		open = co_case_is_open(new->state);

	if ((new->state == CS_INSTANT_REFUNDED || new->state == CS_REFUNDED) &&
		!new->isnull[CC_REFUND_AMOUNT])
	{
		refunded = DirectFunctionCall2(numeric_add, refunded,
									   new->v[CC_REFUND_AMOUNT]);
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, refunded,
											  order->v[OC_AMOUNT])) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("a refund cannot exceed what is still refundable (rule F7)"),
					 errdetail("Order " INT64_FORMAT ": paid %s, already refunded %s, this refund %s.",
							   ORD_ID(order), co_numeric_str(order->v[OC_AMOUNT]),
							   co_numeric_str(order->v[OC_REFUNDED_AMOUNT]),
							   co_numeric_str(new->v[CC_REFUND_AMOUNT])),
					 errhint("Refund at most %s.", co_numeric_str(co_order_remaining(order)))));
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, refunded,
											  order->v[OC_AMOUNT])) == 0)
			to = new->state == CS_INSTANT_REFUNDED ? OS_CANCELLED : OS_REFUNDED;
	}
	if (new->state == CS_CLOSED_BY_SHIPMENT)
		to = OS_SHIPPED;

	co_connect();
	plan = co_prepare(&plan,
					  "UPDATE customorder.orders o SET "
					  "state = $2::pg_catalog.text::customorder.order_state, "
					  "refunded_amount = $3, open_aftersale_id = $4, "
					  "tracking_no = COALESCE($5, o.tracking_no) "
					  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
					  5, argtypes);
	values[0] = order->v[OC_ORDER_ID];
	values[1] = CStringGetTextDatum(co_order_state_names[to]);
	values[2] = refunded;
	values[3] = new->v[CC_AFTERSALE_ID];
	nulls[3] = open ? ' ' : 'n';
	if (new->state == CS_CLOSED_BY_SHIPMENT && !new->isnull[CC_TRACKING_NO])
		values[4] = new->v[CC_TRACKING_NO];
	else
		nulls[4] = 'n';
	co_execute_permitted(PERMIT_ORDER_CASE, ORD_ID(order), plan, values, nulls, 0);
	co_finish();
}

/*
 * communicate: record the default script of the situation (scenario 1, or
 * the scenario-2 reason) as sent to the buyer now.
 */
static void
case_record_communication(const CaseRow *c)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	const char *situation = c->isnull[CC_COMM_REASON] ? "not_shipped" :
	TextDatumGetCString(c->v[CC_COMM_REASON]);

	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.communications "
					  "(order_id, aftersale_id, comm_no, reason, script, sent_at) "
					  "SELECT $1, $2, "
					  "  (SELECT COALESCE(pg_catalog.max(m.comm_no), 0) OPERATOR(pg_catalog.+) 1 "
					  "   FROM customorder.communications m "
					  "   WHERE m.order_id OPERATOR(pg_catalog.=) $1 "
					  "   AND m.aftersale_id OPERATOR(pg_catalog.=) $2), "
					  "  s.situation, s.script, $4 "
					  "FROM customorder.scripts s WHERE s.situation OPERATOR(pg_catalog.=) $3",
					  4, argtypes);
	values[0] = c->v[CC_ORDER_ID];
	values[1] = c->v[CC_AFTERSALE_ID];
	values[2] = CStringGetTextDatum(situation);
	values[3] = TimestampTzGetDatum(co_now());
	co_execute(plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("communicate: no default script for situation \"%s\"", situation),
				 errhint("The platform keeps the scripts in customorder.scripts.")));
	co_finish();
}

static bool
case_col_changed(const CaseRow *a, const CaseRow *b, CaseCol col,
				 TupleDesc tupdesc)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, case_attmap[col] - 1);

	if (a->isnull[col] != b->isnull[col])
		return true;
	if (a->isnull[col])
		return false;
	return !datumIsEqual(a->v[col], b->v[col], att->attbyval, att->attlen);
}

/*
 * A writer set communicated_at or closed_at, which only the trigger stamps
 * (from customorder.now()) when the merchant communicates or the case closes.
 */
static void
case_stamp_forged(CaseCol col)
{
	if (col == CC_COMMUNICATED_AT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aftersales.communicated_at is set when the merchant communicates"),
				 errhint("Press communicate().")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("aftersales.closed_at is set when the case closes"),
			 errhint("Press the button that closes the case.")));
}

Datum
co_case_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	CaseRow		old;
	CaseRow		new;
	OrderRow	order;
	CaseGuardCtx ctx;
	CoRefusal  *first = NULL;
	const CaseTransition *chosen = NULL;
	bool		is_insert;
	uint32		changed = 0;
	int			i;
	int			colnums[CC_COUNT];
	Datum		setv[CC_COUNT];
	bool		setn[CC_COUNT];
	int			nset = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "co_case_trigger: must be fired before, for each row");
	case_attmap_fill(trigdata->tg_relation);
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	is_insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		case_from_trigger_tuple(trigdata->tg_trigtuple, tupdesc, &old);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("after-sale cases are never deleted"),
				 errdetail("Case " INT64_FORMAT " is %s.",
						   DatumGetInt64(old.v[CC_AFTERSALE_ID]),
						   co_case_state_names[old.state]),
				 errhint("The buyer withdraws a case with withdraw_refund().")));
	}

	newtuple = is_insert ? trigdata->tg_trigtuple : trigdata->tg_newtuple;
	case_from_trigger_tuple(newtuple, tupdesc, &new);
	if (!is_insert)
		case_from_trigger_tuple(trigdata->tg_trigtuple, tupdesc, &old);

	/* Shape of the request */
	if (new.isnull[CC_ORDER_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request_refund: order_id must not be null"),
				 errhint("Pass the order the refund is for.")));
	case_check_request(&new);

	if (!is_insert)
	{
		static const CaseCol fixed[] = {CC_ORDER_ID, CC_AFTERSALE_ID, CC_KIND,
		CC_REASON, CC_REQUESTED_AT};

		for (i = 0; i < lengthof(fixed); i++)
			if (case_col_changed(&old, &new, fixed[i], tupdesc))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("aftersales.%s cannot be changed", co_case_col_names[fixed[i]]),
						 errdetail("Case " INT64_FORMAT " is %s.",
								   DatumGetInt64(old.v[CC_AFTERSALE_ID]),
								   co_case_state_names[old.state]),
						 errhint("Open a new case after this one closes.")));
		if (!co_case_is_open(old.state))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a closed after-sale case cannot change (rule F7)"),
					 errdetail("Case " INT64_FORMAT " is %s.",
							   DatumGetInt64(old.v[CC_AFTERSALE_ID]),
							   co_case_state_names[old.state]),
					 errhint("A new request opens a new case.")));
	}

	/* Lock the order before judging anything about it */
	co_order_fetch(DatumGetInt64(new.v[CC_ORDER_ID]), "request_refund", true,
				   &order);

	/* What the writer changed among the columns buttons write */
	for (i = 0; i < lengthof(mutable_cols); i++)
		if (is_insert ? !new.isnull[mutable_cols[i]] :
			case_col_changed(&old, &new, mutable_cols[i], tupdesc))
			changed |= CASE_BIT(mutable_cols[i]);
	if (!is_insert && changed == 0 && old.state == new.state)
	{
		/* nothing happens, unless the writer forges the trigger's stamps */
		if (case_col_changed(&old, &new, CC_COMMUNICATED_AT, tupdesc))
			case_stamp_forged(CC_COMMUNICATED_AT);
		if (case_col_changed(&old, &new, CC_CLOSED_AT, tupdesc))
			case_stamp_forged(CC_CLOSED_AT);
		return PointerGetDatum(newtuple);
	}

	ctx.old = is_insert ? NULL : &old;
	ctx.new = &new;
	ctx.order = &order;
	ctx.probe = false;
	for (i = 0; i < co_case_transition_count; i++)
	{
		const CaseTransition *t = &co_case_transitions[i];
		CoRefusal  *r;
		int			c;

		if (t->from != (is_insert ? CS_NONE : old.state) || t->to != new.state)
			continue;
		if ((changed & ~t->may_change) != 0)
		{
			for (c = 0; c < CC_COUNT; c++)
				if (changed & ~t->may_change & CASE_BIT(c))
					break;
			r = case_refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							psprintf("%s does not write aftersales.%s",
									 co_action_names[t->action], co_case_col_names[c]),
							psprintf("Case change from %s to %s.",
									 co_case_state_names[t->from], co_case_state_names[t->to]),
							"Use the after-sale buttons.");
		}
		else
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
				 errmsg("after-sale change from %s to %s is not in the transition table",
						co_case_state_names[is_insert ? CS_NONE : old.state],
						co_case_state_names[new.state]),
				 errdetail("Order " INT64_FORMAT ".", ORD_ID(&order)),
				 errhint("customorder.transitions() lists every legal change; customorder.order_buttons(order_id) what can be pressed now.")));
	}

	/* Timestamps from customorder.now() */
	if (is_insert)
	{
		colnums[nset] = case_attmap[CC_REQUESTED_AT];
		setv[nset] = TimestampTzGetDatum(co_now());
		setn[nset++] = false;
	}
	if (!co_case_is_open(new.state))
	{
		colnums[nset] = case_attmap[CC_CLOSED_AT];
		setv[nset] = TimestampTzGetDatum(co_now());
		setn[nset++] = false;
	}
	else if (!is_insert && case_col_changed(&old, &new, CC_CLOSED_AT, tupdesc))
		case_stamp_forged(CC_CLOSED_AT);
	if (chosen->action == ACT_COMMUNICATE)
	{
		/* Send the default script: record it, stamp the case */
		case_record_communication(&new);
		colnums[nset] = case_attmap[CC_COMMUNICATED_AT];
		setv[nset] = TimestampTzGetDatum(co_now());
		setn[nset++] = false;
	}
	else if (is_insert ? !new.isnull[CC_COMMUNICATED_AT] :
			 case_col_changed(&old, &new, CC_COMMUNICATED_AT, tupdesc))
		case_stamp_forged(CC_COMMUNICATED_AT);
	if (is_insert && !new.isnull[CC_CLOSED_AT] && co_case_is_open(new.state))
		case_stamp_forged(CC_CLOSED_AT);
	if (nset > 0)
		newtuple = heap_modify_tuple_by_cols(newtuple, tupdesc, nset, colnums,
											 setv, setn);

	/* The case's effect on its order */
	if (is_insert || co_case_is_open(old.state) != co_case_is_open(new.state) ||
		new.state == CS_REFUNDED)
		case_apply_to_order(&new, &order);

	return PointerGetDatum(newtuple);
}

/* ----------------------------------------------------------------
 *		Buttons and queries
 * ----------------------------------------------------------------
 */

/*
 * request_refund(order_id, kind, reason) -> aftersale_id.  Before
 * customization is in effect the case is born instant_refunded and the order
 * cancelled (F2); afterwards it opens a case the merchant decides (F3).
 */
Datum
co_request_refund(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	const char *button = "request_refund";
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	OrderRow	order;
	CaseRow		proposed;
	CoRefusal  *refusal;
	const CaseTransition *t;
	bool		isnull;
	int64		aftersale_id;

	co_require_arg(fcinfo, 0, button, "order_id");
	co_require_arg(fcinfo, 1, button, "kind");
	co_require_arg(fcinfo, 2, button, "reason");

	memset(&proposed, 0, sizeof(proposed));
	for (int i = 0; i < CC_COUNT; i++)
		proposed.isnull[i] = true;
	proposed.v[CC_KIND] = PG_GETARG_DATUM(1);
	proposed.isnull[CC_KIND] = false;
	proposed.v[CC_REASON] = PG_GETARG_DATUM(2);
	proposed.isnull[CC_REASON] = false;
	case_decode_request(&proposed);
	case_check_request(&proposed);

	co_order_fetch(PG_GETARG_INT64(0), button, true, &order);
	co_authorize_order(button, CO_WHO_BUYER, &order);
	proposed.v[CC_ORDER_ID] = order.v[OC_ORDER_ID];
	proposed.isnull[CC_ORDER_ID] = false;
	if (co_order_instant_refund_applies(&order))
	{
		proposed.v[CC_REFUND_AMOUNT] = co_order_remaining(&order);
		proposed.isnull[CC_REFUND_AMOUNT] = false;
	}
	t = co_case_choose(NULL, &order, ACT_REQUEST_REFUND, &proposed, false, &refusal);
	if (t == NULL)
		co_raise(refusal);

	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.aftersales "
					  "(order_id, kind, reason, state, refund_amount) "
					  "VALUES ($1, $2, $3, $4::pg_catalog.text::customorder.aftersale_state, $5) "
					  "RETURNING aftersale_id",
					  5, argtypes);
	values[0] = order.v[OC_ORDER_ID];
	values[1] = proposed.v[CC_KIND];
	values[2] = proposed.v[CC_REASON];
	values[3] = CStringGetTextDatum(co_case_state_names[t->to]);
	values[4] = proposed.v[CC_REFUND_AMOUNT];
	nulls[4] = proposed.isnull[CC_REFUND_AMOUNT] ? 'n' : ' ';
	co_execute(plan, values, nulls, false, 0);
	aftersale_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	co_finish();
	PG_RETURN_INT64(aftersale_id);
}

/*
 * refund_eligibility(order_id): what a buyer's request would do now.
 */
Datum
co_refund_eligibility(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	OrderRow	o;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	bool		instant = false;
	bool		can_request = false;
	bool		merchant_decides = false;
	bool		no_reason_return = false;
	char	   *why;

	co_require_arg(fcinfo, 0, "refund_eligibility", "order_id");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "refund_eligibility must return a row");
	co_order_fetch(PG_GETARG_INT64(0), "refund_eligibility", false, &o);
	co_authorize_order("refund_eligibility", CO_WHO_ANYONE, &o);

	if (o.state == OS_CANCELLED || o.state == OS_REFUNDED)
		why = psprintf("The order is %s: nothing is left to refund.",
					   co_order_state_names[o.state]);
	else if (!o.isnull[OC_OPEN_AFTERSALE_ID])
	{
		merchant_decides = true;
		why = psprintf("After-sale case " INT64_FORMAT " is open; one case at a time (F7).",
					   DatumGetInt64(o.v[OC_OPEN_AFTERSALE_ID]));
	}
	else if (co_order_instant_refund_applies(&o))
	{
		instant = can_request = true;
		why = ORD_IS_CUSTOM(&o) ?
			pstrdup("Customization is not in effect yet: a request is refunded instantly (F2).") :
			pstrdup("The order has not shipped: a cancel is refunded instantly (F6).");
	}
	else if (ORD_IS_CUSTOM(&o))
	{
		can_request = merchant_decides = true;
		why = o.state == OS_IN_PRODUCTION ?
			pstrdup("Customization is in effect and the goods are in production: the merchant decides (F3, F4); no 7-day no-reason return (F5).") :
			pstrdup("Customization is in effect: a request opens a case the merchant decides (F3, F5); no 7-day no-reason return.");
	}
	else
	{
		can_request = merchant_decides = true;
		no_reason_return = co_no_reason_return_covered(&o, co_now());
		why = !no_reason_return ?
			pstrdup("More than 7 days since signing: the merchant decides (F6).") :
			o.state == OS_SHIPPED ?
			pstrdup("Shipped: a no_reason return_refund is the buyer's right, the 7 days counting from signing (F6); other requests the merchant decides.") :
			psprintf("Signed at %s: a no_reason return_refund within 7 days is the buyer's right (F6); other requests the merchant decides.",
					 co_timestamptz_str(DatumGetTimestampTz(o.v[OC_SIGNED_AT])));
	}

	values[0] = BoolGetDatum(instant);
	values[1] = BoolGetDatum(can_request);
	values[2] = BoolGetDatum(merchant_decides);
	values[3] = BoolGetDatum(no_reason_return);
	values[4] = CStringGetTextDatum(why);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
