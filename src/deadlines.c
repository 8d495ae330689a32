/*-------------------------------------------------------------------------
 *
 * deadlines.c
 *	  Deadlines (SPEC §7, T1-T5): the table of deadlines, the start of a
 *	  case's clock (its period read from the category when it starts), the
 *	  refusal of an overdue party (T2: a merchant or buyer actor; the
 *	  platform, superusers included, may still press), and the two SQL
 *	  functions that read
 *	  or apply them: deadlines(order_id) (T5) and run_due(max_actions) (T3).
 *
 *	  Which transition starts, keeps or stops a clock is data of the
 *	  machines' tables (CoTransition.clock and .deadline); what runs in a
 *	  state, who is bound and what the system does on expiry is data here.
 *	  run_due presses the expiry action as actor "system" (a press with no
 *	  actor to check): the same triggers and guards judge it as any button.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(co_deadlines);

#define ST(s) (((uint32) 1) << CS_##s)

/* SPEC §7 T1 */
const CoDeadlineDef co_deadline_defs[DL_COUNT] = {
	[DL_NONE] = {0, 0, -1, ACT_COUNT, ""},
	[DL_MERCHANT_RESPONSE] = {CO_WHO_MERCHANT,
		ST(REQUESTED) | ST(REJECTING) | ST(COMMUNICATING) | ST(NEGOTIATING), 0,
	ACT_AGREE_REFUND, "agrees: agree_refund"},
	[DL_BUYER_RESPONSE] = {CO_WHO_BUYER,
		ST(NEGOTIATING), 1,
	ACT_DECLINE_AMOUNT, "declines the proposal: decline_refund_amount"},
	[DL_BUYER_EVIDENCE] = {CO_WHO_BUYER,
		ST(AWAITING_BUYER_EVIDENCE), -1,
	ACT_LAPSE, "closes the case as lapsed"},
	[DL_BUYER_RETURN] = {CO_WHO_BUYER,
		ST(AWAITING_RETURN), -1,
	ACT_LAPSE, "closes the case as lapsed"},
	[DL_MERCHANT_RECEIPT] = {CO_WHO_MERCHANT,
		ST(RETURN_SHIPPED), -1,
	ACT_CONFIRM_RETURN, "confirms receipt: refunds (confirm_return)"},
	[DL_ESCALATION_WINDOW] = {CO_WHO_BUYER,
		ST(REJECTED), -1,
	ACT_MAKE_FINAL, "makes the rejection final"},
	[DL_SHIP_BY] = {CO_WHO_MERCHANT, 0, -1,
	ACT_MARK_LATE, "stamps late_at: a refund request becomes instant"},
};

static const char *
party_name(int party)
{
	return party == CO_WHO_MERCHANT ? "merchant" : "buyer";
}

/* The deadline that runs in the case's state (whether or not it is set) */
CoDeadline
co_case_deadline(const CaseRow *c)
{
	bool		proposal = !c->isnull[CC_PROPOSED_AMOUNT];
	int			dl;

	for (dl = DL_NONE + 1; dl < DL_COUNT; dl++)
	{
		const CoDeadlineDef *d = &co_deadline_defs[dl];

		if ((d->runs_in & (((uint32) 1) << c->state)) &&
			(d->proposal < 0 || d->proposal == (int) proposal))
			return (CoDeadline) dl;
	}
	return DL_NONE;
}

/*
 * When a deadline started now passes: now + the period the order's
 * category says at this moment (T1: read when its clock starts).
 */
TimestampTz
co_deadline_start(CoDeadline dl, const OrderRow *order, TimestampTz now)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		period;
	bool		isnull;
	TimestampTz due;

	Assert(dl >= DL_MERCHANT_RESPONSE && dl <= DL_ESCALATION_WINDOW);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT c.merchant_response, c.buyer_response, c.buyer_evidence, "
					  "c.buyer_return, c.merchant_receipt, c.escalation_window "
					  "FROM customorder.categories c "
					  "WHERE c.category_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, &order->v[OC_CATEGORY_ID], NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("deadline %s: category " INT64_FORMAT " of order " INT64_FORMAT " does not exist",
						co_deadline_names[dl],
						DatumGetInt64(order->v[OC_CATEGORY_ID]), ORD_ID(order)),
				 errhint("Categories are never deleted while orders name them.")));
	period = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						   dl - DL_MERCHANT_RESPONSE + 1, &isnull);
	due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												  TimestampTzGetDatum(now),
												  period));
	co_finish();
	return due;
}

/*
 * T2: the case machine's check before a press is judged.  Once the running
 * deadline has passed, its party's presses are refused; the other party
 * and the platform may still act, and the buyer may always withdraw (A3).
 */
CoRefusal *
co_case_overdue(const CoGuardCtx *ctx, CoAction action)
{
	const CaseRow *c = ctx->old;
	CoDeadline	dl = co_case_deadline(c);
	const CoDeadlineDef *d = &co_deadline_defs[dl];
	TimestampTz due;
	TimestampTz now;

	if (dl == DL_NONE || c->isnull[CC_DUE_AT] || !(d->party & ctx->who) ||
		action == ACT_WITHDRAW)
		return NULL;
	due = DatumGetTimestampTz(c->v[CC_DUE_AT]);
	now = co_now();
	/* order_buttons' probe asks for the merchant; a press, for its caller */
	if (now < due || (!ctx->probe && co_caller_is_platform()))
		return NULL;
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("%s: the %s's deadline %s has passed (rule T2)",
							   co_action_names[action], party_name(d->party),
							   co_deadline_names[dl]),
					  psprintf("Case " INT64_FORMAT " of order " INT64_FORMAT " is %s; deadline %s passed at %s; it is now %s.",
							   CASE_ID(c), ORD_ID(ctx->order),
							   co_case_state_names[c->state], co_deadline_names[dl],
							   co_timestamptz_str(due), co_timestamptz_str(now)),
					  psprintf("The system now %s (customorder.run_due()).",
							   d->on_expiry_text));
}

/* The system's rows (lapse, make_final, mark_late): only once it passed */
CoRefusal *
co_guard_deadline_passed(const CoGuardCtx *ctx)
{
	const CoRow *row = ctx->old;
	bool		is_case = ctx->old != ctx->order;
	int			col = is_case ? CC_DUE_AT : OC_SHIP_BY;
	TimestampTz now = co_now();

	if (!row->isnull[col] && DatumGetTimestampTz(row->v[col]) <= now &&
		(is_case || row->isnull[OC_LATE_AT]))
		return NULL;
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  "only an expired deadline takes this step (rule T3)",
					  row->isnull[col] ?
					  psprintf("Order " INT64_FORMAT ": no deadline runs.", ORD_ID(ctx->order)) :
					  psprintf("Order " INT64_FORMAT ": the deadline passes at %s; it is now %s%s.",
							   ORD_ID(ctx->order),
							   co_timestamptz_str(DatumGetTimestampTz(row->v[col])),
							   co_timestamptz_str(now),
							   !is_case && !row->isnull[OC_LATE_AT] ? " and late_at is already stamped" : ""),
					  "customorder.run_due() applies deadlines once they pass.");
}

/* ----------------------------------------------------------------
 *		deadlines(order_id)  (T5)
 * ----------------------------------------------------------------
 */

static void
put_deadline(ReturnSetInfo *rsinfo, CoDeadline dl, TimestampTz due,
			 TimestampTz now)
{
	const CoDeadlineDef *d = &co_deadline_defs[dl];
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = CStringGetTextDatum(co_deadline_names[dl]);
	values[1] = CStringGetTextDatum(party_name(d->party));
	values[2] = TimestampTzGetDatum(due);
	values[3] = CStringGetTextDatum(d->on_expiry_text);
	values[4] = BoolGetDatum(due <= now);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The order's cases whose clock runs (the open one, a rejected one), into
 * a palloc'd array; returns how many.
 */
static int
cases_with_clock(const OrderRow *order, int64 **ids)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	MemoryContext caller = CurrentMemoryContext;
	int			n;
	uint64		i;

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT a.aftersale_id FROM customorder.aftersales a "
					  "WHERE a.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND a.due_at IS NOT NULL ORDER BY a.aftersale_id",
					  1, argtypes);
	co_execute(plan, &order->v[OC_ORDER_ID], NULL, true, 0);
	n = (int) SPI_processed;
	*ids = MemoryContextAlloc(caller, (n + 1) * sizeof(int64));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		(*ids)[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												SPI_tuptable->tupdesc, 1,
												&isnull));
	}
	co_finish();
	return n;
}

/*
 * deadlines(order_id): the deadlines running for the order and its case,
 * each with its party, when it passes, what the system then does, and
 * whether it has passed (and waits for run_due).
 */
Datum
co_deadlines(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OrderRow	order;
	TimestampTz now = co_now();
	int64	   *ids;
	int			n;
	int			i;

	co_require_arg(fcinfo, 0, "deadlines", "order_id");
	co_order_fetch(PG_GETARG_INT64(0), "deadlines", false, &order);
	co_authorize_order("deadlines", CO_WHO_ANYONE, &order);
	InitMaterializedSRF(fcinfo, 0);

	if (!order.isnull[OC_SHIP_BY] && order.isnull[OC_LATE_AT] &&
		co_order_before_shipment(order.state))
		put_deadline(rsinfo, DL_SHIP_BY,
					 DatumGetTimestampTz(order.v[OC_SHIP_BY]), now);
	if (!co_row_has(&co_cases_table, CC_DUE_AT))
		return (Datum) 0;
	n = cases_with_clock(&order, &ids);
	for (i = 0; i < n; i++)
	{
		CaseRow		kase;
		OrderRow	o;
		CoDeadline	dl;

		co_case_fetch_in_order(ORD_ID(&order), ids[i], "deadlines", false,
							   &kase, &o);
		dl = co_case_deadline(&kase);
		if (dl != DL_NONE && !kase.isnull[CC_DUE_AT])
			put_deadline(rsinfo, dl, DatumGetTimestampTz(kase.v[CC_DUE_AT]),
						 now);
	}
	return (Datum) 0;
}
