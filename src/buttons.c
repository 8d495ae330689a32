/*-------------------------------------------------------------------------
 *
 * buttons.c
 *	  The order buttons (Start, ship, signed), the merchant backend's button
 *	  list with its grey/blue states, and transitions(), which publishes the
 *	  state machines' tables.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "funcapi.h"
#include "utils/builtins.h"

#include "aftersale.h"

PG_FUNCTION_INFO_V1(co_start_customization);
PG_FUNCTION_INFO_V1(co_ship);
PG_FUNCTION_INFO_V1(co_mark_signed);
PG_FUNCTION_INFO_V1(co_order_buttons);
PG_FUNCTION_INFO_V1(co_transitions);

static Datum
state_text(OrderState state)
{
	return PointerGetDatum(cstring_to_text(co_order_state_names[state]));
}

/* start_customization(order_id): 开始定制 (S2-S4) */
Datum
co_start_customization(PG_FUNCTION_ARGS)
{
	OrderRow	old;
	OrderRow	proposed;

	co_require_arg(fcinfo, 0, "start_customization", "order_id");
	co_order_fetch(PG_GETARG_INT64(0), "start_customization", true, &old);
	co_authorize_order("start_customization", CO_WHO_MERCHANT, &old);
	proposed = old;
	return state_text(co_order_apply(&old, ACT_START, &proposed));
}

/* ship(order_id, tracking_no): 发货 */
Datum
co_ship(PG_FUNCTION_ARGS)
{
	OrderRow	old;
	OrderRow	proposed;

	co_require_arg(fcinfo, 0, "ship", "order_id");
	co_require_arg(fcinfo, 1, "ship", "tracking_no");
	co_order_fetch(PG_GETARG_INT64(0), "ship", true, &old);
	co_authorize_order("ship", CO_WHO_MERCHANT, &old);
	proposed = old;
	proposed.v[OC_TRACKING_NO] = PG_GETARG_DATUM(1);
	proposed.isnull[OC_TRACKING_NO] = false;
	return state_text(co_order_apply(&old, ACT_SHIP, &proposed));
}

/* mark_signed(order_id): 签收, reported by logistics */
Datum
co_mark_signed(PG_FUNCTION_ARGS)
{
	OrderRow	old;
	OrderRow	proposed;

	co_require_arg(fcinfo, 0, "mark_signed", "order_id");
	co_order_fetch(PG_GETARG_INT64(0), "mark_signed", true, &old);
	co_authorize_order("mark_signed", CO_WHO_PLATFORM, &old);
	proposed = old;
	return state_text(co_order_apply(&old, ACT_MARK_SIGNED, &proposed));
}

/* ----------------------------------------------------------------
 *		order_buttons
 * ----------------------------------------------------------------
 */

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
 * True if some row of the order table leaves "state" by "action": the
 * button is shown, blue or grey.
 */
static bool
order_action_offered(OrderState state, CoAction action)
{
	int			i;

	for (i = 0; i < co_order_transition_count; i++)
		if (co_order_transitions[i].from == state &&
			co_order_transitions[i].action == action)
			return true;
	return false;
}

static bool
case_action_offered(CaseState state, CoAction action)
{
	int			i;

	for (i = 0; i < co_case_transition_count; i++)
		if (co_case_transitions[i].from == state &&
			co_case_transitions[i].action == action)
			return true;
	return false;
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
	co_order_fetch(PG_GETARG_INT64(0), "order_buttons", false, &order);
	co_authorize_order("order_buttons", CO_WHO_PLATFORM | CO_WHO_MERCHANT, &order);
	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < lengthof(order_button_defs); i++)
	{
		const ButtonDef *b = &order_button_defs[i];
		OrderRow	proposed = order;
		CoRefusal  *refusal;

		if (b->custom_only && !ORD_IS_CUSTOM(&order))
			continue;
		if (!order_action_offered(order.state, b->action))
			continue;
		co_order_choose(&order, b->action, &proposed, true, &refusal);
		put_button(rsinfo, b->button, b->label, refusal);
	}

	/* S6: 查看定制凭证 once customization is in effect */
	if (ORD_IS_CUSTOM(&order) && co_order_in_effect(order.state))
		put_button(rsinfo, "view_custom_evidence", "查看定制凭证", NULL);

	if (!order.isnull[OC_OPEN_AFTERSALE_ID])
	{
		CaseRow		kase;
		OrderRow	locked;

		co_case_fetch(DatumGetInt64(order.v[OC_OPEN_AFTERSALE_ID]),
					  "order_buttons", false, &kase, &locked);
		for (i = 0; i < lengthof(case_button_defs); i++)
		{
			const ButtonDef *b = &case_button_defs[i];
			CaseRow		proposed = kase;
			CoRefusal  *refusal;

			/* A1.3: insist_ship belongs to scenario 1 (goods not shipped) */
			if (b->action == ACT_INSIST_SHIP &&
				!co_order_before_shipment(locked.state))
				continue;
			if (!case_action_offered(kase.state, b->action))
				continue;
			co_case_choose(&kase, &locked, b->action, &proposed, true, &refusal);
			put_button(rsinfo, b->button, b->label, refusal);
		}
	}
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		transitions
 * ----------------------------------------------------------------
 */

static void
put_transition(ReturnSetInfo *rsinfo, const char *machine, const char *from,
			   const char *action, const char *to, const char *guard,
			   const char *rule)
{
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = CStringGetTextDatum(machine);
	values[1] = CStringGetTextDatum(from);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(to);
	values[4] = CStringGetTextDatum(guard);
	values[5] = CStringGetTextDatum(rule);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * transitions(): every legal change of both machines, straight from the
 * static tables the triggers use.
 */
Datum
co_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < co_order_transition_count; i++)
	{
		const OrderTransition *t = &co_order_transitions[i];

		put_transition(rsinfo, "order", co_order_state_names[t->from],
					   co_action_names[t->action], co_order_state_names[t->to],
					   t->guard_name, t->rule);
	}
	for (i = 0; i < co_case_transition_count; i++)
	{
		const CaseTransition *t = &co_case_transitions[i];

		put_transition(rsinfo, "aftersale", co_case_state_names[t->from],
					   co_action_names[t->action], co_case_state_names[t->to],
					   t->guard_name, t->rule);
	}
	return (Datum) 0;
}
