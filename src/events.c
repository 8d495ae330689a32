/*-------------------------------------------------------------------------
 *
 * events.c
 *	  SPEC §10 V1, V2: every change of an order, a case, an evidence bundle
 *	  or a refund appends one row to customorder.events, in the same
 *	  transaction, written by the trigger that chose the change's
 *	  transition: a button, raw SQL and the system (run_due) alike.  The
 *	  chosen CoTransition is what the event records (machine, action, from,
 *	  to); the actor is the press's kind (the system's when it is 0), or the
 *	  calling role's kind for a write without a press ("superuser" for a
 *	  superuser's raw change); actor_role is the role in effect when the call
 *	  was made (GetOuterUserId: SET ROLE included, never the owner of a
 *	  SECURITY DEFINER button).
 *
 *	  The append is one kept statement that also queues the event for every
 *	  registered consumer (outbox.c, V3) and takes "at" no earlier than the
 *	  order's latest event (H2: an order's events never go back in time).
 *	  A press by the system (run_due) is actor "system"; a follow-up press
 *	  (who 0) and a write outside any press take the calling role's kind.
 *	  Each append sends NOTIFY customorder_events with the order's id
 *	  (PostgreSQL folds duplicates within a transaction and delivers at
 *	  commit).  A 1.0 database not yet updated has no events table (U2):
 *	  nothing is appended.
 *
 *	  Events are append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
 *	  history(order_id) returns the order's and its cases' events.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_events_append_only);
PG_FUNCTION_INFO_V1(co_order_created_event);
PG_FUNCTION_INFO_V1(co_history);

/* Does customorder.<relname> exist?  (No on a 1.0 database, U2.) */
bool
co_table_exists(const char *relname)
{
	Oid			nsp = get_namespace_oid(CO_SCHEMA, true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid(relname, nsp));
}

/* The actor kind an event records (SPEC §10 V1, §13) */
static const char *
event_actor(void)
{
	const CoPress *press = co_press_current();

	if (press == NULL)
		return co_caller_actor_kind();
	/* who 0: the system, or the follow-up of a press already authorized */
	if (press->who == 0 && strcmp(press->button, "run_due") == 0)
		return "system";
	if (press->who == 0 && press->action == ACT_SUBMIT_EVIDENCE)
		return "merchant";
	if (press->who == CO_WHO_PLATFORM)
		return "platform";
	if (press->who == CO_WHO_MERCHANT)
		return "merchant";
	if (press->who == CO_WHO_BUYER)
		return "buyer";
	return co_caller_actor_kind();
}

/* The calling role an event records: the presser's, wherever it pressed */
static const char *
event_role(void)
{
	const CoPress *press = co_press_current();

	if (press != NULL && press->role != NULL)
		return press->role;
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * Append one event.  aftersale_id 0 is none; from NULL: the row was
 * created.  The insert queues the event for every consumer (V3).
 */
void
co_event_append(int64 order_id, int64 aftersale_id, const char *machine,
				const char *action, const char *from, const char *to,
				TimestampTz at, const char *detail)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[10] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (!co_table_exists("events"))
		return;
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(aftersale_id);
	nulls[1] = aftersale_id == 0 ? 'n' : ' ';
	values[2] = CStringGetTextDatum(machine);
	values[3] = CStringGetTextDatum(action);
	values[4] = from ? CStringGetTextDatum(from) : (Datum) 0;
	nulls[4] = from ? ' ' : 'n';
	values[5] = CStringGetTextDatum(to);
	values[6] = CStringGetTextDatum(event_actor());
	values[7] = CStringGetTextDatum(event_role());
	values[8] = TimestampTzGetDatum(at);
	values[9] = CStringGetTextDatum(detail ? detail : "{}");

	co_connect();
	co_prepare(&plan,
			   "WITH e AS (INSERT INTO customorder.events "
			   "(order_id, aftersale_id, machine, action, from_state, to_state, "
			   " actor, actor_role, at, detail) "
			   "SELECT $1, $2, $3, $4, $5, $6, $7, $8, "
			   " GREATEST($9, (SELECT l.at FROM customorder.events l "
			   "  WHERE l.order_id OPERATOR(pg_catalog.=) $1 "
			   "  ORDER BY l.event_id DESC LIMIT 1)), "
			   " $10::pg_catalog.jsonb "
			   "RETURNING order_id, event_id) "
			   "INSERT INTO customorder.deliveries (consumer, order_id, event_id) "
			   "SELECT c.consumer, e.order_id, e.event_id "
			   "FROM e CROSS JOIN customorder.consumers c",
			   10, argtypes);
	co_execute(plan, values, nulls, false, 0);
	co_finish();
	co_event_notify(order_id);
}

/*
 * NOTIFY customorder_events (V3), from the node the client is connected
 * to.  Distributed, this trigger runs on a worker, whose transaction may
 * be prepared for a two-phase commit, which NOTIFY forbids, and whose
 * listeners are nobody's: the button notifies on its own node instead
 * (co_press_execute).
 */
void
co_event_notify(int64 order_id)
{
	if (co_distributed())
		return;
	Async_Notify("customorder_events", psprintf(INT64_FORMAT, order_id));
}

/* The event of a transition a trigger chose on machine m */
void
co_event_transition(const CoMachine *m, const CoTransition *t,
					int64 order_id, int64 aftersale_id, TimestampTz at,
					const char *detail)
{
	/* SPEC V1 names the case machine "case" (transitions(): aftersale) */
	co_event_append(order_id, aftersale_id,
					m == &co_case_machine ? "case" : m->name,
					co_action_names[t->action],
					t->from == m->none_state ? NULL : m->state_names[t->from],
					m->state_names[t->to], at, detail);
}

/* One "key": value of a detail object, numbers and booleans unquoted */
static void
detail_add(StringInfo buf, const char *key, Oid type, Datum value)
{
	Oid			out;
	bool		varlena;
	char	   *text;

	getTypeOutputInfo(type, &out, &varlena);
	text = OidOutputFunctionCall(out, value);
	appendStringInfoString(buf, buf->len > 1 ? ", " : "");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (type == NUMERICOID || type == INT8OID || type == INT4OID ||
		type == BOOLOID)
		appendStringInfoString(buf, text);
	else
		escape_json(buf, text);
}

/*
 * An event's detail: the rule columns "cols" (CO_BIT bits) of the row that
 * are not null, named as in the table, then "extra" (further "key": value
 * pairs, or NULL).  Returns the JSON object's text.
 */
char *
co_event_detail(CoTable *table, Relation rel, const CoRow *row, uint32 cols,
				const char *extra)
{
	StringInfoData buf;
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < table->ncols; i++)
		if ((cols & CO_BIT(i)) && !row->isnull[i] &&
			table->attnums[i] != InvalidAttrNumber)
			detail_add(&buf, table->cols[i],
					   TupleDescAttr(desc, table->attnums[i] - 1)->atttypid,
					   row->v[i]);
	if (extra && extra[0])
		appendStringInfo(&buf, "%s%s", buf.len > 1 ? ", " : "", extra);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* customorder.order_created(): AFTER INSERT on orders, per row: place_order's event */
Datum
co_order_created_event(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_order_created_event",
											 CO_TRIGGER_AFTER | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	OrderRow	order;

	co_row_read(&co_orders_table, rel, trigdata->tg_trigtuple, order.v,
				order.isnull);
	co_event_append(ORD_ID(&order), 0, "order",
					co_action_names[ACT_PLACE_ORDER], NULL,
					co_order_state_names[OS_PAID],
					DatumGetTimestampTz(order.v[OC_PAID_AT]),
					co_event_detail(&co_orders_table, rel, &order,
									CO_BIT(OC_AMOUNT) | CO_BIT(OC_PRODUCT_ID) |
									CO_BIT(OC_PAY_NO), NULL));
	return PointerGetDatum(NULL);
}

/* customorder.events_append_only(): BEFORE UPDATE OR DELETE OR TRUNCATE */
Datum
co_events_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_events_append_only",
											 CO_TRIGGER_BEFORE);
	const char *what = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "updated" :
	TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "deleted" : "truncated";

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("events are append-only: they cannot be %s (rule V1)", what),
			 errdetail("%s of customorder.%s.",
					   TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("An event records a change that happened; a correction is a new change.")));
	PG_RETURN_NULL();
}

/*
 * Put the rows of an SPI result into the materialized result of a
 * set-returning function whose row type is the result's.
 */
void
co_spi_to_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	desc = rsinfo->setDesc;
	Datum	   *values = palloc(desc->natts * sizeof(Datum));
	bool	   *nulls = palloc(desc->natts * sizeof(bool));
	uint64		r;
	int			i;

	for (r = 0; r < SPI_processed; r++)
	{
		for (i = 0; i < desc->natts; i++)
			values[i] = SPI_getbinval(SPI_tuptable->vals[r],
									  SPI_tuptable->tupdesc, i + 1, &nulls[i]);
		tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	}
}

/*
 * The rows "sql" ($1: the order) returns for one order, as the result of a
 * set-returning query function "button": a merchant or buyer may ask only
 * for its own order (H6: 42501 for another's or a missing id); the platform
 * gets P0002 for a missing order.
 */
void
co_order_rows(FunctionCallInfo fcinfo, const char *button, SPIPlanPtr *plan,
			  const char *sql)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		key;
	OrderRow	order;

	co_require_arg(fcinfo, 0, button, "order_id");
	key = PG_GETARG_DATUM(0);
	co_authorize_order_id(button, CO_WHO_ANYONE, DatumGetInt64(key));
	co_order_fetch(DatumGetInt64(key), button, false, &order);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	co_connect();
	co_prepare(plan, sql, 1, argtypes);
	co_execute(*plan, &key, NULL, true, 0);
	co_spi_to_srf(fcinfo);
	co_finish();
}

/* history(order_id) -> setof events (V2): the order's and its cases' events */
Datum
co_history(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	co_order_rows(fcinfo, "history", &plan,
				  "SELECT e.* FROM customorder.events e "
				  "WHERE e.order_id OPERATOR(pg_catalog.=) $1 ORDER BY e.event_id");
	return (Datum) 0;
}
