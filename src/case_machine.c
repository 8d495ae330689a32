/*-------------------------------------------------------------------------
 *
 * case_machine.c
 *	  The after-sale case machine: its transition table, its guards and the
 *	  columns its presses compute (rules F2-F7, A1, A2, A3, returns R1-R5,
 *	  platform arbitration P1-P3).  The case
 *	  trigger (case_trigger.c) runs it on every write.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

/* ----------------------------------------------------------------
 *		Guards
 * ----------------------------------------------------------------
 */

/* What every request checks: a live order, no other open case, valid kind */
static CoRefusal *
check_request(const CoGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;

	if (o->state == OS_CANCELLED || o->state == OS_REFUNDED)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("request_refund: order is already %s",
									co_order_state_names[o->state]),
						  psprintf("Order " INT64_FORMAT " has refunded %s of %s.",
									ORD_ID(o), co_numeric_str(o->v[OC_REFUNDED_AMOUNT]),
									co_numeric_str(o->v[OC_AMOUNT])),
						  "Nothing is left to refund.");
	if (!o->isnull[OC_OPEN_AFTERSALE_ID])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "request_refund: the order already has an open after-sale case (rule F7)",
						  psprintf("Order " INT64_FORMAT " has open case " INT64_FORMAT ".",
									ORD_ID(o), DatumGetInt64(o->v[OC_OPEN_AFTERSALE_ID])),
						  "Wait for the merchant's answer, or withdraw the case with withdraw_refund() and ask again.");
	if (ctx->probe)
		return NULL;
	if (n->kind == KIND_RETURN_REFUND && co_order_before_shipment(o->state))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "request_refund: before shipment the kind is refund_only",
						  psprintf("Order " INT64_FORMAT " is %s; nothing has been shipped to return.",
									ORD_ID(o), co_order_state_names[o->state]),
						  "Ask with kind refund_only.");
	return NULL;
}

static CoRefusal *
guard_open_instant(const CoGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	CoRefusal  *r = check_request(ctx);

	if (r)
		return r;
	if (!co_order_instant_refund_applies(o))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
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
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "request_refund: an instant refund returns all that was paid (rule F2)",
						  psprintf("Order " INT64_FORMAT ": refundable %s, case refund_amount %s.",
									ORD_ID(o), co_numeric_str(co_order_remaining(o)),
									ctx->new->isnull[CC_REFUND_AMOUNT] ? "null" :
									co_numeric_str(ctx->new->v[CC_REFUND_AMOUNT])),
						  "Call customorder.request_refund(order_id, kind, reason).");
	return NULL;
}

static CoRefusal *
guard_open_case(const CoGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	CoRefusal  *r = check_request(ctx);

	if (r)
		return r;
	if (co_order_instant_refund_applies(o))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "request_refund: before customization is in effect the refund is instant (rule F2)",
						  psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						  "Call customorder.request_refund(); it refunds at once.");
	if (!ctx->probe && !ctx->new->isnull[CC_REFUND_AMOUNT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "request_refund: a new case has refunded nothing yet (rule F3)",
						  psprintf("Case refund_amount %s.",
									co_numeric_str(ctx->new->v[CC_REFUND_AMOUNT])),
						  "The merchant agrees with agree_refund().");
	return NULL;
}

/*
 * F6: an ordinary order's no_reason return_refund asked within 7 days of
 * signing is the buyer's right; the merchant cannot reject it.
 */
static CoRefusal *
check_rejectable(const CoGuardCtx *ctx, const char *button)
{
	const OrderRow *o = ctx->order;
	const CaseRow *c = ctx->old;

	if (ORD_IS_CUSTOM(o) || c == NULL || c->kind != KIND_RETURN_REFUND ||
		c->reason != REASON_NO_REASON)
		return NULL;
	if (co_no_reason_return_covered(o, DatumGetTimestampTz(c->v[CC_REQUESTED_AT])))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
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
guard_withdraw(const CoGuardCtx *ctx)
{
	return NULL;
}

/* A1.1 A2.1 R3: all that is still refundable */
static CoRefusal *
check_full_refund(const CoGuardCtx *ctx, const char *button, const char *rule)
{
	const CaseRow *n = ctx->new;

	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_REFUND_AMOUNT] ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT],
										  co_order_remaining(ctx->order))) != 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  psprintf("%s refunds all that is still refundable (%s)", button, rule),
						  psprintf("Order " INT64_FORMAT ": refundable %s, case refund_amount %s.",
									ORD_ID(ctx->order), co_numeric_str(co_order_remaining(ctx->order)),
									n->isnull[CC_REFUND_AMOUNT] ? "null" : co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						  psprintf("Call customorder.%s(aftersale_id); a partial refund is negotiated with propose_refund_amount().", button));
	return NULL;
}

/* A1.1 A2.1: at once, unless the goods must come back first (R1) */
static CoRefusal *
guard_agree(const CoGuardCtx *ctx)
{
	if (co_case_return_needed(ctx->old, ctx->order))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "agree_refund on a return_refund after shipment waits for the goods (rule R1)",
						  psprintf("Case " INT64_FORMAT " asks for a return_refund; order " INT64_FORMAT " is %s.",
									CASE_ID(ctx->old), ORD_ID(ctx->order),
									co_order_state_names[ctx->order->state]),
						  "agree_refund() moves the case to awaiting_return; confirm_return() refunds once the goods are back.");
	return check_full_refund(ctx, "agree_refund", "rule A1.1, A2.1");
}

/*
 * SPEC §5: agree_refund works in every open case state.  Once a return is
 * under way (awaiting_return, return_shipped) or the platform arbitrates,
 * agreeing is the merchant giving up the goods (or conceding): all that is
 * still refundable, at once.
 */
static CoRefusal *
guard_agree_now(const CoGuardCtx *ctx)
{
	return check_full_refund(ctx, "agree_refund", "rule A1.1, A2.1, SPEC 5");
}

/* R1: a return_refund after shipment waits for the goods; no money yet */
static CoRefusal *
guard_agree_return(const CoGuardCtx *ctx)
{
	if (!co_case_return_needed(ctx->old, ctx->order))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "agree_refund waits for a return only on a return_refund after shipment (rule R1)",
						  psprintf("Case " INT64_FORMAT " asks for %s; order " INT64_FORMAT " is %s.",
									CASE_ID(ctx->old),
									ctx->old->kind >= 0 ? co_kind_names[ctx->old->kind] : "an unknown kind",
									ORD_ID(ctx->order), co_order_state_names[ctx->order->state]),
						  "agree_refund() refunds this case at once.");
	return NULL;
}

static CoRefusal *
guard_insist_reject(const CoGuardCtx *ctx)
{
	return check_rejectable(ctx, "insist_reject");
}

/*
 * communicate: scenario 1 takes no reason; scenario 2 one of five reasons,
 * each with its logistics precondition (A2.2).  "wanted" is the case state
 * the reason leads to.
 */
static CoRefusal *
check_communicate(const CoGuardCtx *ctx, CaseState wanted)
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
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("communicate: unknown reason \"%s\"",
									TextDatumGetCString(n->v[CC_COMM_REASON])),
						  NULL,
						  "Pass NULL before shipment; after it in_transit, negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	if (!co_order_shipped(o))
	{
		if (ctx->probe)
			return wanted == CS_COMMUNICATING ? NULL :
				co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							"communicate: not shipped", NULL, NULL);
		if (!n->isnull[CC_COMM_REASON])
			return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "communicate: before shipment the reason is null (rule A1.2)",
							   psprintf("Order " INT64_FORMAT " is %s; reason \"%s\" is a shipped-order reason.",
										ORD_ID(o), co_order_state_names[o->state],
										TextDatumGetCString(n->v[CC_COMM_REASON])),
							   "Call communicate(aftersale_id, NULL).");
		return wanted == CS_COMMUNICATING ? NULL :
			co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						"communicate: before shipment the case goes to communicating (rule A1.2)",
						NULL, "Call communicate(aftersale_id, NULL).");
	}
	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_COMM_REASON])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  "communicate: after shipment a reason is required (rule A2.2)",
						  psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						  "Pass in_transit, negotiate_amount, invite_evidence, agreement_reached or signed_not_received.");
	reason = TextDatumGetCString(n->v[CC_COMM_REASON]);
	r = co_lookup_label(co_comm_reason_names, COMM_COUNT, reason);
	if (r < 0)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
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
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
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
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("communicate: reason %s leads to %s (rule A2.2)", reason,
									co_case_state_names[leads_to]),
						  NULL, "Let the button choose the state.");
	return NULL;
}

static CoRefusal *
guard_communicate(const CoGuardCtx *ctx)
{
	return check_communicate(ctx, CS_COMMUNICATING);
}

static CoRefusal *
guard_communicate_negotiate(const CoGuardCtx *ctx)
{
	return check_communicate(ctx, CS_NEGOTIATING);
}

static CoRefusal *
guard_communicate_invite(const CoGuardCtx *ctx)
{
	return check_communicate(ctx, CS_AWAITING_BUYER_EVIDENCE);
}

/*
 * Does the case name a submitted bundle of this case with this purpose?
 * Returns the number of images, or -1 if not.
 */
static int
case_bundle_images(const CoGuardCtx *ctx, CaseCol col, const char *purpose)
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
guard_continue_reject(const CoGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;
	CoRefusal  *r = check_rejectable(ctx, "continue_reject");
	char	   *reason;

	if (!ctx->probe && !n->isnull[CC_REJECT_REASON])
	{
		reason = TextDatumGetCString(n->v[CC_REJECT_REASON]);
		if (strcmp(reason, "in_transit") != 0 &&
			strcmp(reason, "signed_no_reason") != 0)
			return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
							  psprintf("continue_reject: unknown reason \"%s\"", reason),
							  NULL,
							  "Pass NULL before shipment; after it in_transit or signed_no_reason.");
	}
	if (r)
		return r;
	if (ctx->old->isnull[CC_COMMUNICATED_AT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  co_order_shipped(ctx->order) ?
						  "continue_reject is grey until the merchant has communicated (rule A2.3)" :
						  "continue_reject is grey until the merchant has communicated (rule A1.2)",
						  psprintf("Case " INT64_FORMAT " has sent the buyer nothing yet.",
									DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID])),
						  "Press communicate() first; it sends the default script.");
	if (ctx->probe)
		return NULL;
	if (!co_order_shipped(o))
	{
		if (!n->isnull[CC_REJECT_REASON])
			return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: before shipment the reason is null (rule A1.2)",
							   psprintf("Order " INT64_FORMAT " is %s; reason \"%s\" is a shipped-order reason.",
										ORD_ID(o), co_order_state_names[o->state],
										TextDatumGetCString(n->v[CC_REJECT_REASON])),
							   "Call continue_reject(aftersale_id, NULL, items) with production photos.");
		if (case_bundle_images(ctx, CC_PROOF_BUNDLE_ID, "rejection_proof") < 1)
			return co_refusal(ERRCODE_CHECK_VIOLATION,
							   "continue_reject needs clear photos of the buyer's goods in production (rule A1.2)",
							   "The case names no submitted production proof with an image.",
							   "Pass the photos as items to continue_reject().");
		return NULL;
	}
	if (n->isnull[CC_REJECT_REASON])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  "continue_reject: after shipment a reason is required (rule A2.3)",
						  NULL, "Pass in_transit or signed_no_reason.");
	reason = TextDatumGetCString(n->v[CC_REJECT_REASON]);
	if (strcmp(reason, "in_transit") == 0)
	{
		if (o->state != OS_SHIPPED)
			return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: in_transit only while the goods are shipped and not signed (rule A2.3)",
							   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
										co_order_state_names[o->state]),
							   "Once signed, reject with signed_no_reason if the request has no reason.");
	}
	else
	{
		if (o->state != OS_SIGNED)
			return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: signed_no_reason only once the goods are signed (rule A2.3)",
							   psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
										co_order_state_names[o->state]),
							   "While in transit, reject with in_transit.");
		if (ctx->old->reason != REASON_NO_REASON)
			return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							   "continue_reject: signed_no_reason only rejects a no_reason request (rule F5)",
							   psprintf("Case " INT64_FORMAT " asks for reason %s.",
										DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID]),
										co_reason_names[ctx->old->reason]),
							   "Answer a quality complaint: negotiate an amount, invite evidence, or agree the refund.");
	}
	if (case_bundle_images(ctx, CC_PROOF_BUNDLE_ID, "logistics_proof") < 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "continue_reject needs a logistics proof (rule A2.3)",
						  "The case names no submitted logistics proof.",
						  "Pass the logistics screenshots as items to continue_reject().");
	return NULL;
}

/* A1.3: goods finished but not shipped, after communicating */
static CoRefusal *
guard_insist_ship(const CoGuardCtx *ctx)
{
	const OrderRow *o = ctx->order;
	const CaseRow *n = ctx->new;

	if (co_order_shipped(o))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "insist_ship is only for goods not yet shipped (rule A1.3)",
						  psprintf("Order " INT64_FORMAT " is %s.", ORD_ID(o),
									co_order_state_names[o->state]),
						  "Communicate with a shipped-order reason instead.");
	if (ctx->old->isnull[CC_COMMUNICATED_AT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
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
guard_propose(const CoGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_PROPOSED_AMOUNT])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  "propose_refund_amount needs an amount (rule A2.2)",
						  NULL, "Pass the amount agreed in chat.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_PROPOSED_AMOUNT], zero)) <= 0)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  "propose_refund_amount: the amount must be positive (rule A2.2)",
						  psprintf("Amount %s.", co_numeric_str(n->v[CC_PROPOSED_AMOUNT])),
						  "Pass an amount greater than 0.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_PROPOSED_AMOUNT],
										  co_order_remaining(ctx->order))) > 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "propose_refund_amount: the amount exceeds what is still refundable (rule A2.2)",
						  psprintf("Order " INT64_FORMAT ": paid %s, refunded %s, proposed %s.",
									ORD_ID(ctx->order), co_numeric_str(ctx->order->v[OC_AMOUNT]),
									co_numeric_str(ctx->order->v[OC_REFUNDED_AMOUNT]),
									co_numeric_str(n->v[CC_PROPOSED_AMOUNT])),
						  psprintf("Propose at most %s.", co_numeric_str(co_order_remaining(ctx->order))));
	return NULL;
}

static CoRefusal *
check_proposal(const CoGuardCtx *ctx, const char *button)
{
	if (ctx->old->isnull[CC_PROPOSED_AMOUNT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("%s: the merchant has proposed no amount yet (rule A2.2)", button),
						  psprintf("Case " INT64_FORMAT " is negotiating without a proposal.",
									DatumGetInt64(ctx->old->v[CC_AFTERSALE_ID])),
						  "Wait for propose_refund_amount().");
	return NULL;
}

/*
 * H4: the buyer accepts the amount they saw.  The press writes the amount
 * the buyer named into refund_amount; it must be exactly the proposal the
 * case holds now (a re-proposal in between refuses the press).
 */
static CoRefusal *
guard_accept(const CoGuardCtx *ctx)
{
	CoRefusal  *r = check_proposal(ctx, "accept_refund_amount");
	const CaseRow *n = ctx->new;

	if (r || ctx->probe)
		return r;
	if (n->isnull[CC_REFUND_AMOUNT] ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT],
										  ctx->old->v[CC_PROPOSED_AMOUNT])) != 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "accept_refund_amount: the amount is not the merchant's current proposal (rules A2.2, H4)",
						  psprintf("The current proposal is %s; the buyer accepted %s.",
									co_numeric_str(ctx->old->v[CC_PROPOSED_AMOUNT]),
									n->isnull[CC_REFUND_AMOUNT] ? "null" : co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						  "Show the buyer the current proposal and accept it with accept_refund_amount(aftersale_id, amount), or decline it.");
	return NULL;
}

static CoRefusal *
guard_decline(const CoGuardCtx *ctx)
{
	CoRefusal  *r = check_proposal(ctx, "decline_refund_amount");

	if (r || ctx->probe)
		return r;
	if (!ctx->new->isnull[CC_PROPOSED_AMOUNT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "decline_refund_amount withdraws the proposal (rule A2.2)",
						  NULL, "Call customorder.decline_refund_amount(aftersale_id).");
	return NULL;
}

/* A2.2: the buyer's supplement is a submitted bundle of this case */
static CoRefusal *
guard_supplement(const CoGuardCtx *ctx)
{
	if (ctx->probe)
		return NULL;
	if (case_bundle_images(ctx, CC_BUYER_BUNDLE_ID, "buyer_supplement") < 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "supplement_evidence needs the buyer's submitted bundle (rule A2.2)",
						  "The case names no submitted buyer_supplement bundle.",
						  "Call customorder.supplement_evidence(aftersale_id, items).");
	return NULL;
}

/* ----------------------------------------------------------------
 *		Returns (R) and platform arbitration (P)
 * ----------------------------------------------------------------
 */

/* H8: free text of at most 500 characters; "required" refuses NULL */
static CoRefusal *
check_note(const CoGuardCtx *ctx, CaseCol col, const char *button,
		   const char *rule, bool required)
{
	int			chars;

	if (ctx->new->isnull[col])
		return required ?
			co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   psprintf("%s needs a note (%s)", button, rule),
					   NULL, "Say why, in at most 500 characters.") : NULL;
	chars = pg_mbstrlen(TextDatumGetCString(ctx->new->v[col]));
	if (chars > CO_MAX_NOTE_CHARS)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("%s: the note must have at most %d characters (rule H8)",
								   button, CO_MAX_NOTE_CHARS),
						  psprintf("The note has %d characters.", chars),
						  "Shorten the note.");
	return NULL;
}

/* R2: the buyer ships the goods back with a tracking number (H8) */
static CoRefusal *
guard_ship_return(const CoGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;

	if (ctx->probe)
		return NULL;
	return co_tracking_refusal("ship_return", " (rule R2)",
							   n->isnull[CC_RETURN_TRACKING_NO],
							   n->v[CC_RETURN_TRACKING_NO], NULL, NULL);
}

/* R3: receipt confirmed; all that is still refundable */
static CoRefusal *
guard_confirm_return(const CoGuardCtx *ctx)
{
	return check_full_refund(ctx, "confirm_return", "rule R3");
}

/* R3, R4: the merchant answers a return only once it has shipped */
static CoRefusal *
check_return_not_shipped(const CoGuardCtx *ctx, const char *button,
						 const char *rule)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("%s: the buyer has not shipped the return yet (rule %s)",
							   button, rule),
					  psprintf("Case " INT64_FORMAT " of order " INT64_FORMAT " is awaiting_return.",
							   CASE_ID(ctx->old), ORD_ID(ctx->order)),
					  "Wait for ship_return(); if the buyer does not ship, the case lapses (buyer_return).");
}

static CoRefusal *
guard_confirm_not_shipped(const CoGuardCtx *ctx)
{
	return check_return_not_shipped(ctx, "confirm_return", "R3");
}

static CoRefusal *
guard_refuse_not_shipped(const CoGuardCtx *ctx)
{
	return check_return_not_shipped(ctx, "refuse_return", "R4");
}

/* R4: a reason of three and a return proof bundle of this case */
static CoRefusal *
guard_refuse_return(const CoGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;
	char	   *reason;

	if (ctx->probe)
		return NULL;
	if (n->isnull[CC_REJECT_REASON])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  "refuse_return needs a reason (rule R4)",
						  NULL, "Pass not_received, wrong_item or damaged.");
	reason = TextDatumGetCString(n->v[CC_REJECT_REASON]);
	if (strcmp(reason, "not_received") != 0 && strcmp(reason, "wrong_item") != 0 &&
		strcmp(reason, "damaged") != 0)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("refuse_return: unknown reason \"%s\" (rule R4)", reason),
						  NULL, "Pass not_received, wrong_item or damaged.");
	if (case_bundle_images(ctx, CC_PROOF_BUNDLE_ID, "return_proof") < 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "refuse_return needs a return proof bundle (rule R4)",
						  "The case names no submitted return_proof bundle.",
						  "Pass photos or videos of what came back as items to refuse_return().");
	return NULL;
}

/*
 * P1: a rejected case, inside its escalation window, once; it becomes the
 * order's open case again (F7: no other may be open).
 */
static CoRefusal *
guard_escalate(const CoGuardCtx *ctx)
{
	const CaseRow *c = ctx->old;
	const OrderRow *o = ctx->order;
	TimestampTz now = co_now();

	if (!c->isnull[CC_ESCALATED_AT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "escalate: a case is escalated once (rule P1)",
						  psprintf("Case " INT64_FORMAT " was escalated at %s.", CASE_ID(c),
								   co_timestamptz_str(DatumGetTimestampTz(c->v[CC_ESCALATED_AT]))),
						  "The platform's ruling is final.");
	if (c->isnull[CC_DUE_AT] || DatumGetTimestampTz(c->v[CC_DUE_AT]) <= now)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "escalate: the escalation_window has passed; the rejection is final (rules P1, T1)",
						  c->isnull[CC_DUE_AT] ?
						  psprintf("Case " INT64_FORMAT " is rejected and its escalation_window is closed.", CASE_ID(c)) :
						  psprintf("Case " INT64_FORMAT ": escalation_window passed at %s; it is now %s.", CASE_ID(c),
								   co_timestamptz_str(DatumGetTimestampTz(c->v[CC_DUE_AT])),
								   co_timestamptz_str(now)),
						  "A new request opens a new case.");
	if (o->state == OS_CANCELLED || o->state == OS_REFUNDED)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("escalate: order is already %s", co_order_state_names[o->state]),
						  psprintf("Order " INT64_FORMAT " has refunded %s of %s.", ORD_ID(o),
								   co_numeric_str(o->v[OC_REFUNDED_AMOUNT]),
								   co_numeric_str(o->v[OC_AMOUNT])),
						  "Nothing is left to refund.");
	if (!o->isnull[OC_OPEN_AFTERSALE_ID])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "escalate: the order already has an open after-sale case (rules P1, F7)",
						  psprintf("Order " INT64_FORMAT " has open case " INT64_FORMAT ".",
								   ORD_ID(o), DatumGetInt64(o->v[OC_OPEN_AFTERSALE_ID])),
						  "Wait for that case to close, or withdraw it, then escalate.");
	if (ctx->probe)
		return NULL;
	return check_note(ctx, CC_ESCALATION_NOTE, "escalate", "rule P1", false);
}

/* P2: at most 3 arbitration bundles per party */
static CoRefusal *
guard_arbitration_evidence(const CoGuardCtx *ctx)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	char	   *purpose = NULL;
	int64		count = 0;

	if (ctx->probe)
		return NULL;
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT b.purpose, pg_catalog.count(*) FROM customorder.evidence_bundles b "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.aftersale_id OPERATOR(pg_catalog.=) $2 "
					  "AND b.purpose OPERATOR(pg_catalog.=) ANY ('{arbitration_merchant,arbitration_buyer}'::pg_catalog.text[]) "
					  "AND b.submitted_at IS NOT NULL "
					  "GROUP BY b.purpose HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 3",
					  2, argtypes);
	values[0] = ctx->order->v[OC_ORDER_ID];
	values[1] = ctx->old->v[CC_AFTERSALE_ID];
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;

		purpose = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 2, &isnull));
	}
	co_finish();
	if (purpose == NULL)
		return NULL;
	return co_refusal(ERRCODE_CHECK_VIOLATION,
					  "submit_arbitration_evidence: at most 3 bundles per party (rule P2)",
					  psprintf("Case " INT64_FORMAT " would hold " INT64_FORMAT " %s bundles.",
							   CASE_ID(ctx->old), count, purpose),
					  "Put everything into the bundles already submitted; a bundle holds up to 10 images and 3 videos.");
}

/* P3: the platform refunds 0 < amount <= what is still refundable */
static CoRefusal *
guard_arbitrate_refund(const CoGuardCtx *ctx)
{
	const CaseRow *n = ctx->new;
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	CoRefusal  *r = check_note(ctx, CC_ARBITRATION_NOTE, "arbitrate", "rule P3", true);

	if (r || ctx->probe)
		return r;
	if (n->isnull[CC_REFUND_AMOUNT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "arbitrate: an amount of 0 upholds the rejection (rule P3)",
						  NULL, "Pass a positive amount to refund.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT], zero)) <= 0)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  "arbitrate: the amount must not be negative (rule P3)",
						  psprintf("Amount %s.", co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						  "Pass 0 to uphold the rejection, or the amount to refund.");
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n->v[CC_REFUND_AMOUNT],
										  co_order_remaining(ctx->order))) > 0)
		return co_refusal(ERRCODE_CHECK_VIOLATION,
						  "arbitrate: the amount exceeds what is still refundable (rules P3, F7)",
						  psprintf("Order " INT64_FORMAT ": paid %s, refunded %s, ruled %s.",
									ORD_ID(ctx->order), co_numeric_str(ctx->order->v[OC_AMOUNT]),
									co_numeric_str(ctx->order->v[OC_REFUNDED_AMOUNT]),
									co_numeric_str(n->v[CC_REFUND_AMOUNT])),
						  psprintf("Refund at most %s.", co_numeric_str(co_order_remaining(ctx->order))));
	return NULL;
}

/* P3: an amount of 0 upholds the rejection; nothing is refunded */
static CoRefusal *
guard_uphold(const CoGuardCtx *ctx)
{
	CoRefusal  *r = check_note(ctx, CC_ARBITRATION_NOTE, "arbitrate", "rule P3", true);

	if (r || ctx->probe)
		return r;
	if (!ctx->new->isnull[CC_REFUND_AMOUNT])
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "arbitrate: an upheld rejection refunds nothing (rule P3)",
						  psprintf("Case refund_amount %s.",
								   co_numeric_str(ctx->new->v[CC_REFUND_AMOUNT])),
						  "Pass amount 0 to uphold.");
	return NULL;
}

/* ----------------------------------------------------------------
 *		What a press computes
 * ----------------------------------------------------------------
 */

static void
set_col(CaseRow *row, CaseCol col, Datum value, bool isnull)
{
	row->v[col] = value;
	row->isnull[col] = isnull;
}

/* F2, A1.1, A2.1: all that is still refundable */
static void
fill_full_refund(const CoGuardCtx *ctx, CaseRow *row)
{
	set_col(row, CC_REFUND_AMOUNT, co_order_remaining(ctx->order), false);
}

/* A2.2: the buyer declines; the proposal is gone */
static void
fill_no_proposal(const CoGuardCtx *ctx, CaseRow *row)
{
	set_col(row, CC_PROPOSED_AMOUNT, (Datum) 0, true);
}

/* ----------------------------------------------------------------
 *		The transition table
 * ----------------------------------------------------------------
 */
#define B(col) CO_BIT(CC_##col)
#define CC_NONE CO_NO_STAMP
/*
 * A row's clock (SPEC §7 T1): KEEPS, STOPS, or STARTS(deadline).  The
 * merchant's own steps keep the merchant_response clock running.
 */
#define KEEPS CLOCK_KEEPS, DL_NONE
#define STOPS CLOCK_STOPS, DL_NONE
#define STARTS(deadline) CLOCK_STARTS, DL_##deadline
#define ROW(from, action, to, guard, may_change, stamp, fill, clock, rule) \
	ROW_(from, action, to, guard, may_change, stamp, fill, rule, clock)
#define ROW_(from, action, to, guard, may_change, stamp, fill, rule, clk, dl) \
	{CS_##from, ACT_##action, CS_##to, guard, #guard, may_change, \
	 CC_##stamp, fill, clk, rule, dl}
#define OPEN_ROWS(action, to, guard, may_change, stamp, fill, clock, rule) \
	ROW_(REQUESTED, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(REJECTING, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(COMMUNICATING, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(NEGOTIATING, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(AWAITING_BUYER_EVIDENCE, action, to, guard, may_change, stamp, fill, rule, clock)
/* R5, A3: the return states and arbitration are open cases too */
#define LATER_OPEN_ROWS(action, to, guard, may_change, stamp, fill, clock, rule) \
	ROW_(AWAITING_RETURN, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(RETURN_SHIPPED, action, to, guard, may_change, stamp, fill, rule, clock), \
	ROW_(ARBITRATION, action, to, guard, may_change, stamp, fill, rule, clock)

static const CoTransition case_transitions[] = {
	ROW(NONE, REQUEST_REFUND, INSTANT_REFUNDED, guard_open_instant,
		B(REFUND_AMOUNT), CLOSED_AT, fill_full_refund, STOPS,
		"F2 F6: before customization is in effect (ordinary: before shipment), refund all at once"),
	ROW(NONE, REQUEST_REFUND, REQUESTED, guard_open_case, 0, REQUESTED_AT, NULL, STARTS(MERCHANT_RESPONSE),
		"F3 F4 F7: customization in effect or shipped; no other open case"),
	OPEN_ROWS(WITHDRAW, WITHDRAWN, guard_withdraw, 0, CLOSED_AT, NULL, STOPS,
			  "A3: the buyer withdraws an open case"),
	LATER_OPEN_ROWS(WITHDRAW, WITHDRAWN, guard_withdraw, 0, CLOSED_AT, NULL, STOPS,
					"A3 R5: the buyer withdraws an open case"),
	OPEN_ROWS(AGREE_REFUND, AWAITING_RETURN, guard_agree_return, 0, NONE,
			  NULL, STARTS(BUYER_RETURN),
			  "R1 R5: a return_refund after shipment waits for the goods; no money moves"),
	OPEN_ROWS(AGREE_REFUND, REFUNDED, guard_agree, B(REFUND_AMOUNT), CLOSED_AT,
			  fill_full_refund, STOPS,
			  "A1.1 A2.1 R1: refund all that is still refundable (not a return_refund after shipment); the order goes to refunded"),
	ROW(REQUESTED, INSIST_REJECT, REJECTING, guard_insist_reject, 0, NONE, NULL, KEEPS,
		"A1.2 A2.2 F6: not an ordinary order's 7-day no-reason return"),
	ROW(REJECTING, COMMUNICATE, COMMUNICATING, guard_communicate,
		B(COMM_REASON), COMMUNICATED_AT, NULL, KEEPS,
		"A1.2 A2.2: default script sent; reason null before shipment, in_transit (shipped), agreement_reached, signed_not_received (signed)"),
	ROW(REJECTING, COMMUNICATE, NEGOTIATING, guard_communicate_negotiate,
		B(COMM_REASON), COMMUNICATED_AT, NULL, KEEPS,
		"A2.2: negotiate_amount, goods signed"),
	ROW(REJECTING, COMMUNICATE, AWAITING_BUYER_EVIDENCE, guard_communicate_invite,
		B(COMM_REASON), COMMUNICATED_AT, NULL, STARTS(BUYER_EVIDENCE),
		"A2.2: invite_evidence, goods signed"),
	ROW(COMMUNICATING, COMMUNICATE, COMMUNICATING, guard_communicate,
		B(COMM_REASON), COMMUNICATED_AT, NULL, KEEPS,
		"A2.2: communicate again, possibly with another reason"),
	ROW(COMMUNICATING, COMMUNICATE, NEGOTIATING, guard_communicate_negotiate,
		B(COMM_REASON), COMMUNICATED_AT, NULL, KEEPS,
		"A2.2: negotiate_amount, goods signed"),
	ROW(COMMUNICATING, COMMUNICATE, AWAITING_BUYER_EVIDENCE, guard_communicate_invite,
		B(COMM_REASON), COMMUNICATED_AT, NULL, STARTS(BUYER_EVIDENCE),
		"A2.2: invite_evidence, goods signed"),
	ROW(REJECTING, CONTINUE_REJECT, REJECTED, guard_continue_reject,
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID), CLOSED_AT, NULL, STARTS(ESCALATION_WINDOW),
		"A1.2 A2.3: grey until the merchant has communicated (always refused from rejecting)"),
	ROW(COMMUNICATING, CONTINUE_REJECT, REJECTED, guard_continue_reject,
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID), CLOSED_AT, NULL, STARTS(ESCALATION_WINDOW),
		"A1.2 A2.3 F5 F6: communicated; production photos (not shipped) or in_transit / signed_no_reason with logistics proof"),
	ROW(REJECTING, INSIST_SHIP, CLOSED_BY_SHIPMENT, guard_insist_ship,
		B(TRACKING_NO), CLOSED_AT, NULL, STOPS,
		"A1.3: grey until the merchant has communicated (always refused from rejecting)"),
	ROW(COMMUNICATING, INSIST_SHIP, CLOSED_BY_SHIPMENT, guard_insist_ship,
		B(TRACKING_NO), CLOSED_AT, NULL, STOPS,
		"A1.3: not shipped, communicated, tracking number; the order ships"),
	ROW(NEGOTIATING, PROPOSE_AMOUNT, NEGOTIATING, guard_propose,
		B(PROPOSED_AMOUNT), NONE, NULL, STARTS(BUYER_RESPONSE),
		"A2.2: 0 < amount <= paid - already refunded"),
	ROW(NEGOTIATING, ACCEPT_AMOUNT, REFUNDED, guard_accept,
		B(REFUND_AMOUNT), CLOSED_AT, NULL, STOPS,
		"A2.2 F7 H4: the buyer accepts exactly the current proposal; partial refund, the order keeps its state unless nothing remains"),
	ROW(NEGOTIATING, DECLINE_AMOUNT, COMMUNICATING, guard_decline,
		B(PROPOSED_AMOUNT), NONE, fill_no_proposal, STARTS(MERCHANT_RESPONSE),
		"A2.2: the buyer declines; back to communicating"),
	ROW(AWAITING_BUYER_EVIDENCE, SUPPLEMENT_EVIDENCE, COMMUNICATING, guard_supplement,
		B(BUYER_BUNDLE_ID), NONE, NULL, STARTS(MERCHANT_RESPONSE),
		"A2.2: the buyer's supplement bundle; back to communicating"),
	ROW(AWAITING_BUYER_EVIDENCE, LAPSE, LAPSED, co_guard_deadline_passed,
		0, CLOSED_AT, NULL, STOPS,
		"T3: buyer_evidence passed; the system closes the case"),
	ROW(REJECTED, MAKE_FINAL, REJECTED, co_guard_deadline_passed,
		0, NONE, NULL, STOPS,
		"T3: escalation_window passed; the system makes the rejection final"),
	ROW(AWAITING_RETURN, SHIP_RETURN, RETURN_SHIPPED, guard_ship_return,
		B(RETURN_TRACKING_NO), RETURN_SHIPPED_AT, NULL, STARTS(MERCHANT_RECEIPT),
		"R2 H8: the buyer ships the goods back with a tracking number"),
	ROW(AWAITING_RETURN, LAPSE, LAPSED, co_guard_deadline_passed,
		0, CLOSED_AT, NULL, STOPS,
		"T3: buyer_return passed; the system closes the case"),
	ROW(AWAITING_RETURN, CONFIRM_RETURN, REFUNDED, guard_confirm_not_shipped,
		B(REFUND_AMOUNT), CLOSED_AT, fill_full_refund, STOPS,
		"R3: grey until the return has shipped (always refused from awaiting_return)"),
	ROW(AWAITING_RETURN, REFUSE_RETURN, REJECTED, guard_refuse_not_shipped,
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID), CLOSED_AT, NULL, STARTS(ESCALATION_WINDOW),
		"R4: grey until the return has shipped (always refused from awaiting_return)"),
	ROW(RETURN_SHIPPED, CONFIRM_RETURN, REFUNDED, guard_confirm_return,
		B(REFUND_AMOUNT), CLOSED_AT, fill_full_refund, STOPS,
		"R3 T3: receipt confirmed (by the merchant, or the system once merchant_receipt passed); refund all that is still refundable, the order goes to refunded"),
	ROW(RETURN_SHIPPED, REFUSE_RETURN, REJECTED, guard_refuse_return,
		B(REJECT_REASON) | B(PROOF_BUNDLE_ID), CLOSED_AT, NULL, STARTS(ESCALATION_WINDOW),
		"R4: not_received, wrong_item or damaged, with a return_proof bundle; the buyer may escalate"),
	ROW(REJECTED, ESCALATE, ARBITRATION, guard_escalate,
		B(ESCALATION_NOTE), ESCALATED_AT, NULL, STOPS,
		"P1 F7 H8: inside the escalation_window, once, no other open case; the case is open again"),
	ROW(ARBITRATION, ARBITRATION_EVIDENCE, ARBITRATION, guard_arbitration_evidence,
		0, NONE, NULL, KEEPS,
		"P2: a submitted arbitration bundle of the merchant or the buyer, at most 3 per party"),
	ROW(ARBITRATION, ARBITRATE, REFUNDED, guard_arbitrate_refund,
		B(REFUND_AMOUNT) | B(ARBITRATION_NOTE), CLOSED_AT, NULL, STOPS,
		"P3 F7 H8: note required; 0 < amount <= still refundable; all of it moves the order to refunded"),
	ROW(ARBITRATION, ARBITRATE, UPHELD, guard_uphold,
		B(ARBITRATION_NOTE), CLOSED_AT, NULL, STOPS,
		"P3 H8: note required; amount 0 upholds the rejection (final)"),
	LATER_OPEN_ROWS(AGREE_REFUND, REFUNDED, guard_agree_now, B(REFUND_AMOUNT),
					CLOSED_AT, fill_full_refund, STOPS,
					"A1.1 A2.1 (SPEC 5: every open state): the merchant gives up the return or concedes; refund all that is still refundable at once, the order goes to refunded"),
};

/* No row leaves the case's state by this action (or to this state) */
static CoRefusal *
case_no_row(const CoGuardCtx *ctx, int from, CoAction action, int to)
{
	const CaseRow *old = ctx->old;

	if ((int) action < 0)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  psprintf("after-sale change from %s to %s is not in the transition table",
								   co_case_state_names[from],
								   co_case_state_names[to]),
						  psprintf("Order " INT64_FORMAT ".", ORD_ID(ctx->order)),
						  "customorder.transitions() lists every legal change; customorder.order_buttons(order_id) what can be pressed now.");
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("%s is not available for an after-sale case in state %s",
							   co_action_names[action], co_case_state_names[from]),
					  old ? psprintf("Case " INT64_FORMAT " of order " INT64_FORMAT " is %s.",
									 CASE_ID(old), ORD_ID(ctx->order),
									 co_case_state_names[from]) :
					  psprintf("Order " INT64_FORMAT " has no open case.",
							   ORD_ID(ctx->order)),
					  "customorder.order_buttons(order_id) lists what can be pressed now.");
}

/* A writer changed a column this transition does not write */
static CoRefusal *
case_bad_column(const CoGuardCtx *ctx, const CoTransition *t, int col)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("%s does not write aftersales.%s",
							   co_action_names[t->action], co_case_col_names[col]),
					  psprintf("Case change from %s to %s.",
							   co_case_state_names[t->from],
							   co_case_state_names[t->to]),
					  "Use the after-sale buttons.");
}

const CoMachine co_case_machine = {
	"aftersale", &co_cases_table, co_case_state_names, CS_NONE,
	case_transitions, lengthof(case_transitions),
	case_no_row, case_bad_column, co_case_overdue
};
