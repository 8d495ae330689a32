/*-------------------------------------------------------------------------
 *
 * engine.c
 *	  The transition engine (see engine.h): choosing a row of a machine's
 *	  table, "is this action offered", the pending press of a button, the
 *	  trigger protocol check, and transitions(), which publishes the tables.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "commands/async.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(co_transitions);

/* Every machine, in the order transitions() publishes them */
static const CoMachine *const machines[] = {
	&co_order_machine,
	&co_case_machine,
	&co_bundle_machine,
	&co_refund_machine,
};

const char *const co_deadline_names[DL_COUNT] = {
	"none", "merchant_response", "buyer_response", "buyer_evidence",
	"buyer_return", "merchant_receipt", "escalation_window", "ship_by"
};

/* The button press whose row is being written, if any */
static CoPress pending_press = {NULL};

/* The from-state of a choice: the row's state, or "none" when it is created */
static int
from_state(const CoMachine *m, const CoGuardCtx *ctx)
{
	return ctx->old ? ctx->old->state : m->none_state;
}

/*
 * Choose the row of m's table that leaves the current state, by action (a
 * press or a probe; action >= 0) and/or by to-state (a raw write; to >= 0).
 * "changed" holds the bits of the columns the writer changed: a row that
 * may not write one of them does not apply.  Rows are tried in table order;
 * the first whose guard passes is chosen, its to-state and filled columns
 * set in *proposed (which starts as ctx->new).  Returns NULL and the first
 * refusal met (or the machine's "no such row" refusal) if none applies.
 * Each guard runs at most once.
 */
const CoTransition *
co_choose(const CoMachine *m, CoGuardCtx *ctx, int action, int to,
		  uint32 changed, CoRow *proposed, CoRefusal **refusal)
{
	const CoRow *written = ctx->new;
	int			from = from_state(m, ctx);
	CoRefusal  *first = NULL;
	bool		bound_checked = false;
	int			i;

	for (i = 0; i < m->nrows; i++)
	{
		const CoTransition *t = &m->rows[i];
		CoRow		candidate = *written;
		CoRefusal  *r = NULL;
		uint32		allowed;

		if (t->from != from || (action >= 0 && (int) t->action != action) ||
			(to >= 0 && t->to != to))
			continue;

		/* T2: once per choice, before any guard: is the presser overdue? */
		if (!bound_checked && m->overdue && ctx->who && ctx->old)
		{
			bound_checked = true;
			if ((r = m->overdue(ctx, t->action)) != NULL)
			{
				*refusal = r;
				return NULL;
			}
		}
		candidate.state = t->to;
		ctx->new = &candidate;
		allowed = t->may_change |
			(t->stamp != CO_NO_STAMP ? CO_BIT(t->stamp) : 0);
		if ((changed & ~allowed) != 0 && !ctx->probe)
		{
			int			col;

			for (col = 0; !(changed & ~allowed & CO_BIT(col)); col++)
				;
			r = m->bad_column(ctx, t, col);
		}
		else
		{
			if (t->fill && action >= 0 && !ctx->probe)
				t->fill(ctx, &candidate);
			r = t->guard(ctx);
		}
		ctx->new = written;
		if (r == NULL)
		{
			*proposed = candidate;
			*refusal = NULL;
			return t;
		}
		if (first == NULL)
			first = r;
	}
	*refusal = first ? first : m->no_row(ctx, from, action, to);
	return NULL;
}

/* Does some row leave "from" by "action"?  (The button is shown.) */
bool
co_action_offered(const CoMachine *m, int from, CoAction action)
{
	int			i;

	for (i = 0; i < m->nrows; i++)
		if (m->rows[i].from == from && m->rows[i].action == action)
			return true;
	return false;
}

/*
 * The press pending for this row of machine m, or NULL: a write of the row
 * by anything but the button (a raw UPDATE, another trigger) has none.
 */
const CoPress *
co_press_for(const CoMachine *m, int64 order_id, int64 id)
{
	if (pending_press.machine != m || pending_press.order_id != order_id ||
		pending_press.id != id)
		return co_press_remote(m, order_id, id);
	return &pending_press;
}

/*
 * The press whose write is running, if any: also while the triggers of
 * what that write sets off run (an event's actor, V1).
 */
const CoPress *
co_press_current(void)
{
	return pending_press.machine ? &pending_press : co_press_remote_current();
}

/*
 * Run a button's write of its row with its press pending; the press is
 * withdrawn on any exit, error included.
 */
int
co_press_execute(const CoPress *press, SPIPlanPtr plan, const Datum *values,
				 const char *nulls)
{
	CoPress		saved = pending_press;
	int			ret;

	pending_press = *press;
	PG_TRY();
	{
		/*
		 * distributed: the trigger runs where the order's shard is, and the
		 * node the client is connected to notifies its listeners; not a
		 * worker's backend serving Citus (a trigger's follow-up), whose
		 * transaction may be prepared for two-phase commit, which NOTIFY
		 * forbids
		 */
		if (co_distributed())
			co_press_send(press);
		ret = co_execute(plan, values, nulls, false, 0);
		if (co_distributed() && SPI_processed > 0 && !co_serving_citus())
			Async_Notify("customorder_events",
						 psprintf(INT64_FORMAT, press->order_id));
	}
	PG_FINALLY();
	{
		pending_press = saved;
	}
	PG_END_TRY();
	return ret;
}

/* The machine named "name" ("order", "aftersale", ...), or NULL */
const CoMachine *
co_machine_by_name(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(machines); i++)
		if (strcmp(machines[i]->name, name) == 0)
			return machines[i];
	return NULL;
}

/*
 * The check every trigger entry point makes: called by the trigger manager,
 * at the time and level its CREATE TRIGGER says.
 */
TriggerData *
co_check_trigger(FunctionCallInfo fcinfo, const char *funcname, int kind)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager",
						funcname)));
	if (((kind & CO_TRIGGER_BEFORE) && !TRIGGER_FIRED_BEFORE(trigdata->tg_event)) ||
		((kind & CO_TRIGGER_AFTER) && !TRIGGER_FIRED_AFTER(trigdata->tg_event)) ||
		((kind & CO_TRIGGER_ROW) && !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event)) ||
		((kind & CO_TRIGGER_STMT) && !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s %s",
						funcname,
						(kind & CO_TRIGGER_AFTER) ? "AFTER" : "BEFORE",
						(kind & CO_TRIGGER_STMT) ? "FOR EACH STATEMENT" : "FOR EACH ROW")));
	return trigdata;
}

/*
 * transitions(): every legal change of every machine, straight from the
 * static tables the triggers use.
 */
Datum
co_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			mi;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (mi = 0; mi < lengthof(machines); mi++)
	{
		const CoMachine *m = machines[mi];

		for (i = 0; i < m->nrows; i++)
		{
			const CoTransition *t = &m->rows[i];
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			values[0] = CStringGetTextDatum(m->name);
			values[1] = CStringGetTextDatum(m->state_names[t->from]);
			values[2] = CStringGetTextDatum(co_action_names[t->action]);
			values[3] = CStringGetTextDatum(m->state_names[t->to]);
			values[4] = CStringGetTextDatum(t->guard_name);
			/* the clock is part of the rule the documentation shows */
			values[5] = CStringGetTextDatum(t->clock == CLOCK_KEEPS ? t->rule :
											psprintf("%s; %s %s", t->rule,
													 t->clock == CLOCK_STARTS ? "starts" : "stops",
													 t->deadline ? co_deadline_names[t->deadline] : "the clock"));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	return (Datum) 0;
}
