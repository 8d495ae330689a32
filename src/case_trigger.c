/*-------------------------------------------------------------------------
 *
 * case_trigger.c
 *	  The BEFORE trigger on customorder.aftersales, which accepts exactly the
 *	  changes the case machine lists, whoever makes them, and carries each
 *	  case's effect to its order; and the write a case button makes (its
 *	  press).
 *
 *	  The trigger locks the order before judging anything about it (the
 *	  executor has locked the case row): the same lock order as a button.
 *	  A case row is the record of every refund, instant ones included.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_case_trigger);

/* Columns a button writes; the rest are fixed or the trigger's */
static const CaseCol mutable_cols[] = {
	CC_REFUND_AMOUNT, CC_PROPOSED_AMOUNT, CC_COMM_REASON, CC_REJECT_REASON,
	CC_PROOF_BUNDLE_ID, CC_TRACKING_NO, CC_BUYER_BUNDLE_ID,
	CC_RETURN_TRACKING_NO, CC_ESCALATION_NOTE, CC_ARBITRATION_NOTE
};

/* Columns fixed when the case opens */
static const CaseCol fixed_cols[] = {
	CC_ORDER_ID, CC_AFTERSALE_ID, CC_KIND, CC_REASON, CC_REQUESTED_AT
};

static void
read_case(Relation rel, HeapTuple tuple, CaseRow *row)
{
	co_row_read(&co_cases_table, rel, tuple, row->v, row->isnull);
	row->state = co_case_state_from_datum(row->v[CC_STATE]);
	co_case_decode_request(row);
}

static bool
case_changed(const CaseRow *a, const CaseRow *b, CaseCol col)
{
	return co_row_changed(&co_cases_table, col, a->v, a->isnull,
						  b->v, b->isnull);
}

/*
 * A writer set a stamp only the trigger writes (from customorder.now()):
 * communicated_at, closed_at, due_at, return_shipped_at, escalated_at.
 */
static void
case_stamp_forged(CaseCol col)
{
	if (col == CC_DUE_AT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aftersales.due_at is set when a deadline's clock starts (rule T1)"),
				 errhint("customorder.deadlines(order_id) shows the deadlines; customorder.run_due() applies passed ones.")));
	if (col == CC_RETURN_SHIPPED_AT || col == CC_ESCALATED_AT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aftersales.%s is set when the buyer %s",
						co_case_col_names[col],
						col == CC_ESCALATED_AT ? "escalates (rule P1)" : "ships the return (rule R2)"),
				 errhint("Press %s().", col == CC_ESCALATED_AT ? "escalate" : "ship_return")));
	if (col == CC_COMMUNICATED_AT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aftersales.communicated_at is set when the merchant communicates"),
				 errhint("Press communicate().")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("aftersales.closed_at is set when the case closes"),
			 errhint("Press the button that closes the case.")));
}

/*
 * Apply a case's change to its order: money, the open-case marker, the
 * order's latest stamp (H2) and, for insist_ship, the shipment.  Runs under
 * the order permit; the order trigger still judges the resulting order
 * transition.
 */
static void
case_apply_to_order(const CaseRow *new, const OrderRow *order, Datum stamp)
{
	static SPIPlanPtr plans[2];
	SPIPlanPtr	plan;
	Oid			argtypes[6] = {INT8OID, TEXTOID, NUMERICOID, INT8OID, TEXTOID,
	TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	OrderState	to = order->state;
	Datum		refunded = order->v[OC_REFUNDED_AMOUNT];
	bool		open = co_case_is_open(new->state);
	/* a 1.0 database not yet updated has no last_stamp_at (U2) */
	bool		stamps = !(co_orders_table.missing & CO_BIT(OC_LAST_STAMP_AT));

	if ((new->state == CS_INSTANT_REFUNDED || new->state == CS_REFUNDED) &&
		!new->isnull[CC_REFUND_AMOUNT])
	{
		refunded = DirectFunctionCall2(numeric_add, refunded,
									   new->v[CC_REFUND_AMOUNT]);
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, refunded,
											  order->v[OC_AMOUNT])) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("a refund cannot exceed what is still refundable (rule F7)"),
					 errdetail("Order " INT64_FORMAT ": paid %s, already refunded %s, this refund %s.",
							   ORD_ID(order), co_numeric_str(order->v[OC_AMOUNT]),
							   co_numeric_str(order->v[OC_REFUNDED_AMOUNT]),
							   co_numeric_str(new->v[CC_REFUND_AMOUNT])),
					 errhint("Refund at most %s.", co_numeric_str(co_order_remaining(order)))));
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, refunded,
											  order->v[OC_AMOUNT])) == 0)
			to = new->state == CS_INSTANT_REFUNDED ? OS_CANCELLED : OS_REFUNDED;
	}
	if (new->state == CS_CLOSED_BY_SHIPMENT)
		to = OS_SHIPPED;

	co_connect();
	co_prepare(&plans[stamps],
			   stamps ?
			   "UPDATE customorder.orders o SET "
			   "state = $2::pg_catalog.text::customorder.order_state, "
			   "refunded_amount = $3, open_aftersale_id = $4, "
			   "tracking_no = COALESCE($5, o.tracking_no), "
			   "last_stamp_at = $6 "
			   "WHERE o.order_id OPERATOR(pg_catalog.=) $1" :
			   "UPDATE customorder.orders o SET "
			   "state = $2::pg_catalog.text::customorder.order_state, "
			   "refunded_amount = $3, open_aftersale_id = $4, "
			   "tracking_no = COALESCE($5, o.tracking_no) "
			   "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
			   stamps ? 6 : 5, argtypes);
	plan = plans[stamps];
	values[0] = order->v[OC_ORDER_ID];
	values[1] = CStringGetTextDatum(co_order_state_names[to]);
	values[2] = refunded;
	values[3] = new->v[CC_AFTERSALE_ID];
	nulls[3] = open ? ' ' : 'n';
	if (new->state == CS_CLOSED_BY_SHIPMENT && !new->isnull[CC_TRACKING_NO])
		values[4] = new->v[CC_TRACKING_NO];
	else
		nulls[4] = 'n';
	values[5] = stamp;
	co_execute_permitted(PERMIT_ORDER_CASE, ORD_ID(order), plan, values, nulls, 0);
	co_finish();
	/* V4: every money decision is a refund the payment service executes */
	if ((new->state == CS_INSTANT_REFUNDED || new->state == CS_REFUNDED) &&
		!new->isnull[CC_REFUND_AMOUNT])
		co_refund_decide(ORD_ID(order), CASE_ID(new), new->v[CC_REFUND_AMOUNT],
						 stamp);
}

/*
 * communicate: record the default script of the situation (scenario 1, or
 * the scenario-2 reason) as sent to the buyer now.
 */
static char *
case_record_communication(const CaseRow *c, Datum stamp)
{
	char	   *script;

	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	const char *situation = c->isnull[CC_COMM_REASON] ? "not_shipped" :
	TextDatumGetCString(c->v[CC_COMM_REASON]);

	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.communications "
					  "(order_id, aftersale_id, comm_no, reason, script, sent_at) "
					  "SELECT $1, $2, "
					  "  (SELECT COALESCE(pg_catalog.max(m.comm_no), 0) OPERATOR(pg_catalog.+) 1 "
					  "   FROM customorder.communications m "
					  "   WHERE m.order_id OPERATOR(pg_catalog.=) $1 "
					  "   AND m.aftersale_id OPERATOR(pg_catalog.=) $2), "
					  "  s.situation, s.script, $4 "
					  "FROM customorder.scripts s WHERE s.situation OPERATOR(pg_catalog.=) $3 "
					  "RETURNING script",
					  4, argtypes);
	values[0] = c->v[CC_ORDER_ID];
	values[1] = c->v[CC_AFTERSALE_ID];
	values[2] = CStringGetTextDatum(situation);
	values[3] = stamp;
	co_execute(plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("communicate: no default script for situation \"%s\"", situation),
				 errhint("The platform keeps the scripts in customorder.scripts.")));
	/* for the event's detail (V1), out of SPI's memory */
	script = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	script = strcpy(SPI_palloc(strlen(script) + 1), script);
	co_finish();
	return script;
}

/*
 * What an UPDATE may never do: change what the request fixed, or touch a
 * closed case.
 */
static void
check_case_update(const CaseRow *old, const CaseRow *new, bool pressed)
{
	int			i;

	for (i = 0; i < lengthof(fixed_cols); i++)
		if (case_changed(old, new, fixed_cols[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("aftersales.%s cannot be changed",
							co_case_col_names[fixed_cols[i]]),
					 errdetail("Case " INT64_FORMAT " is %s.",
							   CASE_ID(old), co_case_state_names[old->state]),
					 errhint("Open a new case after this one closes.")));
	/* a press on a closed case is refused by the machine: no row leaves it */
	if (!co_case_is_open(old->state) && !pressed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a closed after-sale case cannot change (rule F7)"),
				 errdetail("Case " INT64_FORMAT " is %s.",
						   CASE_ID(old), co_case_state_names[old->state]),
				 errhint("A new request opens a new case.")));
}

/* A writer cannot set a stamp the chosen transition does not set itself */
static void
check_stamps_not_forged(const CaseRow *old, const CaseRow *new, int own_stamp)
{
	if (own_stamp != CC_CLOSED_AT &&
		(old ? case_changed(old, new, CC_CLOSED_AT) : !new->isnull[CC_CLOSED_AT]))
		case_stamp_forged(CC_CLOSED_AT);
	if (own_stamp != CC_COMMUNICATED_AT &&
		(old ? case_changed(old, new, CC_COMMUNICATED_AT) :
		 !new->isnull[CC_COMMUNICATED_AT]))
		case_stamp_forged(CC_COMMUNICATED_AT);
	if (old ? case_changed(old, new, CC_DUE_AT) : !new->isnull[CC_DUE_AT])
		case_stamp_forged(CC_DUE_AT);
	if (own_stamp != CC_RETURN_SHIPPED_AT &&
		(old ? case_changed(old, new, CC_RETURN_SHIPPED_AT) :
		 !new->isnull[CC_RETURN_SHIPPED_AT]))
		case_stamp_forged(CC_RETURN_SHIPPED_AT);
	if (own_stamp != CC_ESCALATED_AT &&
		(old ? case_changed(old, new, CC_ESCALATED_AT) :
		 !new->isnull[CC_ESCALATED_AT]))
		case_stamp_forged(CC_ESCALATED_AT);
}

/*
 * T1: the chosen transition's clock.  STARTS sets due_at from now and the
 * period the order's category gives its deadline; STOPS clears it; KEEPS
 * leaves the running one.  Appended like case_stamps(); a 1.0 database
 * (no due_at, U2) keeps no deadlines.
 */
static int
case_clock(const CoTransition *t, const OrderRow *order, Datum now, int n,
		   int *cols, Datum *values, bool *nulls)
{
	if (t->clock == CLOCK_KEEPS || !co_row_has(&co_cases_table, CC_DUE_AT))
		return n;
	cols[n] = CC_DUE_AT;
	nulls[n] = t->clock == CLOCK_STOPS;
	values[n++] = t->clock == CLOCK_STOPS ? (Datum) 0 :
		TimestampTzGetDatum(co_deadline_start(t->deadline, order,
											  DatumGetTimestampTz(now)));
	return n;
}

/*
 * The stamps of the chosen transition, "now" (co_order_stamp: never before
 * the order's latest stamp, H2): requested_at when a case opens, and the
 * transition's own (closed_at, communicated_at).  Appended to
 * cols/values/nulls from position n; returns the new count.
 */
static int
case_stamps(const CaseRow *old, const CaseRow *new, const CoTransition *t,
			Datum now, int n, int *cols, Datum *values, bool *nulls)
{
	check_stamps_not_forged(old, new, t->stamp);
	if (old == NULL)
	{
		cols[n] = CC_REQUESTED_AT;
		values[n] = now;
		nulls[n++] = false;
	}
	if (t->stamp != CO_NO_STAMP && t->stamp != CC_REQUESTED_AT)
	{
		cols[n] = t->stamp;
		values[n] = now;
		nulls[n++] = false;
	}
	/* P1: an escalated rejection is open again (closed_at: when it closes) */
	if (old && !co_case_is_open(old->state) && co_case_is_open(t->to))
	{
		cols[n] = CC_CLOSED_AT;
		values[n] = (Datum) 0;
		nulls[n++] = true;
	}
	return n;
}

/*
 * V1: the event of the chosen transition, with what it wrote (amounts,
 * reasons, bundles, tracking number) and the script a communication sent.
 */
static void
case_event(Relation rel, const CoTransition *t, const CaseRow *row,
		   Datum stamp, const char *script)
{
	StringInfoData extra;

	initStringInfo(&extra);
	if (script)
	{
		appendStringInfoString(&extra, "\"script\": ");
		escape_json(&extra, script);
	}
	co_event_transition(&co_case_machine, t,
						DatumGetInt64(row->v[CC_ORDER_ID]), CASE_ID(row),
						DatumGetTimestampTz(stamp),
						co_event_detail(&co_cases_table, rel, row,
										t->may_change | (t->from == CS_NONE ?
														 CO_BIT(CC_KIND) | CO_BIT(CC_REASON) : 0),
										extra.data));
}

/*
 * Judge a write of a case (old is NULL for an INSERT) against the case
 * machine, by the pressed action or by (from, to), with its order locked.
 * Returns the tuple to store.
 */
static HeapTuple
case_judge(Relation rel, HeapTuple newtuple, const CaseRow *old,
		   const CaseRow *new, const CoPress *press, const OrderRow *order)
{
	CaseRow		proposed;
	CoGuardCtx	ctx = {old, new, order, false, press ? press->who : 0};
	const CoTransition *t;
	CoRefusal  *refusal;
	uint32		changed = 0;
	int			cols[CC_COUNT + 4];
	Datum		values[CC_COUNT + 4];
	bool		nulls[CC_COUNT + 4];
	int			n = 0;
	int			i;
	Datum		stamp;

	for (i = 0; i < lengthof(mutable_cols); i++)
		if (old ? case_changed(old, new, mutable_cols[i]) :
			!new->isnull[mutable_cols[i]])
			changed |= CO_BIT(mutable_cols[i]);
	/* nothing happens, unless the writer forges the trigger's stamps */
	if (old && changed == 0 && old->state == new->state && press == NULL)
	{
		check_stamps_not_forged(old, new, CO_NO_STAMP);
		return newtuple;
	}

	t = co_choose(&co_case_machine, &ctx, press ? (int) press->action : -1,
				  press ? -1 : new->state, changed, &proposed, &refusal);
	if (t == NULL)
		co_raise(refusal);
	/* a press that changes nothing (communicate again, same reason) */
	if (old && press && changed == 0 && t->to == old->state && t->fill == NULL &&
		t->clock == CLOCK_KEEPS)
		return newtuple;

	/*
	 * request_refund leaves the new case's id to the trigger: a refused
	 * request then takes no id from the sequence.
	 */
	if (old == NULL && press && proposed.isnull[CC_AFTERSALE_ID])
	{
		proposed.v[CC_AFTERSALE_ID] =
			Int64GetDatum(nextval_internal(co_identity_sequence("aftersales",
																"aftersale_id"),
										   false));
		proposed.isnull[CC_AFTERSALE_ID] = false;
		cols[n] = CC_AFTERSALE_ID;
		values[n] = proposed.v[CC_AFTERSALE_ID];
		nulls[n++] = false;
	}

	/* the chosen state and what the press filled in */
	cols[n] = CC_STATE;
	values[n] = co_case_state_datum(t->to);
	nulls[n++] = false;
	for (i = 0; i < CC_COUNT; i++)
		if (t->may_change & CO_BIT(i))
		{
			cols[n] = i;
			values[n] = proposed.v[i];
			nulls[n++] = proposed.isnull[i];
		}
	stamp = TimestampTzGetDatum(co_order_stamp(order));
	n = case_stamps(old, new, t, stamp, n, cols, values, nulls);
	n = case_clock(t, order, stamp, n, cols, values, nulls);
	newtuple = co_row_modify(&co_cases_table, rel, newtuple, n, cols, values,
							 nulls);

	case_event(rel, t, &proposed, stamp,
			   t->action == ACT_COMMUNICATE ?
			   case_record_communication(&proposed, stamp) : NULL);
	/*
	 * money, the open case, or a stamp or event the order's latest must
	 * follow (H2: the order's next event is not before this one)
	 */
	if (old == NULL || co_case_is_open(old->state) != co_case_is_open(t->to) ||
		t->to == CS_REFUNDED || t->stamp != CO_NO_STAMP ||
		co_order_behind(order, DatumGetTimestampTz(stamp)))
		case_apply_to_order(&proposed, order, stamp);
	return newtuple;
}

static void
refuse_delete(Relation rel, HeapTuple oldtuple)
{
	CaseRow		old;

	read_case(rel, oldtuple, &old);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("after-sale cases are never deleted"),
			 errdetail("Case " INT64_FORMAT " is %s.",
					   CASE_ID(&old), co_case_state_names[old.state]),
			 errhint("The buyer withdraws a case with withdraw_refund().")));
}

/* customorder.aftersale_guard(): BEFORE INSERT OR UPDATE OR DELETE, per row */
Datum
co_case_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_case_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	bool		is_insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	HeapTuple	newtuple;
	CaseRow		old;
	CaseRow		new;
	OrderRow	order;
	const CoPress *press;

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		refuse_delete(rel, trigdata->tg_trigtuple);
	newtuple = is_insert ? trigdata->tg_trigtuple : trigdata->tg_newtuple;
	read_case(rel, newtuple, &new);

	/* Shape of the request */
	if (new.isnull[CC_ORDER_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request_refund: order_id must not be null"),
				 errhint("Pass the order the refund is for.")));
	co_case_check_request(&new);
	press = co_press_for(&co_case_machine, DatumGetInt64(new.v[CC_ORDER_ID]),
						 is_insert ? 0 : CASE_ID(&new));
	if (!is_insert)
	{
		read_case(rel, trigdata->tg_trigtuple, &old);
		check_case_update(&old, &new, press != NULL);
	}

	/* Lock the order before judging anything about it */
	co_order_fetch(DatumGetInt64(new.v[CC_ORDER_ID]),
				   press ? press->button : "request_refund", true, &order);

	return PointerGetDatum(case_judge(rel, newtuple, is_insert ? NULL : &old,
									  &new, press, &order));
}

/*
 * A case button's write: with the press pending, run "plan" (an INSERT or
 * UPDATE of the case with RETURNING) and let the trigger choose the
 * transition.  The caller has connected to SPI; the result is in
 * SPI_tuptable.  For an INSERT, aftersale_id is 0.
 */
void
co_case_press(int64 order_id, int64 aftersale_id, CoAction action,
			  const char *button, int who, SPIPlanPtr plan,
			  const Datum *values, const char *nulls)
{
	CoPress		press = {&co_case_machine, action, button, who,
	order_id, aftersale_id};

	co_press_execute(&press, plan, values, nulls);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: after-sale case " INT64_FORMAT " does not exist",
						button, aftersale_id),
				 errhint("Check the aftersale_id returned by request_refund().")));
}
