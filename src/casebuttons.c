/*-------------------------------------------------------------------------
 *
 * casebuttons.c
 *	  The after-sale buttons of both scenarios of the merchant guide (A1-A3)
 *	  and the buyer's answers.  Each locks the order and the case, asks the
 *	  case machine which row applies, and writes the case; the case trigger
 *	  judges the write and carries its effect to the order.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "aftersale.h"

PG_FUNCTION_INFO_V1(co_withdraw_refund);
PG_FUNCTION_INFO_V1(co_agree_refund);
PG_FUNCTION_INFO_V1(co_insist_reject);
PG_FUNCTION_INFO_V1(co_communicate);
PG_FUNCTION_INFO_V1(co_continue_reject);
PG_FUNCTION_INFO_V1(co_insist_ship);
PG_FUNCTION_INFO_V1(co_propose_refund_amount);
PG_FUNCTION_INFO_V1(co_accept_refund_amount);
PG_FUNCTION_INFO_V1(co_decline_refund_amount);
PG_FUNCTION_INFO_V1(co_supplement_evidence);

/* Columns co_case_write writes, in its parameter order after the keys */
static const CaseCol written_cols[] = {
	CC_STATE, CC_REFUND_AMOUNT, CC_PROPOSED_AMOUNT, CC_COMM_REASON,
	CC_REJECT_REASON, CC_PROOF_BUNDLE_ID, CC_TRACKING_NO, CC_BUYER_BUNDLE_ID
};

/* Write a case as a button proposes it; the trigger judges the write. */
void
co_case_write(const CaseRow *proposed)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[10] = {INT8OID, INT8OID, TEXTOID, NUMERICOID,
	NUMERICOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, INT8OID};
	Datum		values[10];
	char		nulls[10];
	int			i;

	co_connect();
	plan = co_prepare(&plan,
					  "UPDATE customorder.aftersales a SET "
					  "state = $3::pg_catalog.text::customorder.aftersale_state, "
					  "refund_amount = $4, proposed_amount = $5, comm_reason = $6, "
					  "reject_reason = $7, proof_bundle_id = $8, tracking_no = $9, "
					  "buyer_bundle_id = $10 "
					  "WHERE a.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND a.aftersale_id OPERATOR(pg_catalog.=) $2",
					  10, argtypes);
	memset(nulls, ' ', sizeof(nulls));
	values[0] = proposed->v[CC_ORDER_ID];
	values[1] = proposed->v[CC_AFTERSALE_ID];
	values[2] = CStringGetTextDatum(co_case_state_names[proposed->state]);
	for (i = 1; i < lengthof(written_cols); i++)
	{
		values[i + 2] = proposed->v[written_cols[i]];
		nulls[i + 2] = proposed->isnull[written_cols[i]] ? 'n' : ' ';
	}
	co_execute(plan, values, nulls, false, 0);
	co_finish();
}

/* The buyer answers and withdraws; the merchant handles the case */
static int
case_button_actor(CoAction action)
{
	switch (action)
	{
		case ACT_WITHDRAW:
		case ACT_ACCEPT_AMOUNT:
		case ACT_DECLINE_AMOUNT:
		case ACT_SUPPLEMENT_EVIDENCE:
			return CO_WHO_BUYER;
		default:
			return CO_WHO_MERCHANT;
	}
}

static void
set_col(CaseRow *row, CaseCol col, Datum value, bool isnull)
{
	row->v[col] = value;
	row->isnull[col] = isnull;
}

/*
 * The common shape of a button: lock and fetch, let the caller set the
 * proposed columns, choose the row (raising its refusal), write.
 */
typedef void (*ProposeFn) (FunctionCallInfo fcinfo, const CaseRow *old,
						   const OrderRow *order, CaseRow *proposed);

static CaseState
press(FunctionCallInfo fcinfo, const char *button, CoAction action,
	  ProposeFn propose, CaseRow *result)
{
	CaseRow		old;
	CaseRow		proposed;
	OrderRow	order;
	CoRefusal  *refusal;

	co_require_arg(fcinfo, 0, button, "aftersale_id");
	co_case_fetch(PG_GETARG_INT64(0), button, true, &old, &order);
	co_authorize_order(button, case_button_actor(action), &order);
	proposed = old;
	if (propose)
		propose(fcinfo, &old, &order, &proposed);
	if (co_case_choose(&old, &order, action, &proposed, false, &refusal) == NULL)
		co_raise(refusal);
	co_case_write(&proposed);
	if (result)
		*result = proposed;
	return proposed.state;
}

static Datum
case_state_text(CaseState state)
{
	return PointerGetDatum(cstring_to_text(co_case_state_names[state]));
}

/* withdraw_refund(aftersale_id): 撤销申请 (A3) */
Datum
co_withdraw_refund(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "withdraw_refund", ACT_WITHDRAW,
								 NULL, NULL));
}

static void
propose_full_refund(FunctionCallInfo fcinfo, const CaseRow *old,
					const OrderRow *order, CaseRow *proposed)
{
	set_col(proposed, CC_REFUND_AMOUNT, co_order_remaining(order), false);
}

/* agree_refund(aftersale_id): 同意退款 (A1.1, A2.1) */
Datum
co_agree_refund(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "agree_refund", ACT_AGREE_REFUND,
								 propose_full_refund, NULL));
}

/* insist_reject(aftersale_id): 坚持驳回 (A1.2, A2.2) */
Datum
co_insist_reject(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "insist_reject", ACT_INSIST_REJECT,
								 NULL, NULL));
}

/* the case guard judges the reason, unknown ones included (22023) */
static void
propose_comm_reason(FunctionCallInfo fcinfo, const CaseRow *old,
					const OrderRow *order, CaseRow *proposed)
{
	set_col(proposed, CC_COMM_REASON,
			PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1));
}

/*
 * communicate(aftersale_id, reason) -> the script sent: 先沟通 + 提交.
 * The case trigger records the platform's default script for the situation.
 * Pressing it again with the same reason while communicating sends nothing
 * new and returns the script already sent.
 */
Datum
co_communicate(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	CaseRow		after;
	text	   *script;

	press(fcinfo, "communicate", ACT_COMMUNICATE, propose_comm_reason, &after);

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT m.script FROM customorder.communications m "
					  "WHERE m.aftersale_id OPERATOR(pg_catalog.=) $1 "
					  "ORDER BY m.comm_no DESC LIMIT 1",
					  1, argtypes);
	values[0] = after.v[CC_AFTERSALE_ID];
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		elog(ERROR, "communicate: no communication recorded");
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		size_t		len = strlen(s);

		/* allocated outside SPI's context, so it survives SPI_finish */
		script = (text *) SPI_palloc(VARHDRSZ + len);
		SET_VARSIZE(script, VARHDRSZ + len);
		memcpy(VARDATA(script), s, len);
	}
	co_finish();
	PG_RETURN_TEXT_P(script);
}

/*
 * Buttons that upload a bundle first (continue_reject, supplement_evidence):
 * check the case could take the action at all, store the bundle tagged with
 * its purpose and case, then press with the bundle named.
 */
static CaseState
press_with_bundle(FunctionCallInfo fcinfo, const char *button, CoAction action,
				  int items_argno, CaseCol bundle_col, bool set_reject_reason)
{
	CaseRow		old;
	CaseRow		proposed;
	OrderRow	order;
	CoRefusal  *refusal;
	const char *purpose;
	int64		bundle_id;

	co_require_arg(fcinfo, 0, button, "aftersale_id");
	co_require_arg(fcinfo, items_argno, button, "items");
	if (set_reject_reason && !PG_ARGISNULL(1))
	{
		char	   *reason = co_text_arg(fcinfo, 1);

		if (strcmp(reason, "in_transit") != 0 &&
			strcmp(reason, "signed_no_reason") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("continue_reject: unknown reason \"%s\"", reason),
					 errhint("Pass NULL before shipment; after it in_transit or signed_no_reason.")));
	}
	co_case_fetch(PG_GETARG_INT64(0), button, true, &old, &order);
	co_authorize_order(button, case_button_actor(action), &order);
	proposed = old;
	if (co_case_choose(&old, &order, action, &proposed, true, &refusal) == NULL)
		co_raise(refusal);

	if (bundle_col == CC_BUYER_BUNDLE_ID)
		purpose = "buyer_supplement";
	else if (order.state == OS_SHIPPED || order.state == OS_SIGNED)
		purpose = "logistics_proof";
	else
		purpose = "rejection_proof";
	bundle_id = co_evidence_store(ORD_ID(&order), purpose,
								  old.v[CC_AFTERSALE_ID], false,
								  PG_GETARG_JSONB_P(items_argno), button);

	proposed = old;
	set_col(&proposed, bundle_col, Int64GetDatum(bundle_id), false);
	if (set_reject_reason)
		set_col(&proposed, CC_REJECT_REASON,
				PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
				PG_ARGISNULL(1));
	if (co_case_choose(&old, &order, action, &proposed, false, &refusal) == NULL)
		co_raise(refusal);
	co_case_write(&proposed);
	return proposed.state;
}

/* continue_reject(aftersale_id, reason, items): 继续驳回 (A1.2, A2.3) */
Datum
co_continue_reject(PG_FUNCTION_ARGS)
{
	return case_state_text(press_with_bundle(fcinfo, "continue_reject",
											 ACT_CONTINUE_REJECT, 2,
											 CC_PROOF_BUNDLE_ID, true));
}

/* supplement_evidence(aftersale_id, items): 补充凭证, the buyer (A2.2) */
Datum
co_supplement_evidence(PG_FUNCTION_ARGS)
{
	return case_state_text(press_with_bundle(fcinfo, "supplement_evidence",
											 ACT_SUPPLEMENT_EVIDENCE, 1,
											 CC_BUYER_BUNDLE_ID, false));
}

static void
propose_tracking(FunctionCallInfo fcinfo, const CaseRow *old,
				 const OrderRow *order, CaseRow *proposed)
{
	co_require_arg(fcinfo, 1, "insist_ship", "tracking_no");
	set_col(proposed, CC_TRACKING_NO, PG_GETARG_DATUM(1), false);
}

/* insist_ship(aftersale_id, tracking_no): 坚持发货 (A1.3) */
Datum
co_insist_ship(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "insist_ship", ACT_INSIST_SHIP,
								 propose_tracking, NULL));
}

static void
propose_amount(FunctionCallInfo fcinfo, const CaseRow *old,
			   const OrderRow *order, CaseRow *proposed)
{
	co_require_arg(fcinfo, 1, "propose_refund_amount", "amount");
	co_check_money(PG_GETARG_DATUM(1), "propose_refund_amount", "amount", false);
	/* money has two decimals; round before judging */
	set_col(proposed, CC_PROPOSED_AMOUNT,
			DirectFunctionCall2(numeric_round, PG_GETARG_DATUM(1),
								Int32GetDatum(2)), false);
}

/* propose_refund_amount(aftersale_id, amount): 与消费者协商退款金额 (A2.2) */
Datum
co_propose_refund_amount(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "propose_refund_amount",
								 ACT_PROPOSE_AMOUNT, propose_amount, NULL));
}

static void
propose_accept(FunctionCallInfo fcinfo, const CaseRow *old,
			   const OrderRow *order, CaseRow *proposed)
{
	set_col(proposed, CC_REFUND_AMOUNT, old->v[CC_PROPOSED_AMOUNT],
			old->isnull[CC_PROPOSED_AMOUNT]);
}

/* accept_refund_amount(aftersale_id): the buyer accepts the proposal */
Datum
co_accept_refund_amount(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "accept_refund_amount",
								 ACT_ACCEPT_AMOUNT, propose_accept, NULL));
}

static void
propose_decline(FunctionCallInfo fcinfo, const CaseRow *old,
				const OrderRow *order, CaseRow *proposed)
{
	set_col(proposed, CC_PROPOSED_AMOUNT, (Datum) 0, true);
}

/* decline_refund_amount(aftersale_id): the buyer declines the proposal */
Datum
co_decline_refund_amount(PG_FUNCTION_ARGS)
{
	return case_state_text(press(fcinfo, "decline_refund_amount",
								 ACT_DECLINE_AMOUNT, propose_decline, NULL));
}
