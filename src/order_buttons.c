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
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
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
 * H3: the order already recorded for payment pay_no (values[3]), if any:
 * its id, or 0.  Product, buyer and amount must agree with the call's, else
 * 22023.  Two lookups by key, payments by pay_no and then orders by
 * order_id, never a join: on Citus the tables are distributed by those
 * keys, so each is a single-shard read.  Read with a fresh snapshot
 * (read_only false): after ON CONFLICT waited for another session's claim,
 * its committed order is seen.
 */
static int64
order_of_payment(const Datum *values)
{
	static SPIPlanPtr payment_plan = NULL;
	static SPIPlanPtr order_plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Oid			order_argtypes[1] = {INT8OID};
	Datum		key;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int64		order_id;
	int			attempt;

	co_execute(co_prepare(&payment_plan,
						  "SELECT p.order_id FROM customorder.payments p "
						  "WHERE p.pay_no OPERATOR(pg_catalog.=) $1",
						  1, argtypes),
			   &values[3], NULL, false, 1);
	if (SPI_processed != 1)
		return 0;
	order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	key = Int64GetDatum(order_id);

	/*
	 * Distributed, the payment and its order are committed on their own
	 * nodes, one after the other (Citus's two-phase commit): a claim that
	 * waited for the payment may read it committed and its order not yet.
	 * Read the order again for up to a second (each read takes a new
	 * snapshot under READ COMMITTED) before calling it missing.
	 */
	for (attempt = 0;; attempt++)
	{
		co_execute(co_prepare(&order_plan,
							  "SELECT o.product_id, o.buyer_id, o.amount "
							  "FROM customorder.orders o "
							  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
							  1, order_argtypes),
				   &key, NULL, false, 1);
		if (SPI_processed == 1 || attempt >= 100 || IsolationUsesXactSnapshot() ||
			!co_distributed())
			break;
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("place_order: payment \"%s\" names order " INT64_FORMAT ", which does not exist (rule H3)",
						TextDatumGetCString(values[3]), order_id),
				 errhint("customorder.verify() reports the payments without their order; restore the order or remove the payment.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) != DatumGetInt64(values[0]) ||
		DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull)) != DatumGetInt64(values[1]) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  SPI_getbinval(tup, desc, 3, &isnull),
										  DirectFunctionCall2(numeric_round, values[2],
															  Int32GetDatum(2)))) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("place_order: payment \"%s\" is already recorded for another order (rule H3)",
						TextDatumGetCString(values[3])),
				 errdetail("Order " INT64_FORMAT ": product %s, buyer %s, amount %s; this call: product " INT64_FORMAT ", buyer " INT64_FORMAT ", amount %s.",
						   order_id, SPI_getvalue(tup, desc, 1),
						   SPI_getvalue(tup, desc, 2), SPI_getvalue(tup, desc, 3),
						   DatumGetInt64(values[0]), DatumGetInt64(values[1]),
						   co_numeric_str(values[2])),
				 errhint("A payment pays for one order: repeat the call with that order's product, buyer and amount, or pass the new payment's pay_no.")));
	return order_id;
}

/*
 * H3: claim payment pay_no (values[3]) for a new order id, drawn from the
 * orders' identity sequence: its id, or 0 when the payment was recorded
 * already.  ON CONFLICT waits for a concurrent claim of the same pay_no to
 * commit (0: its order is the payment's) or roll back (the claim is ours).
 */
static int64
claim_payment(const Datum *values)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	bool		isnull;

	co_execute(co_prepare(&plan,
						  "INSERT INTO customorder.payments AS p (pay_no, order_id) "
						  "VALUES ($1, pg_catalog.nextval("
						  "'customorder.orders_order_id_seq'::pg_catalog.regclass)) "
						  "ON CONFLICT (pay_no) DO NOTHING RETURNING p.order_id",
						  1, argtypes),
			   &values[3], NULL, false, 0);
	if (SPI_processed != 1)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Insert the order of place_order as its press: values are product, buyer,
 * amount and, with nargs 5, pay_no and the id its claim drew.  The id is
 * drawn before the insert (on Citus the press goes to the new order's
 * shard, which its id names); the press lets the trigger take a pay_no
 * (H3).  Returns the order's id.
 */
static int64
insert_order(Datum *values, int nargs)
{
	static SPIPlanPtr next_id = NULL;
	static SPIPlanPtr plans[2];
	Oid			argtypes[5] = {INT8OID, INT8OID, NUMERICOID, TEXTOID, INT8OID};
	char		nulls[5] = {' ', ' ', ' ', 'n', ' '};
	CoPress		press = {&co_order_machine, ACT_PLACE_ORDER, "place_order",
	CO_WHO_PLATFORM};
	bool		isnull;

	if (nargs == 3)
	{
		co_execute(co_prepare(&next_id,
							  "SELECT pg_catalog.nextval("
							  "'customorder.orders_order_id_seq'::pg_catalog.regclass)",
							  0, NULL),
				   NULL, NULL, false, 0);
		values[4] = SPI_getbinval(SPI_tuptable->vals[0],
								  SPI_tuptable->tupdesc, 1, &isnull);
		values[3] = (Datum) 0;
	}
	else
		nulls[3] = ' ';
	press.order_id = press.id = DatumGetInt64(values[4]);
	/* without a pay_no the statement names no pay_no (a 1.0 database, U2) */
	co_prepare(&plans[nargs == 5], nargs == 5 ?
			   "INSERT INTO customorder.orders "
			   "(order_id, product_id, buyer_id, amount, pay_no) "
			   "VALUES ($5, $1, $2, $3, $4)" :
			   "INSERT INTO customorder.orders "
			   "(order_id, product_id, buyer_id, amount) "
			   "VALUES ($5, $1, $2, $3)",
			   5, argtypes);
	co_press_execute(&press, plans[nargs == 5], values, nulls);
	return press.order_id;
}

/*
 * place_order(product_id, buyer_id, amount [, pay_no]) -> order_id: the
 * platform's order service records a confirmed payment (H3).  The trigger
 * checks the amount against the price and snapshots the product and
 * category (L4).  With pay_no the call is idempotent: it claims the pay_no
 * in payments first (see claim_payment), and only the claim's winner
 * inserts the order, under the trigger's permit for a pay_no; the others,
 * concurrent or later, get the payment's order back.
 */
Datum
co_place_order(PG_FUNCTION_ARGS)
{
	bool		with_pay_no = PG_NARGS() == 4;
	Datum		values[5];
	int64		order_id = 0;
	int			i;

	co_require_arg(fcinfo, 0, "place_order", "product_id");
	co_require_arg(fcinfo, 1, "place_order", "buyer_id");
	co_require_arg(fcinfo, 2, "place_order", "amount");
	if (with_pay_no)
		co_require_arg(fcinfo, 3, "place_order", "pay_no");
	for (i = 0; i < PG_NARGS(); i++)
		values[i] = PG_GETARG_DATUM(i);
	/* the INSERT coerces the amount to numeric(12,2) before the trigger */
	co_check_money(values[2], "place_order", "amount", true);
	/* the platform's order service, after the payment service confirmed */
	co_authorize("place_order", CO_WHO_PLATFORM, 0, PG_GETARG_INT64(1));

	co_connect();
	if (!with_pay_no)
		order_id = insert_order(values, 3);
	else
	{
		if (VARSIZE_ANY_EXHDR(DatumGetPointer(values[3])) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("place_order: pay_no must not be empty (rule H3)"),
					 errhint("Pass the payment service's id of the payment.")));
		/* a repeated call finds its payment at once */
		order_id = order_of_payment(values);
		if (order_id == 0 && (order_id = claim_payment(values)) != 0)
		{
			values[4] = Int64GetDatum(order_id);
			insert_order(values, 5);
		}
		else if (order_id == 0)
		{
			/* the claim lost to a concurrent one that committed meanwhile */
			order_id = order_of_payment(values);
			if (order_id == 0)
				elog(ERROR, "place_order: payment \"%s\" was claimed, but is not recorded",
					 TextDatumGetCString(values[3]));
		}
	}
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
	co_authorize_order_id(button, who, order_id);
	co_order_fetch(order_id, button, true, order);
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
	if (co_distributed())
		co_notice_button(ORD_ID(&order));	/* V3: its events' NOTIFY */
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
