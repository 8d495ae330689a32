/*-------------------------------------------------------------------------
 *
 * order_buttons.c
 *	  The order's buttons: Start (开始定制), production evidence (提交定制凭证)
 *	  and the platform's review of it, ship (发货) and signed (签收).
 *
 *	  Each expresses intent: it declares its press and writes the order;
 *	  the order trigger authorizes the actor, chooses the transition and
 *	  decides, once.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"
#include "evidence.h"

#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_place_order);
PG_FUNCTION_INFO_V1(co_start_customization);
PG_FUNCTION_INFO_V1(co_ship);
PG_FUNCTION_INFO_V1(co_mark_signed);
PG_FUNCTION_INFO_V1(co_submit_custom_evidence);
PG_FUNCTION_INFO_V1(co_review_evidence);
PG_FUNCTION_INFO_V1(co_bundle_verdict_trigger);

static Datum
state_text(OrderState state)
{
	return PointerGetDatum(cstring_to_text(co_order_state_names[state]));
}

/*
 * place_order(product_id, buyer_id, amount) -> order_id.  Payment happened
 * outside; the trigger snapshots the product and category (L4).
 */
Datum
co_place_order(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT8OID, NUMERICOID};
	Datum		values[3];
	bool		isnull;
	int64		order_id;

	co_require_arg(fcinfo, 0, "place_order", "product_id");
	co_require_arg(fcinfo, 1, "place_order", "buyer_id");
	co_require_arg(fcinfo, 2, "place_order", "amount");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	/* the INSERT coerces the amount to numeric(12,2) before the trigger */
	co_check_money(values[2], "place_order", "amount", true);
	/* the platform's order service, or the buyer for themself */
	co_authorize("place_order", CO_WHO_PLATFORM | CO_WHO_BUYER, 0,
				 PG_GETARG_INT64(1));

	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.orders (product_id, buyer_id, amount) "
					  "VALUES ($1, $2, $3) RETURNING order_id",
					  3, argtypes);
	co_execute(plan, values, NULL, false, 0);
	order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	co_finish();
	PG_RETURN_INT64(order_id);
}

/* start_customization(order_id): 开始定制 (S2-S4) */
Datum
co_start_customization(PG_FUNCTION_ARGS)
{
	co_require_arg(fcinfo, 0, "start_customization", "order_id");
	return state_text(co_order_press(PG_GETARG_INT64(0), ACT_START,
									 "start_customization", CO_WHO_MERCHANT,
									 -1, (Datum) 0, true));
}

/* ship(order_id, tracking_no): 发货 */
Datum
co_ship(PG_FUNCTION_ARGS)
{
	co_require_arg(fcinfo, 0, "ship", "order_id");
	co_require_arg(fcinfo, 1, "ship", "tracking_no");
	return state_text(co_order_press(PG_GETARG_INT64(0), ACT_SHIP, "ship",
									 CO_WHO_MERCHANT, OC_TRACKING_NO,
									 PG_GETARG_DATUM(1), false));
}

/* mark_signed(order_id): 签收, reported by logistics */
Datum
co_mark_signed(PG_FUNCTION_ARGS)
{
	co_require_arg(fcinfo, 0, "mark_signed", "order_id");
	return state_text(co_order_press(PG_GETARG_INT64(0), ACT_MARK_SIGNED,
									 "mark_signed", CO_WHO_PLATFORM,
									 -1, (Datum) 0, true));
}

/*
 * Buttons that write another row before their order (a bundle, a verdict):
 * lock the order, check the actor and that the order offers the action at
 * all, before anything is written.  The guards are the trigger's, when the
 * press reaches the order.
 */
static void
lock_for_upload(int64 order_id, const char *button, int who, CoAction action,
				OrderRow *order)
{
	co_order_fetch(order_id, button, true, order);
	co_authorize_order(button, who, order);
	if (!co_action_offered(&co_order_machine, order->state, action))
	{
		CoGuardCtx	ctx = {order, order, order, false};

		co_raise(co_order_machine.no_row(&ctx, order->state, action, -1));
	}
}

/*
 * submit_custom_evidence(order_id, items) -> new order state (S4, S5).  The
 * order is locked and the merchant checked before the bundle is stored;
 * the press then names the bundle and the trigger judges it.
 */
Datum
co_submit_custom_evidence(PG_FUNCTION_ARGS)
{
	const char *button = "submit_custom_evidence";
	OrderRow	order;
	int64		bundle_id;

	co_require_arg(fcinfo, 0, button, "order_id");
	co_require_arg(fcinfo, 1, button, "items");
	lock_for_upload(PG_GETARG_INT64(0), button, CO_WHO_MERCHANT,
					ACT_SUBMIT_EVIDENCE, &order);
	bundle_id = co_evidence_store(ORD_ID(&order), "production", (Datum) 0,
								  true, PG_GETARG_JSONB_P(1), button);
	return state_text(co_order_press(ORD_ID(&order), ACT_SUBMIT_EVIDENCE,
									 button, 0, OC_EVIDENCE_BUNDLE_ID,
									 Int64GetDatum(bundle_id), false));
}

/*
 * review_evidence(order_id, approve, note) -> new order state: the
 * platform's verdict on the bundle of an order in evidence_review (S5).
 * The verdict is written on the bundle; its AFTER trigger moves the order.
 */
Datum
co_review_evidence(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	const char *button = "review_evidence";
	Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	OrderRow	order;
	bool		approve;

	co_require_arg(fcinfo, 0, button, "order_id");
	co_require_arg(fcinfo, 1, button, "approve");
	approve = PG_GETARG_BOOL(1);
	lock_for_upload(PG_GETARG_INT64(0), button, CO_WHO_PLATFORM,
					approve ? ACT_REVIEW_APPROVE : ACT_REVIEW_REJECT, &order);

	co_connect();
	plan = co_prepare(&plan,
					  "UPDATE customorder.evidence_bundles b "
					  "SET review_state = $3, review_note = $4 "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.bundle_id OPERATOR(pg_catalog.=) $2",
					  4, argtypes);
	values[0] = order.v[OC_ORDER_ID];
	values[1] = order.v[OC_EVIDENCE_BUNDLE_ID];
	nulls[1] = order.isnull[OC_EVIDENCE_BUNDLE_ID] ? 'n' : ' ';
	values[2] = CStringGetTextDatum(approve ? "approved" : "rejected");
	if (PG_ARGISNULL(2))
		nulls[3] = 'n';
	else
		values[3] = PG_GETARG_DATUM(2);
	co_execute(plan, values, nulls, false, 0);
	co_finish();

	/* the verdict trigger has moved the order */
	co_order_fetch(ORD_ID(&order), button, true, &order);
	return state_text(order.state);
}

/*
 * AFTER a production bundle gets its verdict, the order takes it (S5):
 * approved -> in_production, rejected -> awaiting_evidence, pressed as the
 * review's action, so a raw verdict cannot leave an order in
 * evidence_review behind a reviewed bundle.
 */
Datum
co_bundle_verdict_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_bundle_verdict_trigger",
											 CO_TRIGGER_AFTER | CO_TRIGGER_ROW);
	CoRow		old;
	CoRow		new;

	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		elog(ERROR, "co_bundle_verdict_trigger: must be fired by UPDATE");
	co_row_read(&co_bundles_table, trigdata->tg_relation,
				trigdata->tg_trigtuple, old.v, old.isnull);
	co_row_read(&co_bundles_table, trigdata->tg_relation,
				trigdata->tg_newtuple, new.v, new.isnull);
	if (!old.isnull[BC_REVIEW_STATE] || new.isnull[BC_REVIEW_STATE])
		return PointerGetDatum(NULL);
	co_order_press(DatumGetInt64(new.v[BC_ORDER_ID]),
				   co_bundle_state(&new) == BS_APPROVED ?
				   ACT_REVIEW_APPROVE : ACT_REVIEW_REJECT,
				   "review_evidence", 0, -1, (Datum) 0, true);
	return PointerGetDatum(NULL);
}
