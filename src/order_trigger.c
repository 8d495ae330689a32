/*-------------------------------------------------------------------------
 *
 * order_trigger.c
 *	  The BEFORE trigger on customorder.orders, which accepts exactly the
 *	  changes the order machine lists, whoever makes them, and the write an
 *	  order button makes (its press).
 *
 *	  A button declares its press and writes the order; the trigger chooses
 *	  the transition by the pressed action and decides once.  A raw UPDATE
 *	  is judged by (from, to).  INSERTs start paid and take the L4 snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_order_trigger);

/* Columns fixed when the order is placed (L4 snapshot and payment) */
static const OrderCol fixed_cols[] = {
	OC_ORDER_ID, OC_SHOP_ID, OC_PRODUCT_ID, OC_BUYER_ID, OC_AMOUNT,
	OC_IS_CUSTOM, OC_PAID_AT, OC_SHIP_BY, OC_CATEGORY_ID, OC_START_LOCK,
	OC_HIGH_SCORE_THRESHOLD, OC_EVIDENCE_REVIEW, OC_PROMISED_SHIP, OC_PAY_NO,
	OC_LATE_REFUND_INSTANT
};

/* Columns a transition writes or stamps (CoTransition.may_change, .stamp) */
static const OrderCol transition_cols[] = {
	OC_CUSTOM_STARTED_AT, OC_TRACKING_NO, OC_SHIPPED_AT, OC_SIGNED_AT,
	OC_EVIDENCE_BUNDLE_ID, OC_CLOSED_AT, OC_LATE_AT
};

/* Columns only the case trigger writes, under its permit (F7) */
static const OrderCol case_cols[] = {
	OC_REFUNDED_AMOUNT, OC_OPEN_AFTERSALE_ID, OC_LAST_STAMP_AT
};

static void
read_order(Relation rel, HeapTuple tuple, OrderRow *row)
{
	co_row_read(&co_orders_table, rel, tuple, row->v, row->isnull);
	row->state = co_order_state_from_datum(row->v[OC_STATE]);
}

static bool
order_changed(const OrderRow *a, const OrderRow *b, OrderCol col)
{
	return co_row_changed(&co_orders_table, col, a->v, a->isnull,
						  b->v, b->isnull);
}

/*
 * What no transition may change: the L4 snapshot and payment, and (except
 * for the case trigger, under its permit) the money, the open case and the
 * latest stamp; under the permit of a bundle's or refund's event, the
 * latest stamp alone.
 */
static void
check_fixed_columns(const OrderRow *old, const OrderRow *new)
{
	bool		permitted = co_permit.order_id == ORD_ID(old);
	CoGuardCtx	ctx = {old, new, old, false};
	int			i;

	for (i = 0; i < lengthof(fixed_cols); i++)
		if (order_changed(old, new, fixed_cols[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("orders.%s cannot be changed directly (it is fixed when the order is placed (rule L4))",
							co_order_col_names[fixed_cols[i]]),
					 errdetail("Order " INT64_FORMAT " is in state %s.",
							   ORD_ID(old), co_order_state_names[old->state]),
					 errhint("Place a new order instead.")));
	if (permitted && co_permit.kind == PERMIT_ORDER_CASE)
		return;
	for (i = 0; i < lengthof(case_cols); i++)
		if (order_changed(old, new, case_cols[i]) &&
			!(permitted && co_permit.kind == PERMIT_ORDER_STAMP &&
			  case_cols[i] == OC_LAST_STAMP_AT))
			co_raise(co_order_machine.bad_column(&ctx, NULL, case_cols[i]));
}

/* F7: money that stays with a live order leaves something refundable */
static void
check_partial_refund(const OrderRow *old, const OrderRow *new)
{
	if (order_changed(old, new, OC_REFUNDED_AMOUNT) &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  new->v[OC_REFUNDED_AMOUNT],
										  new->v[OC_AMOUNT])) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a partial refund cannot use up the order's amount without closing it (rule F7)"),
				 errdetail("Order " INT64_FORMAT ": amount %s, refunded %s.",
						   ORD_ID(old), co_numeric_str(old->v[OC_AMOUNT]),
						   co_numeric_str(new->v[OC_REFUNDED_AMOUNT])),
				 errhint("A refund of all that remains moves the order to refunded.")));
}

/*
 * H2: the time to stamp on this order or one of its cases, and of any event
 * of the order: now, or the order's latest stamp if that is later (a clock
 * set back, or a clock of another host), so no stamp of an order and its
 * cases goes backwards and no event is before the one before it.  The
 * caller holds the order's row lock, so the latest stamp is settled.
 * last_stamp_at is the latest of the order's stamps and events: the order
 * trigger writes it with each transition, the case trigger with each case
 * change (case_apply_to_order), the bundle and refund triggers with their
 * events (co_order_restamp).
 */
TimestampTz
co_order_stamp(const OrderRow *order)
{
	TimestampTz now = co_now();

	if (!order->isnull[OC_LAST_STAMP_AT] &&
		DatumGetTimestampTz(order->v[OC_LAST_STAMP_AT]) > now)
		return DatumGetTimestampTz(order->v[OC_LAST_STAMP_AT]);
	return now;
}

/*
 * Is "at" later than the order's latest stamp, which must then move to it?
 * (Never in a 1.0 database not yet updated: it has no last_stamp_at, U2.)
 */
bool
co_order_behind(const OrderRow *order, TimestampTz at)
{
	if (co_orders_table.missing & CO_BIT(OC_LAST_STAMP_AT))
		return false;
	return order->isnull[OC_LAST_STAMP_AT] ||
		DatumGetTimestampTz(order->v[OC_LAST_STAMP_AT]) < at;
}

/*
 * H2: make "at", the time of an event of a bundle or refund of the order
 * (from co_order_stamp, under the order's lock), the order's latest stamp,
 * so that the order's next event is not before it.
 */
void
co_order_restamp(const OrderRow *order, TimestampTz at)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[2];

	if (!co_order_behind(order, at))
		return;
	values[0] = order->v[OC_ORDER_ID];
	values[1] = TimestampTzGetDatum(at);
	co_connect();
	co_prepare(&plan,
			   "UPDATE customorder.orders o SET last_stamp_at = $2 "
			   "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
			   2, (Oid[]) {INT8OID, TIMESTAMPTZOID});
	co_execute_permitted(PERMIT_ORDER_STAMP, ORD_ID(order), plan, values,
						 NULL, 0);
	co_finish();
}

/*
 * V1: the event of the chosen transition: what it writes, and the money a
 * case carried to the order.
 */
static void
order_event(Relation rel, const CoTransition *t, const OrderRow *old,
			const OrderRow *new, TimestampTz at)
{
	uint32		cols = t->may_change;
	const OrderRow *with_case;

	if (order_changed(old, new, OC_REFUNDED_AMOUNT))
		cols |= CO_BIT(OC_REFUNDED_AMOUNT);
	/* the case that moved the order, if one is open or just closed */
	with_case = new->isnull[OC_OPEN_AFTERSALE_ID] ? old : new;

	co_event_transition(&co_order_machine, t, ORD_ID(old),
						with_case->isnull[OC_OPEN_AFTERSALE_ID] ? 0 :
						DatumGetInt64(with_case->v[OC_OPEN_AFTERSALE_ID]),
						at, co_event_detail(&co_orders_table, rel, new, cols,
											NULL));
}

/*
 * UPDATE: a press chooses by its action; a raw write by (from, to).  The
 * chosen row's state and stamp go into the new tuple.
 */
static HeapTuple
order_check_update(Relation rel, HeapTuple oldtuple, HeapTuple newtuple)
{
	OrderRow	old;
	OrderRow	new;
	OrderRow	proposed;
	CoGuardCtx	ctx;
	const CoPress *press;
	const CoTransition *t;
	CoRefusal  *refusal;
	uint32		changed = 0;
	int			cols[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			i;

	read_order(rel, oldtuple, &old);
	read_order(rel, newtuple, &new);
	check_fixed_columns(&old, &new);
	press = co_press_for(&co_order_machine, ORD_ID(&old), ORD_ID(&old));

	for (i = 0; i < lengthof(transition_cols); i++)
		if (order_changed(&old, &new, transition_cols[i]))
			changed |= CO_BIT(transition_cols[i]);
	if (press == NULL && old.state == new.state)
	{
		if (changed != 0)
		{
			ctx = (CoGuardCtx) {&old, &new, &old, false};
			for (i = 0; !(changed & CO_BIT(i)); i++)
				;
			co_raise(co_order_machine.bad_column(&ctx, NULL, i));
		}
		check_partial_refund(&old, &new);
		return newtuple;
	}

	ctx = (CoGuardCtx) {&old, &new, &old, false};
	t = co_choose(&co_order_machine, &ctx, press ? (int) press->action : -1,
				  press ? -1 : new.state, changed, &proposed, &refusal);
	if (t == NULL)
		co_raise(refusal);

	/*
	 * The stamp and the event's time, never before the order's latest
	 * (a case stamp the case trigger just wrote included), and the new
	 * latest.
	 */
	cols[0] = OC_STATE;
	values[0] = co_order_state_datum(t->to);
	cols[1] = OC_LAST_STAMP_AT;
	values[1] = TimestampTzGetDatum(co_order_stamp(&new));
	order_event(rel, t, &old, &new, DatumGetTimestampTz(values[1]));
	if (t->stamp == CO_NO_STAMP)
		return co_row_modify(&co_orders_table, rel, newtuple, 2, cols,
							 values, nulls);
	cols[2] = t->stamp;
	values[2] = values[1];
	return co_row_modify(&co_orders_table, rel, newtuple, 3, cols, values,
						 nulls);
}

/*
 * Is place_order pressing the insert of this order (H3: its pay_no)?
 * Asked of every new order, so that the press is the insert's (its event
 * records the platform and the caller's role, on Citus as on one server).
 */
static bool
placing_order(const OrderRow *new)
{
	const CoPress *press = co_press_for(&co_order_machine, ORD_ID(new),
										ORD_ID(new));

	return press != NULL && press->action == ACT_PLACE_ORDER;
}

/* place_order's arguments as an INSERT carries them */
static void
check_new_order(const OrderRow *new)
{
	if (new->isnull[OC_PRODUCT_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: product_id must not be null"),
				 errhint("Pass the product that was paid for.")));
	if (new->isnull[OC_BUYER_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: buyer_id must not be null"),
				 errhint("Pass the buyer who paid.")));
	if (new->isnull[OC_AMOUNT])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("place_order: amount must not be null"),
				 errhint("Pass the amount paid.")));
	co_check_money(new->v[OC_AMOUNT], "place_order", "amount", true);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, new->v[OC_AMOUNT],
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("place_order: amount must be positive"),
				 errdetail("Amount %s.", co_numeric_str(new->v[OC_AMOUNT])),
				 errhint("Pass the amount the buyer paid.")));
	/*
	 * H3: a pay_no is recorded by place_order, which claimed it in payments
	 * for this order first; a raw INSERT would leave payments without it.
	 */
	if (!placing_order(new) && !new->isnull[OC_PAY_NO])
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders.pay_no is recorded by place_order(product_id, buyer_id, amount, pay_no) only (rule H3)"),
				 errdetail("The new order has pay_no \"%s\".",
						   TextDatumGetCString(new->v[OC_PAY_NO])),
				 errhint("Call customorder.place_order() with the pay_no, or insert the order without one.")));
	if (!new->isnull[OC_PAY_NO] &&
		VARSIZE_ANY_EXHDR(DatumGetPointer(new->v[OC_PAY_NO])) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("place_order: pay_no must not be empty (rule H3)"),
				 errhint("Pass the payment service's id of the payment.")));
	if (new->state != OS_PAID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("an order starts in state paid (rule S1)"),
				 errdetail("The new order has state %s.",
						   co_order_state_names[new->state]),
				 errhint("Insert with state paid (the default), or call customorder.place_order().")));
}

/*
 * L4: what the product and its category say now, into "snap" (the columns
 * from_product lists, in that order).  Values are copied out of SPI.  The
 * product, its category and its approval are read in their latest committed
 * version and share-locked until the order commits (H9: under REPEATABLE
 * READ a version newer than the snapshot is a serialization failure).
 */
static const OrderCol from_product[] = {
	OC_SHOP_ID, OC_IS_CUSTOM, OC_PROMISED_SHIP, OC_CATEGORY_ID,
	OC_START_LOCK, OC_HIGH_SCORE_THRESHOLD, OC_EVIDENCE_REVIEW,
	OC_LATE_REFUND_INSTANT		/* 1.1: the last, absent from a 1.0 database */
};

/*
 * Fills snap[0 .. nsnap-1]: all of from_product, or all but the last (U2).
 * Distributed, this trigger runs on a worker's shard: it reads and locks
 * the node's placements of the reference tables products, categories and
 * custom_approvals, as co_prepare_reference does for one table (through
 * Citus, FOR SHARE would lock every placement over other connections of
 * the transaction: several place_order calls in one transaction deadlocked
 * on the cluster, and one press cost about 36 ms there).
 */
static void
snapshot_product(const OrderRow *new, int nsnap, Datum *snap, bool *snap_null)
{
	static const char *const tables[3] = {"products", "categories",
	"custom_approvals"};
	static SPIPlanPtr plans[2];
	static Oid	plan_relids[2][3];
	bool		v11 = nsnap == lengthof(from_product);
	Oid			argtypes[1] = {INT8OID};
	const char *names[3];
	Oid			relids[3] = {InvalidOid, InvalidOid, InvalidOid};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			n = nsnap;
	int			i;

	co_connect();
	for (i = 0; i < 3 && co_distributed(); i++)
		relids[i] = co_local_placement(get_relname_relid(tables[i],
														 get_namespace_oid(CO_SCHEMA, false)),
									   0);
	for (i = 0; i < 3 && plans[v11] != NULL; i++)
		if (plan_relids[v11][i] != relids[i])
		{
			SPI_freeplan(plans[v11]);
			plans[v11] = NULL;
		}
	if (plans[v11] == NULL)
	{
		for (i = 0; i < 3; i++)
			names[i] = quote_qualified_identifier(CO_SCHEMA,
												  OidIsValid(relids[i]) ?
												  get_rel_name(relids[i]) :
												  tables[i]);
		co_prepare(&plans[v11],
				   psprintf("SELECT p.shop_id, p.is_custom, p.promised_ship, p.category_id, "
							"c.start_lock, c.high_score_threshold, c.evidence_review%s, "
							"p.price, NOT p.is_custom OR "
							CO_LABEL_VALID_SQL_IN("%s", "FOR SHARE") " "
							"FROM %s p "
							"JOIN %s c "
							"ON c.category_id OPERATOR(pg_catalog.=) p.category_id "
							"WHERE p.product_id OPERATOR(pg_catalog.=) $1 "
							"FOR SHARE",
							v11 ? ", c.late_refund_instant" : "",
							names[2], names[0], names[1]),
				   1, argtypes);
		memcpy(plan_relids[v11], relids, sizeof(relids));
	}
	co_execute(plans[v11], &new->v[OC_PRODUCT_ID], NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("place_order: product " INT64_FORMAT " does not exist",
						DatumGetInt64(new->v[OC_PRODUCT_ID])),
				 errhint("Publish the product first.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	/* H3: a coupon may lower the price, nothing raises it */
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, new->v[OC_AMOUNT],
										  SPI_getbinval(tup, desc, n + 1, &isnull))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("place_order: amount above the product's price (rule H3)"),
				 errdetail("Product " INT64_FORMAT " costs %s; amount %s.",
						   DatumGetInt64(new->v[OC_PRODUCT_ID]),
						   SPI_getvalue(tup, desc, n + 1),
						   co_numeric_str(new->v[OC_AMOUNT])),
				 errhint("Pass the amount the payment service confirmed, at most the price.")));
	/* H7: a custom product whose approval or category was revoked */
	if (!DatumGetBool(SPI_getbinval(tup, desc, n + 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("place_order: the custom product must be republished under a valid approval (rules L1, H7)"),
				 errdetail("Product " INT64_FORMAT ": its category is no longer custom-enabled or the shop's approval for it was withdrawn.",
						   DatumGetInt64(new->v[OC_PRODUCT_ID])),
				 errhint("Republish the product once the platform has approved the shop for a custom-enabled category, or publish it as an ordinary product.")));
	for (i = 0; i < n; i++)
	{
		int			col = from_product[i];
		Datum		d = SPI_getbinval(tup, desc, i + 1, &snap_null[i]);

		snap[i] = snap_null[i] ? (Datum) 0 :
			SPI_datumTransfer(d, co_orders_table.byval[col],
							  co_orders_table.typlen[col]);
	}
	co_finish();
}

/*
 * INSERT: an order starts paid; the trigger fills what the product and its
 * category say at this moment (L4) and the payment time, and clears what
 * only later transitions set.
 */
static HeapTuple
order_check_insert(Relation rel, HeapTuple newtuple)
{
	static const OrderCol cleared[] = {
		OC_CUSTOM_STARTED_AT, OC_TRACKING_NO, OC_SHIPPED_AT, OC_SIGNED_AT,
		OC_EVIDENCE_BUNDLE_ID, OC_OPEN_AFTERSALE_ID, OC_CLOSED_AT, OC_LATE_AT
	};
	OrderRow	new;
	int			cols[OC_COUNT + 2];
	Datum		values[OC_COUNT + 2];
	bool		nulls[OC_COUNT + 2];
	int			n = lengthof(from_product);
	TimestampTz now = co_now();
	int			i;

	read_order(rel, newtuple, &new);
	check_new_order(&new);
	if (!co_row_has(&co_orders_table, OC_LATE_REFUND_INSTANT))
		n--;
	snapshot_product(&new, n, values, nulls);
	for (i = 0; i < n; i++)
		cols[i] = from_product[i];

	cols[n] = OC_PAID_AT;
	values[n] = TimestampTzGetDatum(now);
	nulls[n++] = false;
	cols[n] = OC_LAST_STAMP_AT;
	values[n] = TimestampTzGetDatum(now);
	nulls[n++] = false;
	/* L2: ship_by = paid_at + the promised ship time (the third column) */
	cols[n] = OC_SHIP_BY;
	nulls[n] = nulls[2];
	values[n++] = nulls[2] ? (Datum) 0 :
		DirectFunctionCall2(timestamptz_pl_interval,
							TimestampTzGetDatum(now), values[2]);
	for (i = 0; i < lengthof(cleared); i++)
	{
		cols[n] = cleared[i];
		values[n] = (Datum) 0;
		nulls[n++] = true;
	}
	/* zero in the column's own scale, as an ordinary INSERT stores it */
	cols[n] = OC_REFUNDED_AMOUNT;
	values[n] = DirectFunctionCall2(numeric,
									DirectFunctionCall1(int4_numeric, Int32GetDatum(0)),
									Int32GetDatum(co_orders_table.typmod[OC_REFUNDED_AMOUNT]));
	nulls[n++] = false;
	return co_row_modify(&co_orders_table, rel, newtuple, n, cols, values,
						 nulls);
}

static void
refuse_delete(Relation rel, HeapTuple oldtuple)
{
	OrderRow	old;

	read_order(rel, oldtuple, &old);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("orders are never deleted"),
			 errdetail("Order " INT64_FORMAT " is in state %s.",
					   ORD_ID(&old), co_order_state_names[old.state]),
			 errhint("Cancel or refund it through customorder.request_refund().")));
}

/* customorder.order_guard(): BEFORE INSERT OR UPDATE OR DELETE, per row */
Datum
co_order_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_order_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(order_check_insert(rel, trigdata->tg_trigtuple));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(order_check_update(rel, trigdata->tg_trigtuple,
												  trigdata->tg_newtuple));
	refuse_delete(rel, trigdata->tg_trigtuple);
	return PointerGetDatum(NULL);
}

/*
 * An order button's write: the actor authorized on the order's id ("who";
 * 0 for a follow-up of a press already authorized), then, with the press
 * pending, set "col" (or nothing when col < 0) on the order and let the
 * trigger choose the transition.  Returns the order's new state; a missing
 * order is P0002 (for the platform; 42501 for others, H6).
 */
OrderState
co_order_press(int64 order_id, CoAction action, const char *button, int who,
			   OrderCol col, Datum value, bool isnull)
{
	static SPIPlanPtr plans[OC_COUNT + 1];
	SPIPlanPtr *plan = &plans[(int) col < 0 ? OC_COUNT : col];
	Oid			argtypes[2] = {INT8OID, InvalidOid};
	Datum		values[2];
	char		nulls[2] = {' ', isnull ? 'n' : ' '};
	CoPress		press = {&co_order_machine, action, button, who,
	order_id, order_id};
	OrderState	to;
	bool		rnull;

	/* H6: the actor is checked before anything is locked */
	if (who)
		co_authorize_order_id(button, who, order_id);
	co_connect();
	if (*plan == NULL)
	{
		char	   *sql;

		if ((int) col < 0)
			sql = "UPDATE customorder.orders o SET state = o.state "
				"WHERE o.order_id OPERATOR(pg_catalog.=) $1 RETURNING o.state";
		else
		{
			argtypes[1] = col == OC_TRACKING_NO ? TEXTOID : INT8OID;
			sql = psprintf("UPDATE customorder.orders o SET %s = $2 "
						   "WHERE o.order_id OPERATOR(pg_catalog.=) $1 "
						   "RETURNING o.state", co_order_col_names[col]);
		}
		co_prepare(plan, sql, (int) col < 0 ? 1 : 2, argtypes);
	}
	values[0] = Int64GetDatum(order_id);
	values[1] = value;
	co_press_execute(&press, *plan, values, nulls);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: order " INT64_FORMAT " does not exist",
						button, order_id),
				 errhint("Check the order_id returned by place_order().")));
	to = co_order_state_from_datum(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1,
												 &rnull));
	co_finish();
	return to;
}
