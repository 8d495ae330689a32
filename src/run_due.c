/*-------------------------------------------------------------------------
 *
 * run_due.c
 *	  customorder.run_due(max_actions) (SPEC §7 T3): apply every passed
 *	  deadline, oldest first, through the same transition tables and
 *	  triggers as a button, as actor "system".
 *
 *	  Due work is found by index range scans (aftersales_due on due_at,
 *	  orders_ship_due on ship_by), never by a scan of every order.  On one
 *	  server the scans lock what they find FOR UPDATE SKIP LOCKED: a
 *	  concurrent caller takes other rows, and a row it applied no longer
 *	  matches once it commits (its due_at has moved or gone, its late_at is
 *	  stamped), so no expiry applies twice.  Citus refuses a locking clause
 *	  on a query of every shard, so distributed (SPEC §12) the scans only
 *	  find candidates, and each is applied after its order is locked on the
 *	  order's shard FOR UPDATE SKIP LOCKED (a router query): one a
 *	  concurrent caller holds is skipped, not waited for, and one it applied
 *	  meanwhile is refused there (its due_at moved, its late_at is stamped)
 *	  and skipped.
 *	  Each expiry runs in a subtransaction: one the rules refuse (its state
 *	  moved on) is skipped, never an error for the others.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PG_FUNCTION_INFO_V1(co_run_due);

/* One passed deadline: a case's due_at, or an order's ship_by */
typedef struct DueItem
{
	TimestampTz due;
	int64		order_id;
	int64		aftersale_id;	/* 0: the order's ship_by */
} DueItem;

/*
 * The queries run_due scans with ($1 now, $2 how many), and the locking
 * clause they take on one server.  sql/deadlines.sql shows their plans:
 * index range scans.
 */
static const char *const due_sql[2] = {
	"SELECT a.due_at, a.order_id, a.aftersale_id FROM customorder.aftersales a "
	"WHERE a.due_at OPERATOR(pg_catalog.<=) $1 "
	"ORDER BY a.due_at LIMIT $2",
	"SELECT o.ship_by, o.order_id, 0::pg_catalog.int8 FROM customorder.orders o "
	"WHERE o.ship_by OPERATOR(pg_catalog.<=) $1 AND o.late_at IS NULL "
	"AND o.shipped_at IS NULL AND o.closed_at IS NULL "
	"ORDER BY o.ship_by LIMIT $2",
};
#define DUE_LOCK " FOR UPDATE SKIP LOCKED"

/*
 * Find up to "max" passed deadlines of one kind, oldest first, appending
 * them to items[n..]; returns the new count.  On one server they are locked;
 * distributed, they are candidates that each expiry locks when applied.
 */
static int
collect_due(int kind, TimestampTz now, int max, DueItem *items, int n)
{
	static SPIPlanPtr plans[2][2];
	bool		distributed = co_distributed();
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	uint64		i;

	co_connect();
	if (plans[distributed][kind] == NULL)
		co_prepare(&plans[distributed][kind],
				   distributed ? due_sql[kind] : psprintf("%s" DUE_LOCK, due_sql[kind]),
				   2, argtypes);
	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(max);
	co_execute(plans[distributed][kind], values, NULL, false, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		items[n].due = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
		items[n].order_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		items[n++].aftersale_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	}
	co_finish();
	return n;
}

static int
due_cmp(const void *a, const void *b)
{
	const DueItem *x = a;
	const DueItem *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	if (x->order_id != y->order_id)
		return x->order_id < y->order_id ? -1 : 1;
	return x->aftersale_id < y->aftersale_id ? -1 :
		x->aftersale_id > y->aftersale_id ? 1 : 0;
}

/*
 * Press the expiry action of the case's running deadline, as the system.
 * The case is fetched by its key (the item knows its order) and locked; a
 * deadline other than the one found due is not this item's to apply: the
 * case moved on since it was found (distributed, a concurrent run_due may
 * have applied it and started the next deadline), so it is refused.
 */
static void
expire_case(const DueItem *item)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	CaseRow		kase;
	OrderRow	order;
	CoDeadline	dl;

	co_case_fetch_in_order(item->order_id, item->aftersale_id, "run_due", true,
						   &kase, &order);
	dl = co_case_deadline(&kase);
	if (dl == DL_NONE || kase.isnull[CC_DUE_AT])
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run_due: no deadline runs for case " INT64_FORMAT,
						item->aftersale_id)));
	if (DatumGetTimestampTz(kase.v[CC_DUE_AT]) != item->due)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run_due: the deadline of case " INT64_FORMAT " has moved",
						item->aftersale_id),
				 errdetail("It was due at %s; %s runs until %s.",
						   co_timestamptz_str(item->due),
						   co_deadline_names[dl],
						   co_timestamptz_str(DatumGetTimestampTz(kase.v[CC_DUE_AT])))));
	co_connect();
	plan = co_prepare(&plan,
					  "UPDATE customorder.aftersales a SET state = a.state "
					  "WHERE a.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND a.aftersale_id OPERATOR(pg_catalog.=) $2 "
					  "RETURNING a.state",
					  2, argtypes);
	values[0] = Int64GetDatum(item->order_id);
	values[1] = Int64GetDatum(item->aftersale_id);
	co_case_press(item->order_id, item->aftersale_id,
				  co_deadline_defs[dl].on_expiry, "run_due", 0, plan, values,
				  NULL);
	co_finish();
}

/* Is this one of the refusals of SPEC §4 (the state moved on)? */
static bool
is_refusal(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
		sqlerrcode == ERRCODE_CHECK_VIOLATION ||
		sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE ||
		sqlerrcode == ERRCODE_NULL_VALUE_NOT_ALLOWED ||
		sqlerrcode == ERRCODE_NO_DATA_FOUND;
}

/*
 * Apply one passed deadline in a subtransaction.  Returns false, with the
 * subtransaction rolled back, if the rules refuse it; any other error
 * (a cancel, a deadlock, a bug) propagates.
 */
static bool
apply_one(const DueItem *item)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		applied = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		if (item->aftersale_id != 0)
			expire_case(item);
		else
			co_order_press(item->order_id, ACT_MARK_LATE, "run_due", 0,
						   (OrderCol) -1, (Datum) 0, true);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		if (!is_refusal(edata->sqlerrcode))
			ReThrowError(edata);
		ereport(DEBUG1,
				(errmsg("run_due: skipped the deadline of order " INT64_FORMAT " case " INT64_FORMAT ": %s",
						item->order_id, item->aftersale_id, edata->message)));
		FreeErrorData(edata);
		applied = false;
	}
	PG_END_TRY();
	return applied;
}

/*
 * Distributed: lock a candidate's order on its shard (a router query),
 * or skip the candidate while another transaction holds the order, as the
 * scans' SKIP LOCKED do on one server: a concurrent run_due applying it
 * is passed over, not waited for.
 */
static bool
lock_candidate(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		locked;

	values[0] = Int64GetDatum(order_id);
	co_connect();
	co_prepare(&plan,
			   "SELECT 1 FROM customorder.orders o "
			   "WHERE o.order_id OPERATOR(pg_catalog.=) $1 "
			   "FOR UPDATE OF o SKIP LOCKED",
			   1, argtypes);
	co_execute(plan, values, NULL, false, 1);
	locked = SPI_processed == 1;
	co_finish();
	return locked;
}

/*
 * run_due(max_actions integer DEFAULT 1000) -> integer: how many passed
 * deadlines it applied, at most max_actions, oldest first.
 */
Datum
co_run_due(PG_FUNCTION_ARGS)
{
	int			max;
	TimestampTz now;
	DueItem    *items;
	int			n;
	int			applied = 0;
	int			i;

	co_require_arg(fcinfo, 0, "run_due", "max_actions");
	max = PG_GETARG_INT32(0);
	if (max < 0 || max > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run_due: max_actions must be between 0 and 1000000"),
				 errdetail("max_actions %d.", max),
				 errhint("Call run_due() again for more.")));
	co_authorize("run_due", CO_WHO_PLATFORM, 0, 0);
	if (max == 0)
		PG_RETURN_INT32(0);

	now = co_now();
	items = palloc(2 * max * sizeof(DueItem));
	n = collect_due(0, now, max, items, 0);
	n = collect_due(1, now, max, items, n);
	qsort(items, n, sizeof(DueItem), due_cmp);
	for (i = 0; i < n && applied < max; i++)
		if ((!co_distributed() || lock_candidate(items[i].order_id)) &&
			apply_one(&items[i]))
			applied++;
	PG_RETURN_INT32(applied);
}
