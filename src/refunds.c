/*-------------------------------------------------------------------------
 *
 * refunds.c
 *	  SPEC §10 V4: refund execution.  Deciding that money is owed is not
 *	  paying it: every money decision (an instant refund, agree_refund, an
 *	  accepted proposal, a system expiry, and any later path that ends a
 *	  case refunded: a confirmed return, an arbitration) creates one row of
 *	  customorder.refunds where the case trigger moves the money
 *	  (case_apply_to_order calls co_refund_decide).  The payment service
 *	  executes it under its refund_no (the idempotency key) and reports
 *	  refund_succeeded or refund_failed; retry_refund puts a failed refund
 *	  back to pending.
 *
 *	  The refund lifecycle is the fourth machine of the engine: none ->
 *	  pending (decide_refund), pending -> succeeded | failed, failed ->
 *	  failed (another failure), failed -> pending (retry_refund).  The
 *	  trigger on refunds judges every write by it, a raw UPDATE included,
 *	  and appends each change's event (machine "refund").
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_refund_trigger);
PG_FUNCTION_INFO_V1(co_refund_succeeded);
PG_FUNCTION_INFO_V1(co_refund_failed);
PG_FUNCTION_INFO_V1(co_retry_refund);
PG_FUNCTION_INFO_V1(co_refund_status);

typedef enum RefundCol
{
	RC_ORDER_ID,
	RC_REFUND_ID,
	RC_AFTERSALE_ID,
	RC_AMOUNT,
	RC_REFUND_NO,
	RC_STATE,
	RC_PAYMENT_REF,
	RC_ERROR,
	RC_CREATED_AT,
	RC_SETTLED_AT,
	RC_COUNT
} RefundCol;

typedef enum RefundState
{
	RS_PENDING,
	RS_SUCCEEDED,
	RS_FAILED,
	RS_COUNT,
	RS_NONE = RS_COUNT
} RefundState;

static const char *const refund_state_names[RS_COUNT + 1] = {
	"pending", "succeeded", "failed", "(none)"
};

static const char *const refund_cols[RC_COUNT] = {
	"order_id", "refund_id", "aftersale_id", "amount", "refund_no", "state",
	"payment_ref", "error", "created_at", "settled_at"
};

static CoTable co_refunds_table = {
	.relname = "refunds",
	.cols = refund_cols,
	.ncols = RC_COUNT,
	.nkeys = 2,
	.what = "refund",
};

#define REFUND_NO(r) \
	((r)->isnull[RC_REFUND_NO] ? "(new)" : TextDatumGetCString((r)->v[RC_REFUND_NO]))

/* ----------------------------------------------------------------
 *		The machine: guards, refusals, the table
 * ----------------------------------------------------------------
 */

/* V4: only the case trigger records a money decision, for its order */
static CoRefusal *
guard_decided(const CoGuardCtx *ctx)
{
	const CoRow *n = ctx->new;

	if (co_permit.kind != PERMIT_REFUND || n->isnull[RC_ORDER_ID] ||
		co_permit.order_id != DatumGetInt64(n->v[RC_ORDER_ID]))
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "a refund is created where the money is decided (rule V4)",
						  "A refunds row was inserted directly.",
						  "Refunds follow agree_refund, an accepted proposal, an instant refund or a deadline's expiry.");
	return NULL;
}

/* A text a report must carry: not null, 1 to 500 characters (H8) */
static CoRefusal *
reported_text(const CoRow *n, int col, const char *button)
{
	int			chars;

	if (n->isnull[col])
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  psprintf("%s: %s must not be null", button, refund_cols[col]),
						  psprintf("Refund %s.", REFUND_NO(n)),
						  "Pass what the payment service reported.");
	chars = pg_mbstrlen(TextDatumGetCString(n->v[col]));
	if (chars == 0 || chars > CO_MAX_NOTE_CHARS)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("%s: %s must have 1 to %d characters (rules V4, H8)",
								   button, refund_cols[col], CO_MAX_NOTE_CHARS),
						  psprintf("Refund %s: %d characters.", REFUND_NO(n), chars),
						  "Pass what the payment service reported.");
	return NULL;
}

static CoRefusal *
guard_payment_ref(const CoGuardCtx *ctx)
{
	return reported_text(ctx->new, RC_PAYMENT_REF, "refund_succeeded");
}

static CoRefusal *
guard_error(const CoGuardCtx *ctx)
{
	return reported_text(ctx->new, RC_ERROR, "refund_failed");
}

static CoRefusal *
guard_retry(const CoGuardCtx *ctx)
{
	return NULL;
}

/* No row leaves the refund's state by this action (or to this state) */
static CoRefusal *
refund_no_row(const CoGuardCtx *ctx, int from, CoAction action, int to)
{
	const CoRow *old = ctx->old;
	const char *button = (int) action >= 0 ? co_action_names[action] : "refunds";

	if (old == NULL)
		return guard_decided(ctx);
	if (from == RS_SUCCEEDED && action == ACT_REFUND_SUCCEEDED)
		return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  "refund_succeeded: the refund already succeeded with another payment_ref (rule V4)",
						  psprintf("Refund %s succeeded with payment_ref %s.", REFUND_NO(old),
								   old->isnull[RC_PAYMENT_REF] ? "null" :
								   TextDatumGetCString(old->v[RC_PAYMENT_REF])),
						  "Report each refund_no once; repeating the same payment_ref changes nothing.");
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  action == ACT_RETRY_REFUND ?
					  "retry_refund: only a failed refund can be retried (rule V4)" :
					  psprintf("%s: a %s refund cannot become %s (rule V4)", button,
							   refund_state_names[from],
							   to >= 0 ? refund_state_names[to] :
							   action == ACT_REFUND_FAILED ? "failed" : "that"),
					  psprintf("Refund %s is %s.", REFUND_NO(old),
							   refund_state_names[from]),
					  "customorder.refund_status(order_id) shows each refund's state.");
}

static CoRefusal *
refund_bad_column(const CoGuardCtx *ctx, const CoTransition *t, int col)
{
	return co_refusal(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					  psprintf("refunds.%s cannot be changed by %s (rule V4)",
							   refund_cols[col],
							   t ? co_action_names[t->action] : "this write"),
					  psprintf("Refund %s is %s.", REFUND_NO(ctx->old),
							   refund_state_names[ctx->old ? ctx->old->state : RS_NONE]),
					  "Report the payment with refund_succeeded() or refund_failed().");
}

#define R(col) CO_BIT(RC_##col)
#define RC_NONE CO_NO_STAMP
#define ROW(from, action, to, guard, may_change, stamp, rule) \
	{RS_##from, ACT_##action, RS_##to, guard, #guard, may_change, \
	 RC_##stamp, NULL, CLOCK_KEEPS, rule}

static const CoTransition refund_transitions[] = {
	ROW(NONE, DECIDE_REFUND, PENDING, guard_decided, 0, CREATED_AT,
		"V4: a money decision of a case (instant refund, agree, accepted proposal, expiry) is a refund to execute"),
	ROW(PENDING, REFUND_SUCCEEDED, SUCCEEDED, guard_payment_ref, R(PAYMENT_REF), SETTLED_AT,
		"V4: the payment service paid it, under payment_ref"),
	ROW(PENDING, REFUND_FAILED, FAILED, guard_error, R(ERROR), SETTLED_AT,
		"V4: the payment service could not pay it (the money stays owed)"),
	ROW(FAILED, REFUND_FAILED, FAILED, guard_error, R(ERROR), SETTLED_AT,
		"V4: another failure is recorded"),
	ROW(FAILED, RETRY_REFUND, PENDING, guard_retry, 0, NONE,
		"V4: the platform retries a failed refund"),
};

const CoMachine co_refund_machine = {
	"refund", &co_refunds_table, refund_state_names, RS_NONE,
	refund_transitions, lengthof(refund_transitions),
	refund_no_row, refund_bad_column
};

/* ----------------------------------------------------------------
 *		The trigger
 * ----------------------------------------------------------------
 */

static void
read_refund(Relation rel, HeapTuple tuple, CoRow *row)
{
	char	   *state;

	co_row_read(&co_refunds_table, rel, tuple, row->v, row->isnull);
	state = row->isnull[RC_STATE] ? "pending" : TextDatumGetCString(row->v[RC_STATE]);
	row->state = co_lookup_label(refund_state_names, RS_COUNT, state);
	if (row->state < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refunds.state is pending, succeeded or failed (rule V4)"),
				 errdetail("Refund %s was given state \"%s\".", REFUND_NO(row), state),
				 errhint("Report the payment with refund_succeeded() or refund_failed().")));
}

/*
 * V1: the event of the chosen transition, at "at" (the order's stamp under
 * its lock), which becomes the order's latest stamp (H2)
 */
static void
refund_event(Relation rel, const CoTransition *t, const CoRow *row,
			 const OrderRow *order, TimestampTz at)
{
	co_event_transition(&co_refund_machine, t,
						DatumGetInt64(row->v[RC_ORDER_ID]),
						row->isnull[RC_AFTERSALE_ID] ? 0 :
						DatumGetInt64(row->v[RC_AFTERSALE_ID]), at,
						co_event_detail(&co_refunds_table, rel, row,
										t->may_change | R(REFUND_NO) | R(AMOUNT),
										NULL));
	co_order_restamp(order, at);
}

/*
 * INSERT: a money decision, under the case trigger's permit, which holds the
 * order's lock and gives created_at (the case's stamp, now the order's
 * latest: the event's time)
 */
static HeapTuple
refund_created(Relation rel, HeapTuple tuple, CoRow *row)
{
	static const int cols[6] = {RC_REFUND_NO, RC_STATE, RC_PAYMENT_REF,
	RC_ERROR, RC_SETTLED_AT, RC_CREATED_AT};
	Datum		values[6] = {0};
	bool		nulls[6] = {false, false, true, true, true, false};
	CoGuardCtx	ctx = {NULL, row, NULL, false};
	const CoTransition *t;
	CoRow		proposed;
	CoRefusal  *refusal;
	OrderRow	order;

	if ((t = co_choose(&co_refund_machine, &ctx, -1, RS_PENDING, 0, &proposed,
					   &refusal)) == NULL)
		co_raise(refusal);
	co_order_fetch(DatumGetInt64(row->v[RC_ORDER_ID]), "refunds", true, &order);
	/*
	 * The idempotency key the payment service uses, CO<order_id>-<refund_id>,
	 * whatever the INSERT gave (and fixed after: refund_updated refuses a
	 * change).  Unique across orders, as (order_id, refund_id) is, though
	 * the table's unique key is per order (it must include order_id on
	 * Citus); the reports find the refund by the order id in it
	 * (refund_no_order_id).
	 */
	values[0] = CStringGetTextDatum(psprintf("CO" INT64_FORMAT "-" INT64_FORMAT,
											 DatumGetInt64(row->v[RC_ORDER_ID]),
											 DatumGetInt64(row->v[RC_REFUND_ID])));
	values[1] = CStringGetTextDatum(refund_state_names[RS_PENDING]);
	values[5] = TimestampTzGetDatum(co_order_stamp(&order));
	if (!row->isnull[RC_CREATED_AT] &&
		DatumGetTimestampTz(row->v[RC_CREATED_AT]) > DatumGetTimestampTz(values[5]))
		values[5] = row->v[RC_CREATED_AT];
	tuple = co_row_modify(&co_refunds_table, rel, tuple, 6, cols, values, nulls);
	read_refund(rel, tuple, row);
	refund_event(rel, t, row, &order, DatumGetTimestampTz(values[5]));
	return tuple;
}

/* UPDATE: a press chooses by its action, a raw write by (from, to) */
static HeapTuple
refund_updated(Relation rel, HeapTuple newtuple, CoRow *old, CoRow *new)
{
	static const int fixed[] = {RC_ORDER_ID, RC_REFUND_ID, RC_AFTERSALE_ID,
	RC_AMOUNT, RC_REFUND_NO, RC_CREATED_AT};
	static const int writable[] = {RC_PAYMENT_REF, RC_ERROR, RC_SETTLED_AT};
	const CoPress *press = co_press_for(&co_refund_machine,
										DatumGetInt64(old->v[RC_ORDER_ID]),
										DatumGetInt64(old->v[RC_REFUND_ID]));
	CoGuardCtx	ctx = {old, new, NULL, false, press ? press->who : 0};
	const CoTransition *t;
	CoRow		proposed;
	CoRefusal  *refusal;
	uint32		changed = 0;
	int			cols[2] = {RC_STATE, RC_SETTLED_AT};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	OrderRow	order;
	int			i;

	/*
	 * Lock the order before judging: the refund's event must be appended
	 * under the order's lock, as every event of an order is, or two
	 * transactions appending to one order could each miss the other's
	 * latest event (H2).  A report locked it already (refund_press).
	 */
	co_order_fetch(DatumGetInt64(old->v[RC_ORDER_ID]),
				   press ? press->button : "refunds", true, &order);
	for (i = 0; i < lengthof(fixed); i++)
		if (co_row_changed(&co_refunds_table, fixed[i], old->v, old->isnull,
						   new->v, new->isnull))
			co_raise(refund_bad_column(&ctx, NULL, fixed[i]));
	for (i = 0; i < lengthof(writable); i++)
		if (co_row_changed(&co_refunds_table, writable[i], old->v, old->isnull,
						   new->v, new->isnull))
			changed |= CO_BIT(writable[i]);
	if (press == NULL && changed == 0 && old->state == new->state)
		return newtuple;
	t = co_choose(&co_refund_machine, &ctx, press ? (int) press->action : -1,
				  press ? -1 : new->state, changed, &proposed, &refusal);
	if (t == NULL)
		co_raise(refusal);
	values[0] = CStringGetTextDatum(refund_state_names[t->to]);
	/* settled when paid or failed (H2: not before the order's latest) */
	values[1] = TimestampTzGetDatum(co_order_stamp(&order));
	nulls[1] = t->stamp == CO_NO_STAMP;
	newtuple = co_row_modify(&co_refunds_table, rel, newtuple, 2, cols,
							 values, nulls);
	read_refund(rel, newtuple, new);
	refund_event(rel, t, new, &order, DatumGetTimestampTz(values[1]));
	return newtuple;
}

/* customorder.refund_guard(): BEFORE INSERT OR UPDATE OR DELETE, per row */
Datum
co_refund_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_refund_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	CoRow		old;
	CoRow		new;

	read_refund(rel, trigdata->tg_trigtuple, &old);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(refund_created(rel, trigdata->tg_trigtuple, &old));
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("refunds are never deleted (rule V4)"),
				 errdetail("Refund %s is %s.", REFUND_NO(&old),
						   refund_state_names[old.state]),
				 errhint("A failed refund is retried with retry_refund().")));
	read_refund(rel, trigdata->tg_newtuple, &new);
	return PointerGetDatum(refund_updated(rel, trigdata->tg_newtuple, &old, &new));
}

/*
 * Record a money decision of case aftersale_id: a pending refund of
 * "amount", created at the case's stamp.  A 1.0 database not yet updated
 * has no refunds table (U2).
 */
void
co_refund_decide(int64 order_id, int64 aftersale_id, Datum amount, Datum stamp)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, NUMERICOID, TIMESTAMPTZOID};
	Datum		values[4];

	if (!co_table_exists("refunds"))
		return;
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(aftersale_id);
	values[2] = amount;
	values[3] = stamp;
	co_connect();
	co_prepare(&plan,
			   "INSERT INTO customorder.refunds (order_id, aftersale_id, amount, created_at) "
			   "VALUES ($1, $2, $3, $4)",
			   4, argtypes);
	co_execute_permitted(PERMIT_REFUND, order_id, plan, values, NULL, 0);
	co_finish();
}

/* ----------------------------------------------------------------
 *		The payment service's buttons and the buyer's query
 * ----------------------------------------------------------------
 */

/*
 * The order id in a refund_no, which the trigger writes as 'CO' || order_id
 * || '-' || refund_id (refund_created): false when refund_no has not that
 * form.  The payment service knows only refund_no; the order id in it makes
 * finding the refund a lookup by the refunds' key (order_id, refund_no),
 * which on Citus reads the order's shard alone.
 */
static bool
refund_no_order_id(text *refund_no, int64 *order_id)
{
	const char *p = VARDATA_ANY(refund_no);
	int			len = VARSIZE_ANY_EXHDR(refund_no);
	int			i = 2;
	int			digits = 0;
	bool		negative = false;
	uint64		id = 0;

	if (len < 5 || p[0] != 'C' || p[1] != 'O')
		return false;
	if (p[i] == '-')
	{
		negative = true;
		i++;
	}
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++)
	{
		if (digits == 19)
			return false;		/* more digits than a bigint has */
		id = id * 10 + (uint64) (p[i] - '0');
	}
	if (digits == 0 || i >= len || p[i] != '-' ||
		id > (uint64) PG_INT64_MAX + (negative ? 1 : 0))
		return false;
	*order_id = negative ? (int64) (0 - id) : (int64) id;
	return true;
}

/*
 * Press "action" on the refund refund_no (locked first); "col" is the
 * column the report writes (or -1).  Returns the new state, as text.  The
 * same payment_ref reported again changes nothing.
 */
static Datum
refund_press(FunctionCallInfo fcinfo, CoAction action, int col)
{
	static SPIPlanPtr find = NULL;
	static SPIPlanPtr plans[RC_COUNT + 1];
	const char *button = co_action_names[action];
	Oid			argtypes[3] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	CoPress		press = {&co_refund_machine, action, button, CO_WHO_PLATFORM};
	OrderRow	order;
	bool		found;
	bool		isnull;
	char	   *state;

	co_require_arg(fcinfo, 0, button, "refund_no");
	if (col >= 0)
		co_require_arg(fcinfo, 1, button, refund_cols[col]);
	co_authorize(button, CO_WHO_PLATFORM, 0, 0);
	/* a refund_no not of the trigger's form names no refund */
	found = refund_no_order_id(PG_GETARG_TEXT_PP(0), &press.order_id);
	/* lock the order, then its refund, as every button (H2) */
	if (found)
		found = co_row_fetch(&co_orders_table,
							 (Datum[]) {Int64GetDatum(press.order_id)}, true,
							 order.v, order.isnull);
	co_connect();
	co_prepare(&find,
			   "SELECT r.order_id, r.refund_id, r.state, r.payment_ref OPERATOR(pg_catalog.=) $1 "
			   "FROM customorder.refunds r WHERE r.order_id OPERATOR(pg_catalog.=) $3 "
			   "AND r.refund_no OPERATOR(pg_catalog.=) $2 FOR UPDATE",
			   3, (Oid[]) {TEXTOID, TEXTOID, INT8OID});
	values[0] = col == RC_PAYMENT_REF ? PG_GETARG_DATUM(1) : (Datum) 0;
	nulls[0] = col == RC_PAYMENT_REF ? ' ' : 'n';
	values[1] = PG_GETARG_DATUM(0);
	if (found)
	{
		values[2] = Int64GetDatum(press.order_id);
		co_execute(find, values, nulls, false, 0);
		found = SPI_processed == 1;
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: refund %s does not exist", button,
						TextDatumGetCString(PG_GETARG_DATUM(0))),
				 errhint("customorder.refund_status(order_id) lists an order's refunds.")));
	press.order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	press.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (action == ACT_REFUND_SUCCEEDED && strcmp(state, "succeeded") == 0 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull)) && !isnull)
	{
		co_finish();
		return CStringGetTextDatum("succeeded");	/* reported again: nothing changes */
	}
	if (plans[col < 0 ? RC_COUNT : col] == NULL)
		co_prepare(&plans[col < 0 ? RC_COUNT : col],
				   psprintf("UPDATE customorder.refunds r SET %s "
							"WHERE r.order_id OPERATOR(pg_catalog.=) $1 "
							"AND r.refund_id OPERATOR(pg_catalog.=) $2 RETURNING r.state",
							col < 0 ? "state = r.state" :
							psprintf("%s = $3", refund_cols[col])),
				   col < 0 ? 2 : 3, argtypes);
	values[0] = Int64GetDatum(press.order_id);
	values[1] = Int64GetDatum(press.id);
	values[2] = col < 0 ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[0] = nulls[2] = ' ';
	co_press_execute(&press, plans[col < 0 ? RC_COUNT : col], values, nulls);
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	state = strcpy(SPI_palloc(strlen(state) + 1), state);
	co_finish();
	return CStringGetTextDatum(state);
}

/* refund_succeeded(refund_no, payment_ref) -> state (platform) */
Datum
co_refund_succeeded(PG_FUNCTION_ARGS)
{
	return refund_press(fcinfo, ACT_REFUND_SUCCEEDED, RC_PAYMENT_REF);
}

/* refund_failed(refund_no, error) -> state (platform) */
Datum
co_refund_failed(PG_FUNCTION_ARGS)
{
	return refund_press(fcinfo, ACT_REFUND_FAILED, RC_ERROR);
}

/* retry_refund(refund_no) -> state (platform) */
Datum
co_retry_refund(PG_FUNCTION_ARGS)
{
	return refund_press(fcinfo, ACT_RETRY_REFUND, -1);
}

/*
 * refund_status(order_id) -> the order's refunds, for the buyer's app (and
 * its merchant and the platform; H6 as every query)
 */
Datum
co_refund_status(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	co_order_rows(fcinfo, "refund_status", &plan,
				  "SELECT r.refund_no, r.aftersale_id, r.amount, r.state, "
				  "r.created_at, r.settled_at FROM customorder.refunds r "
				  "WHERE r.order_id OPERATOR(pg_catalog.=) $1 ORDER BY r.refund_id");
	return (Datum) 0;
}
