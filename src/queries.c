/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  What the back ends ask without changing anything: the merchant
 *	  backend's buttons for an order, grey or blue with the reason
 *	  (order_buttons), and what a buyer's refund request would do now
 *	  (refund_eligibility).  Both ask the machines' own guards.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(co_order_buttons);
PG_FUNCTION_INFO_V1(co_refund_eligibility);
PG_FUNCTION_INFO_V1(co_view_custom_evidence);
PG_FUNCTION_INFO_V1(co_product_badges);

typedef struct ButtonDef
{
	const char *button;
	const char *label;
	CoAction	action;
	bool		custom_only;
} ButtonDef;

static const ButtonDef order_button_defs[] = {
	{"start_customization", "开始定制", ACT_START, true},
	{"submit_custom_evidence", "提交定制凭证", ACT_SUBMIT_EVIDENCE, true},
	{"ship", "发货", ACT_SHIP, false},
};

static const ButtonDef case_button_defs[] = {
	{"agree_refund", "同意退款", ACT_AGREE_REFUND, false},
	{"insist_reject", "坚持驳回", ACT_INSIST_REJECT, false},
	{"communicate", "先沟通", ACT_COMMUNICATE, false},
	{"continue_reject", "继续驳回", ACT_CONTINUE_REJECT, false},
	{"insist_ship", "坚持发货", ACT_INSIST_SHIP, false},
	{"propose_refund_amount", "与消费者协商退款金额", ACT_PROPOSE_AMOUNT, false},
	{"confirm_return", "确认收货并退款", ACT_CONFIRM_RETURN, false},
	{"refuse_return", "拒绝退货", ACT_REFUSE_RETURN, false},
};

static void
put_button(ReturnSetInfo *rsinfo, const char *button, const char *label,
		   CoRefusal *refusal)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, refusal == NULL};

	values[0] = CStringGetTextDatum(button);
	values[1] = CStringGetTextDatum(label);
	values[2] = BoolGetDatum(refusal == NULL);
	if (refusal)
		values[3] = CStringGetTextDatum(refusal->hint ?
										psprintf("%s. %s", refusal->message, refusal->hint) :
										refusal->message);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * order_buttons(order_id): the merchant backend's buttons for an order and
 * its open case, each blue (enabled) or grey with the reason.  The states
 * come from the same tables and guards the triggers enforce.
 */
Datum
co_order_buttons(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OrderRow	order;
	int			i;

	co_require_arg(fcinfo, 0, "order_buttons", "order_id");
	co_authorize_order_id("order_buttons", CO_WHO_PLATFORM | CO_WHO_MERCHANT,
						  PG_GETARG_INT64(0));
	co_order_fetch(PG_GETARG_INT64(0), "order_buttons", false, &order);
	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < lengthof(order_button_defs); i++)
	{
		const ButtonDef *b = &order_button_defs[i];
		CoGuardCtx	ctx = {&order, &order, &order, true};
		OrderRow	proposed;
		CoRefusal  *refusal;

		if (b->custom_only && !ORD_IS_CUSTOM(&order))
			continue;
		if (!co_action_offered(&co_order_machine, order.state, b->action))
			continue;
		co_choose(&co_order_machine, &ctx, b->action, -1, 0, &proposed,
				  &refusal);
		put_button(rsinfo, b->button, b->label, refusal);
	}

	/* S6: 查看定制凭证 once customization is in effect */
	if (ORD_IS_CUSTOM(&order) && co_order_in_effect(order.state))
		put_button(rsinfo, "view_custom_evidence", "查看定制凭证", NULL);

	if (!order.isnull[OC_OPEN_AFTERSALE_ID])
	{
		CaseRow		kase;
		OrderRow	locked;

		co_case_fetch_in_order(ORD_ID(&order),
							   DatumGetInt64(order.v[OC_OPEN_AFTERSALE_ID]),
							   "order_buttons", false, &kase, &locked);
		for (i = 0; i < lengthof(case_button_defs); i++)
		{
			const ButtonDef *b = &case_button_defs[i];
			CoGuardCtx	ctx = {&kase, &kase, &locked, true, CO_WHO_MERCHANT};
			CaseRow		proposed;
			CoRefusal  *refusal;

			/* A1.3: insist_ship belongs to scenario 1 (goods not shipped) */
			if (b->action == ACT_INSIST_SHIP &&
				!co_order_before_shipment(locked.state))
				continue;
			if (!co_action_offered(&co_case_machine, kase.state, b->action))
				continue;
			co_choose(&co_case_machine, &ctx, b->action, -1, 0, &proposed,
					  &refusal);
			put_button(rsinfo, b->button, b->label, refusal);
		}
	}
	return (Datum) 0;
}

/* refund_eligibility: where the order's open case stands (F7, R, P) */
static char *
open_case_why(int64 aftersale_id)
{
	CaseRow		kase;
	OrderRow	order;
	const char *stands;

	co_case_fetch(aftersale_id, "refund_eligibility", false, &kase, &order);
	switch (kase.state)
	{
		case CS_AWAITING_RETURN:
			stands = "the merchant agreed to the return; it awaits the buyer's return shipment (ship_return, R1, R2)";
			break;
		case CS_RETURN_SHIPPED:
			stands = "the buyer shipped the return; the merchant confirms receipt and refunds, or refuses the return (R3, R4)";
			break;
		case CS_ARBITRATION:
			stands = "the buyer escalated the rejection; the platform arbitrates (P1-P3)";
			break;
		default:
			return psprintf("After-sale case " INT64_FORMAT " is open; one case at a time (F7).",
							aftersale_id);
	}
	return psprintf("After-sale case " INT64_FORMAT " is open: %s; one case at a time (F7).",
					aftersale_id, stands);
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
	co_authorize_order_id("refund_eligibility", CO_WHO_ANYONE, PG_GETARG_INT64(0));
	co_order_fetch(PG_GETARG_INT64(0), "refund_eligibility", false, &o);

	if (o.state == OS_CANCELLED || o.state == OS_REFUNDED)
		why = psprintf("The order is %s: nothing is left to refund.",
					   co_order_state_names[o.state]);
	else if (!o.isnull[OC_OPEN_AFTERSALE_ID])
	{
		merchant_decides = true;
		why = open_case_why(DatumGetInt64(o.v[OC_OPEN_AFTERSALE_ID]));
	}
	else if (co_order_instant_refund_applies(&o))
	{
		instant = can_request = true;
		why = o.state == OS_IN_PRODUCTION ?
			psprintf("The order missed its ship_by (%s) unshipped: a request is refunded instantly (T1, F2).",
					 co_timestamptz_str(DatumGetTimestampTz(o.v[OC_SHIP_BY]))) :
			ORD_IS_CUSTOM(&o) ?
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

/*
 * view_custom_evidence(order_id): every submitted bundle of the order with
 * its items, production evidence and after-sale proof alike (S6).
 */
Datum
co_view_custom_evidence(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	OrderRow	order;
	uint64		i;

	co_require_arg(fcinfo, 0, "view_custom_evidence", "order_id");
	co_authorize_order_id("view_custom_evidence", CO_WHO_ANYONE, PG_GETARG_INT64(0));
	co_order_fetch(PG_GETARG_INT64(0), "view_custom_evidence", false, &order);

	InitMaterializedSRF(fcinfo, 0);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT b.bundle_id, b.purpose, b.aftersale_id, b.submitted_at, "
					  "b.review_state, i.item_no, i.type, i.mime, i.bytes, i.uri, i.sha256 "
					  "FROM customorder.evidence_bundles b "
					  "JOIN customorder.evidence_items i "
					  "ON i.order_id OPERATOR(pg_catalog.=) b.order_id "
					  "AND i.bundle_id OPERATOR(pg_catalog.=) b.bundle_id "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.submitted_at IS NOT NULL "
					  "ORDER BY b.bundle_id, i.item_no",
					  1, argtypes);
	values[0] = order.v[OC_ORDER_ID];
	co_execute(plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[11];
		bool		nulls[11];
		int			c;

		for (c = 0; c < 11; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								   c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	co_finish();
	return (Datum) 0;
}

/*
 * product_badges(product_id): L3, the 7-day no-reason return badge shows on
 * ordinary products only; custom products show the custom label, H7: while
 * the label is valid (a custom product whose approval was withdrawn or
 * whose category was disabled shows no badge until it is valid again).
 */
Datum
co_product_badges(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	bool		is_custom;
	bool		label_valid;
	Datum		badge;

	co_require_arg(fcinfo, 0, "product_badges", "product_id");
	values[0] = PG_GETARG_DATUM(0);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT p.is_custom, " CO_LABEL_VALID_SQL("")
					  " FROM customorder.products p "
					  "JOIN customorder.categories c "
					  "ON c.category_id OPERATOR(pg_catalog.=) p.category_id "
					  "WHERE p.product_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, values, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("product_badges: product " INT64_FORMAT " does not exist",
						DatumGetInt64(values[0])),
				 errhint("Check the product_id.")));
	is_custom = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	label_valid = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
	co_finish();

	badge = CStringGetTextDatum(is_custom ? "custom" : "seven_day_return");
	PG_RETURN_ARRAYTYPE_P(construct_array(&badge, is_custom && !label_valid ? 0 : 1,
										  TEXTOID, -1, false, TYPALIGN_INT));
}
