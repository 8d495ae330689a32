/*-------------------------------------------------------------------------
 *
 * eligibility.c
 *	  The predicates of refund eligibility (F1-F7) that the order machine,
 *	  the case machine and the queries share.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

/* F1: customization is in effect from in_production on */
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

/* Scenario 1 (A1): not yet shipped; scenario 2 (A2): shipped or signed */
bool
co_order_shipped(const OrderRow *order)
{
	return order->state == OS_SHIPPED || order->state == OS_SIGNED;
}

/*
 * F2 and the cancel part of F6: before customization is in effect (custom)
 * or before shipment (ordinary), a refund request is refunded at once; so
 * it is on a late unshipped order (T1).
 */
bool
co_order_instant_refund_applies(const OrderRow *order)
{
	/* T1: once ship_by passed unshipped, unless the category said not */
	if (order->state == OS_IN_PRODUCTION && !order->isnull[OC_LATE_AT] &&
		!order->isnull[OC_LATE_REFUND_INSTANT] &&
		DatumGetBool(order->v[OC_LATE_REFUND_INSTANT]))
		return true;
	if (ORD_IS_CUSTOM(order))
		return order->state == OS_PAID ||
			order->state == OS_AWAITING_EVIDENCE ||
			order->state == OS_EVIDENCE_REVIEW;
	return order->state == OS_PAID;
}

/*
 * F6: is a no_reason return_refund asked at "asked_at" the buyer's right on
 * this ordinary order?  The 7 days count from signing; a request made while
 * the goods travel (not yet signed) is covered too.
 */
bool
co_no_reason_return_covered(const OrderRow *order, TimestampTz asked_at)
{
	if (ORD_IS_CUSTOM(order))
		return false;
	if (order->isnull[OC_SIGNED_AT])
		return order->state == OS_SHIPPED;
	return asked_at < DatumGetTimestampTz(order->v[OC_SIGNED_AT]) +
		CO_SEVEN_DAYS_USEC;
}

/* F7: what is still refundable */
Datum
co_order_remaining(const OrderRow *order)
{
	return DirectFunctionCall2(numeric_sub, order->v[OC_AMOUNT],
							   order->v[OC_REFUNDED_AMOUNT]);
}

/* F7: the states of an open case (one per order) */
bool
co_case_is_open(CaseState state)
{
	return state == CS_REQUESTED || state == CS_REJECTING ||
		state == CS_COMMUNICATING || state == CS_NEGOTIATING ||
		state == CS_AWAITING_BUYER_EVIDENCE || state == CS_AWAITING_RETURN ||
		state == CS_RETURN_SHIPPED || state == CS_ARBITRATION;
}

/*
 * R1: agreeing to this case waits for the goods to come back: a
 * return_refund after shipment.  A 1.0 database not yet updated (U2) has no
 * return states and refunds at once, as 1.0 did.
 */
bool
co_case_return_needed(const CaseRow *c, const OrderRow *order)
{
	return c->kind == KIND_RETURN_REFUND && co_order_shipped(order) &&
		co_row_has(&co_cases_table, CC_RETURN_SHIPPED_AT);
}
