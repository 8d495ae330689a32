/*-------------------------------------------------------------------------
 *
 * case_buttons.c
 *	  The buyer's request (申请退款) and the after-sale buttons of both
 *	  scenarios of the merchant guide (A1-A3) with the buyer's answers.
 *
 *	  Each expresses intent: it declares its press and writes the case (the
 *	  columns its arguments give); the case trigger locks the order,
 *	  authorizes the actor, fills what the transition computes (money),
 *	  chooses the transition and decides, once.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(co_request_refund);
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
PG_FUNCTION_INFO_V1(co_ship_return);
PG_FUNCTION_INFO_V1(co_confirm_return);
PG_FUNCTION_INFO_V1(co_refuse_return);
PG_FUNCTION_INFO_V1(co_escalate);
PG_FUNCTION_INFO_V1(co_submit_arbitration_evidence);
PG_FUNCTION_INFO_V1(co_arbitrate);

/*
 * A case button: its action, who presses it, and the columns its arguments
 * write ($3, $4 of its UPDATE, after the case's key $1, $2).
 */
typedef struct CaseButton
{
	const char *name;
	CoAction	action;
	int			who;
	int			nargs;
	CaseCol		cols[2];
	Oid			types[2];
	const char *set;			/* instead of the argument columns */
} CaseButton;

static const CaseButton case_buttons[] = {
	{"withdraw_refund", ACT_WITHDRAW, CO_WHO_BUYER, 0},
	{"agree_refund", ACT_AGREE_REFUND, CO_WHO_MERCHANT, 0},
	{"insist_reject", ACT_INSIST_REJECT, CO_WHO_MERCHANT, 0},
	{"communicate", ACT_COMMUNICATE, CO_WHO_MERCHANT, 1,
	{CC_COMM_REASON}, {TEXTOID}},
	{"continue_reject", ACT_CONTINUE_REJECT, CO_WHO_MERCHANT, 2,
	{CC_REJECT_REASON, CC_PROOF_BUNDLE_ID}, {TEXTOID, INT8OID}},
	{"insist_ship", ACT_INSIST_SHIP, CO_WHO_MERCHANT, 1,
	{CC_TRACKING_NO}, {TEXTOID}},
	{"propose_refund_amount", ACT_PROPOSE_AMOUNT, CO_WHO_MERCHANT, 1,
	{CC_PROPOSED_AMOUNT}, {NUMERICOID}},
	{"accept_refund_amount", ACT_ACCEPT_AMOUNT, CO_WHO_BUYER, 1,
	{CC_REFUND_AMOUNT}, {NUMERICOID}},
	{"decline_refund_amount", ACT_DECLINE_AMOUNT, CO_WHO_BUYER, 0},
	{"supplement_evidence", ACT_SUPPLEMENT_EVIDENCE, CO_WHO_BUYER, 1,
	{CC_BUYER_BUNDLE_ID}, {INT8OID}},
	{"ship_return", ACT_SHIP_RETURN, CO_WHO_BUYER, 1,
	{CC_RETURN_TRACKING_NO}, {TEXTOID}},
	{"confirm_return", ACT_CONFIRM_RETURN, CO_WHO_MERCHANT, 0},
	{"refuse_return", ACT_REFUSE_RETURN, CO_WHO_MERCHANT, 2,
	{CC_REJECT_REASON, CC_PROOF_BUNDLE_ID}, {TEXTOID, INT8OID}},
	{"escalate", ACT_ESCALATE, CO_WHO_BUYER, 1,
	{CC_ESCALATION_NOTE}, {TEXTOID}},
	{"submit_arbitration_evidence", ACT_ARBITRATION_EVIDENCE,
	CO_WHO_MERCHANT | CO_WHO_BUYER, 0},
	/* P3: amount 0 upholds, and is written as no refund */
	{"arbitrate", ACT_ARBITRATE, CO_WHO_PLATFORM, 2,
	{CC_REFUND_AMOUNT, CC_ARBITRATION_NOTE}, {NUMERICOID, TEXTOID},
	"refund_amount = CASE WHEN $3 OPERATOR(pg_catalog.=) 0::pg_catalog.numeric "
	"THEN NULL ELSE $3 END, arbitration_note = $4"},
	/* 1.0's accept_refund_amount(aftersale_id), for a 1.0 database (U2) */
	{"accept_refund_amount", ACT_ACCEPT_AMOUNT, CO_WHO_BUYER, 0, {0}, {0},
	"refund_amount = a.proposed_amount"},
};
#define LEGACY_ACCEPT (&case_buttons[lengthof(case_buttons) - 1])

/* The kept UPDATE of a button, writing its argument columns */
static SPIPlanPtr
button_plan(const CaseButton *b)
{
	static SPIPlanPtr plans[lengthof(case_buttons)];
	SPIPlanPtr *plan = &plans[b - case_buttons];
	StringInfoData sql;
	Oid			argtypes[4] = {INT8OID, INT8OID, InvalidOid, InvalidOid};
	int			i;

	if (*plan != NULL)
		return *plan;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "UPDATE customorder.aftersales a SET ");
	if (b->set)
		appendStringInfoString(&sql, b->set);
	else if (b->nargs == 0)
		appendStringInfoString(&sql, "state = a.state");
	for (i = 0; i < b->nargs; i++)
	{
		if (!b->set)
			appendStringInfo(&sql, "%s%s = $%d", i ? ", " : "",
							 co_case_col_names[b->cols[i]], i + 3);
		argtypes[i + 2] = b->types[i];
	}
	appendStringInfoString(&sql,
						   " WHERE a.order_id OPERATOR(pg_catalog.=) $1"
						   " AND a.aftersale_id OPERATOR(pg_catalog.=) $2"
						   " RETURNING a.state");
	co_prepare(plan, sql.data, b->nargs + 2, argtypes);
	pfree(sql.data);
	return *plan;
}

/*
 * H6: the case's order, and may the actor press b on it?  Before anything
 * is locked.  A missing case is 42501 for a merchant or buyer, like
 * another's, and P0002 for the platform.
 */
static int64
authorize_case(const CaseButton *b, int64 aftersale_id)
{
	int64		order_id = 0;
	bool		found = co_case_order_id(aftersale_id, &order_id);

	co_authorize_order_id(b->name, b->who, order_id);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: after-sale case " INT64_FORMAT " does not exist",
						b->name, aftersale_id),
				 errhint("Check the aftersale_id returned by request_refund().")));
	return order_id;
}

/*
 * Press button b on the case "aftersale_id" with its arguments; returns
 * the case's new state.  "order_id" is the case's order when the caller
 * has authorized the actor on it already, else 0.
 */
static CaseState
press(const CaseButton *b, int64 aftersale_id, int64 order_id,
	  const Datum *args, const bool *argnull)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	CaseState	state;
	bool		isnull;
	int			i;

	/* the case's order, unlocked: the UPDATE locks the case first */
	if (order_id == 0)
		order_id = authorize_case(b, aftersale_id);
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(aftersale_id);
	for (i = 0; i < b->nargs; i++)
	{
		values[i + 2] = args[i];
		nulls[i + 2] = argnull[i] ? 'n' : ' ';
	}
	co_connect();
	co_case_press(order_id, aftersale_id, b->action, b->name, b->who,
				  button_plan(b), values, nulls);
	state = co_case_state_from_datum(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1,
												   &isnull));
	co_finish();
	return state;
}

static const CaseButton *
button(CoAction action)
{
	int			i;

	for (i = 0; i < lengthof(case_buttons); i++)
		if (case_buttons[i].action == action)
			return &case_buttons[i];
	elog(ERROR, "customorder: no case button for action %d", action);
	return NULL;
}

static Datum
state_text(CaseState state)
{
	return PointerGetDatum(cstring_to_text(co_case_state_names[state]));
}

/* A button whose only argument is the case */
static Datum
press_case_only(FunctionCallInfo fcinfo, CoAction action)
{
	const CaseButton *b = button(action);

	co_require_arg(fcinfo, 0, b->name, "aftersale_id");
	return state_text(press(b, PG_GETARG_INT64(0), 0, NULL, NULL));
}

/* A button with one argument after the case; "required" refuses a NULL */
static Datum
press_one_arg(FunctionCallInfo fcinfo, CoAction action, const char *argname,
			  Datum arg, bool required)
{
	const CaseButton *b = button(action);
	bool		argnull = PG_ARGISNULL(1);

	co_require_arg(fcinfo, 0, b->name, "aftersale_id");
	if (required)
		co_require_arg(fcinfo, 1, b->name, argname);
	return state_text(press(b, PG_GETARG_INT64(0), 0, &arg, &argnull));
}

/*
 * The new case's order in case_orders, where the after-sale buttons look it
 * up by the case's id (co_case_order_id).  Written here, in the button's
 * transaction, not by the case trigger: on Citus case_orders is distributed
 * by aftersale_id, so the row lives on another shard than the case, out of
 * reach of a trigger running on the case's shard.  A 1.0 database (U2) has
 * no case_orders.
 */
static void
record_case_order(int64 aftersale_id, int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];

	if (!co_table_exists("case_orders"))
		return;
	values[0] = Int64GetDatum(aftersale_id);
	values[1] = Int64GetDatum(order_id);
	co_execute(co_prepare(&plan,
						  "INSERT INTO customorder.case_orders (aftersale_id, order_id) "
						  "VALUES ($1, $2)",
						  2, argtypes),
			   values, NULL, false, 0);
}

/*
 * request_refund(order_id, kind, reason) -> aftersale_id.  Before
 * customization is in effect the case is born instant_refunded and the order
 * cancelled (F2); afterwards it opens a case the merchant decides (F3).
 */
Datum
co_request_refund(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	const char *button_name = "request_refund";
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		aftersale_id;

	co_require_arg(fcinfo, 0, button_name, "order_id");
	co_require_arg(fcinfo, 1, button_name, "kind");
	co_require_arg(fcinfo, 2, button_name, "reason");
	co_authorize_order_id(button_name, CO_WHO_BUYER, PG_GETARG_INT64(0));
	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.aftersales "
					  "(aftersale_id, order_id, kind, reason) "
					  "OVERRIDING SYSTEM VALUE VALUES (NULL, $1, $2, $3) "
					  "RETURNING aftersale_id",
					  3, argtypes);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	co_case_press(PG_GETARG_INT64(0), 0, ACT_REQUEST_REFUND, button_name,
				  CO_WHO_BUYER, plan, values, NULL);
	aftersale_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1,
											   &isnull));
	record_case_order(aftersale_id, PG_GETARG_INT64(0));
	co_finish();
	PG_RETURN_INT64(aftersale_id);
}

/* withdraw_refund(aftersale_id): 撤销申请 (A3) */
Datum
co_withdraw_refund(PG_FUNCTION_ARGS)
{
	return press_case_only(fcinfo, ACT_WITHDRAW);
}

/* agree_refund(aftersale_id): 同意退款 (A1.1, A2.1) */
Datum
co_agree_refund(PG_FUNCTION_ARGS)
{
	return press_case_only(fcinfo, ACT_AGREE_REFUND);
}

/* insist_reject(aftersale_id): 坚持驳回 (A1.2, A2.2) */
Datum
co_insist_reject(PG_FUNCTION_ARGS)
{
	return press_case_only(fcinfo, ACT_INSIST_REJECT);
}

/*
 * communicate(aftersale_id, reason) -> the script sent: 先沟通 + 提交.
 * The case trigger records the platform's default script for the situation
 * (the case guard judges the reason, unknown ones included).  Pressing it
 * again with the same reason while communicating sends nothing new and
 * returns the script already sent.
 */
Datum
co_communicate(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		key[2];
	int64		order_id;
	text	   *script;

	press_one_arg(fcinfo, ACT_COMMUNICATE, "reason",
				  PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), false);

	/* the press found the case, so its order is there: read its key */
	if (!co_case_order_id(PG_GETARG_INT64(0), &order_id))
		elog(ERROR, "communicate: the case's order is gone");
	key[0] = Int64GetDatum(order_id);
	key[1] = PG_GETARG_DATUM(0);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT m.script FROM customorder.communications m "
					  "WHERE m.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND m.aftersale_id OPERATOR(pg_catalog.=) $2 "
					  "ORDER BY m.comm_no DESC LIMIT 1",
					  2, argtypes);
	co_execute(plan, key, NULL, false, 1);
	if (SPI_processed != 1)
		elog(ERROR, "communicate: no communication recorded");
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		/* allocated outside SPI's context, so it survives SPI_finish */
		script = (text *) SPI_palloc(VARHDRSZ + strlen(s));
		SET_VARSIZE(script, VARHDRSZ + strlen(s));
		memcpy(VARDATA(script), s, strlen(s));
	}
	co_finish();
	PG_RETURN_TEXT_P(script);
}

/*
 * Buttons that upload a bundle (continue_reject, supplement_evidence): lock
 * the case and its order and check the actor before anything is stored,
 * store the bundle tagged with its purpose and case, then press with the
 * bundle named.
 */
static Datum
press_with_bundle(FunctionCallInfo fcinfo, CoAction action, int items_argno)
{
	const CaseButton *b = button(action);
	CaseButton	party;
	CaseRow		kase;
	OrderRow	order;
	const char *purpose;
	Datum		args[2];
	bool		argnull[2] = {false, false};
	int64		bundle_id;

	co_require_arg(fcinfo, 0, b->name, "aftersale_id");
	co_require_arg(fcinfo, items_argno, b->name, "items");
	/* P2: the merchant when the session acts for a shop, else the buyer */
	if (action == ACT_ARBITRATION_EVIDENCE)
	{
		party = *b;
		party.who = co_acting_shop_id() != 0 ? CO_WHO_MERCHANT : CO_WHO_BUYER;
		b = &party;
	}
	authorize_case(b, PG_GETARG_INT64(0));
	co_case_fetch(PG_GETARG_INT64(0), b->name, true, &kase, &order);
	if (action == ACT_SUPPLEMENT_EVIDENCE)
		purpose = "buyer_supplement";
	else if (action == ACT_REFUSE_RETURN)
		purpose = "return_proof";
	else if (action == ACT_ARBITRATION_EVIDENCE)
		purpose = b->who == CO_WHO_MERCHANT ? "arbitration_merchant" :
			"arbitration_buyer";
	else if (co_order_shipped(&order))
		purpose = "logistics_proof";
	else
		purpose = "rejection_proof";
	bundle_id = co_evidence_store(ORD_ID(&order), purpose,
								  kase.v[CC_AFTERSALE_ID], false,
								  PG_GETARG_JSONB_P(items_argno), b->name);

	/*
	 * continue_reject, refuse_return: (reason, bundle); supplement_evidence:
	 * (bundle); submit_arbitration_evidence: nothing (its guard counts).
	 */
	if (b->nargs == 2)
	{
		args[0] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
		argnull[0] = PG_ARGISNULL(1);
	}
	if (b->nargs > 0)
		args[b->nargs - 1] = Int64GetDatum(bundle_id);
	/* the kept plan is the table's button's, never the party's copy */
	return state_text(press(button(action), CASE_ID(&kase), ORD_ID(&order),
							args, argnull));
}

/* continue_reject(aftersale_id, reason, items): 继续驳回 (A1.2, A2.3) */
Datum
co_continue_reject(PG_FUNCTION_ARGS)
{
	return press_with_bundle(fcinfo, ACT_CONTINUE_REJECT, 2);
}

/* supplement_evidence(aftersale_id, items): 补充凭证, the buyer (A2.2) */
Datum
co_supplement_evidence(PG_FUNCTION_ARGS)
{
	return press_with_bundle(fcinfo, ACT_SUPPLEMENT_EVIDENCE, 1);
}

/* insist_ship(aftersale_id, tracking_no): 坚持发货 (A1.3) */
Datum
co_insist_ship(PG_FUNCTION_ARGS)
{
	return press_one_arg(fcinfo, ACT_INSIST_SHIP, "tracking_no",
						 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), true);
}

/* propose_refund_amount(aftersale_id, amount): 与消费者协商退款金额 (A2.2) */
Datum
co_propose_refund_amount(PG_FUNCTION_ARGS)
{
	Datum		amount = (Datum) 0;

	if (!PG_ARGISNULL(1))
	{
		/* the amount is written to the case before the guard judges it */
		co_check_money(PG_GETARG_DATUM(1), "propose_refund_amount", "amount",
					   true);
		amount = PG_GETARG_DATUM(1);
	}
	return press_one_arg(fcinfo, ACT_PROPOSE_AMOUNT, "amount", amount, true);
}

/*
 * accept_refund_amount(aftersale_id, amount): the buyer accepts the
 * proposal they saw (H4).  The amount goes into the case's refund_amount,
 * which the guard compares with the proposal on the locked case.  1.0's
 * accept_refund_amount(aftersale_id) (a 1.0 database not yet updated, U2)
 * accepts whatever the locked case proposes.
 */
Datum
co_accept_refund_amount(PG_FUNCTION_ARGS)
{
	const char *name = "accept_refund_amount";
	Datum		amount;
	bool		argnull = false;

	if (PG_NARGS() == 1)
	{
		co_require_arg(fcinfo, 0, name, "aftersale_id");
		return state_text(press(LEGACY_ACCEPT, PG_GETARG_INT64(0), 0, NULL,
								NULL));
	}
	co_require_arg(fcinfo, 0, name, "aftersale_id");
	co_require_arg(fcinfo, 1, name, "amount");
	amount = PG_GETARG_DATUM(1);
	co_check_money(amount, name, "amount", true);
	return state_text(press(button(ACT_ACCEPT_AMOUNT), PG_GETARG_INT64(0), 0,
							&amount, &argnull));
}

/* decline_refund_amount(aftersale_id): the buyer declines the proposal */
Datum
co_decline_refund_amount(PG_FUNCTION_ARGS)
{
	return press_case_only(fcinfo, ACT_DECLINE_AMOUNT);
}

/* ship_return(aftersale_id, tracking_no): the buyer sends the goods back (R2) */
Datum
co_ship_return(PG_FUNCTION_ARGS)
{
	return press_one_arg(fcinfo, ACT_SHIP_RETURN, "tracking_no",
						 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), true);
}

/* confirm_return(aftersale_id): the merchant has the goods back; refund (R3) */
Datum
co_confirm_return(PG_FUNCTION_ARGS)
{
	return press_case_only(fcinfo, ACT_CONFIRM_RETURN);
}

/* refuse_return(aftersale_id, reason, items): with a return proof (R4) */
Datum
co_refuse_return(PG_FUNCTION_ARGS)
{
	return press_with_bundle(fcinfo, ACT_REFUSE_RETURN, 2);
}

/* escalate(aftersale_id, note): 平台介入, the buyer asks the platform (P1) */
Datum
co_escalate(PG_FUNCTION_ARGS)
{
	return press_one_arg(fcinfo, ACT_ESCALATE, "note",
						 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), false);
}

/* submit_arbitration_evidence(aftersale_id, items): either party (P2) */
Datum
co_submit_arbitration_evidence(PG_FUNCTION_ARGS)
{
	return press_with_bundle(fcinfo, ACT_ARBITRATION_EVIDENCE, 1);
}

/*
 * arbitrate(aftersale_id, refund_amount, note): the platform's ruling (P3):
 * 0 upholds the rejection, a positive amount is refunded.
 */
Datum
co_arbitrate(PG_FUNCTION_ARGS)
{
	const char *name = "arbitrate";
	Datum		args[2];
	bool		argnull[2] = {false, false};

	co_require_arg(fcinfo, 0, name, "aftersale_id");
	co_require_arg(fcinfo, 1, name, "refund_amount");
	co_require_arg(fcinfo, 2, name, "note");
	args[0] = PG_GETARG_DATUM(1);
	args[1] = PG_GETARG_DATUM(2);
	co_check_money(args[0], name, "refund_amount", true);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, args[0],
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, args[0],
										  DirectFunctionCall2(numeric_round, args[0],
															  Int32GetDatum(2)))) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: refund_amount must be 0 or a positive amount with at most two decimals (rule P3)", name),
				 errdetail("refund_amount is %s.", co_numeric_str(args[0])),
				 errhint("Pass 0 to uphold the rejection, or the amount to refund.")));
	return state_text(press(button(ACT_ARBITRATE), PG_GETARG_INT64(0), 0,
							args, argnull));
}
