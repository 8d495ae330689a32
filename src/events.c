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
 *	  The append writes the event and queues it for every registered
 *	  consumer (a row of deliveries each, outbox.c, V3).  Its "at" is the
 *	  caller's: a trigger that holds the order's row lock and took the time
 *	  from co_order_stamp(), which is never before the order's latest
 *	  stamp; the trigger then makes it the order's latest (H2: an order's
 *	  events never go back in time).  It writes the tuples without the executor (append.c):
 *	  a planned INSERT through SPI cost about 110,000 instructions a row of
 *	  a bulk UPDATE, nearly half of it starting the executor, where the
 *	  rules cost about 12,000 (issue 12).  A table
 *	  altered into a shape that path does not write (a trigger, a CHECK, a
 *	  column of its own) gets the same rows from one SQL statement, which
 *	  the executor checks in full.  event_target() decides which relations
 *	  an event goes to.
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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

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

/* The columns of customorder.events an append writes, in this order */
enum
{
	EV_ORDER_ID, EV_EVENT_ID, EV_AFTERSALE_ID, EV_MACHINE, EV_ACTION,
	EV_FROM_STATE, EV_TO_STATE, EV_ACTOR, EV_ACTOR_ROLE, EV_AT, EV_DETAIL,
	EV_NCOLS
};
static const char *const event_cols[EV_NCOLS] = {
	"order_id", "event_id", "aftersale_id", "machine", "action",
	"from_state", "to_state", "actor", "actor_role", "at", "detail"
};
static const Oid event_types[EV_NCOLS] = {
	INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID
};
/*
 * Events are appended at the end of the table, never into the space the
 * free space map knows: an append-only log has no space to reuse but the
 * scraps its full pages kept, and filling those would touch (and, after a
 * checkpoint, write a full-page image of) an old page for each new event:
 * 16.7 MB of the 50 MB of WAL the events of a bulk UPDATE of 100,000 orders
 * wrote.  A table purged by hand gets its space back with VACUUM FULL.
 */
static CoAppendTable events_table = {event_cols, event_types, EV_NCOLS,
TABLE_INSERT_SKIP_FSM};

/* The columns of customorder.deliveries an append writes */
enum
{
	DL_CONSUMER, DL_ORDER_ID, DL_EVENT_ID, DL_LEASE_UNTIL, DL_CLAIMS,
	DL_NCOLS
};
static const char *const delivery_cols[DL_NCOLS] = {
	"consumer", "order_id", "event_id", "lease_until", "claims"
};
static const Oid delivery_types[DL_NCOLS] = {
	TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, INT4OID
};
static CoAppendTable deliveries_table = {delivery_cols, delivery_types,
DL_NCOLS};

/* The relations an event is written to (event_target) */
typedef struct EventTarget
{
	Oid			events;
	Oid			deliveries;
	Oid			consumers;
} EventTarget;

/*
 * What the direct append needs of the events relation "relid" beyond its
 * columns: event_id's identity sequence.  InvalidOid: not there (the SQL
 * path).
 */
static struct
{
	Oid			relid;
	Oid			seq;
}			events_extra;

/*
 * The consumers relation "relid": the attribute of its names and its
 * primary key, by which they are read
 */
static struct
{
	Oid			relid;
	AttrNumber	name;
	Oid			pkey;
}			consumers_map;

/*
 * Which relations an event of order "order_id" goes to: customorder's
 * events, deliveries and consumers.  This is the one place that decides
 * it.  On a distributed install (SPEC §12) the trigger runs on a worker's
 * shard of orders, where these are Citus's shell tables: co_event_append
 * then takes the SQL path, which Citus routes to the colocated shards.  The OIDs are
 * cached until the relations change (a rename, DROP EXTENSION).  False on
 * a 1.0 database not yet updated (U2): it has no events.
 */
static bool
event_target(int64 order_id, EventTarget *target)
{
	static EventTarget cached;

	if (!OidIsValid(cached.events) || !OidIsValid(cached.deliveries) ||
		!OidIsValid(cached.consumers))
	{
		Oid			nsp = get_namespace_oid(CO_SCHEMA, true);

		if (!OidIsValid(nsp))
			return false;
		co_remember_relid(&cached.events);
		co_remember_relid(&cached.deliveries);
		co_remember_relid(&cached.consumers);
		cached.events = get_relname_relid("events", nsp);
		if (!OidIsValid(cached.events))
			return false;
		cached.deliveries = get_relname_relid("deliveries", nsp);
		cached.consumers = get_relname_relid("consumers", nsp);
	}
	*target = cached;
	return OidIsValid(cached.events);
}

/*
 * Is the events relation usable by the direct append: its columns (see
 * append.c) and an identity sequence for event_id?
 */
static bool
events_usable(Relation rel)
{
	AttrNumber	id_att;

	if (!co_append_usable(&events_table, rel))
		return false;
	if (events_extra.relid == RelationGetRelid(rel))
		return OidIsValid(events_extra.seq);
	co_remember_relid(&events_extra.relid);
	events_extra.relid = RelationGetRelid(rel);
	events_extra.seq = InvalidOid;
	id_att = events_table.attnums[EV_EVENT_ID];
	if (TupleDescAttr(RelationGetDescr(rel), id_att - 1)->attidentity == '\0')
		return false;
	events_extra.seq = getIdentitySequence(RelationGetRelid(rel), id_att, true);
	return OidIsValid(events_extra.seq);
}

/* Is the consumers relation readable by the direct append? */
static bool
consumers_usable(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (consumers_map.relid == RelationGetRelid(rel))
		return consumers_map.name != InvalidAttrNumber &&
			OidIsValid(consumers_map.pkey);
	co_remember_relid(&consumers_map.relid);
	consumers_map.relid = RelationGetRelid(rel);
	consumers_map.name = InvalidAttrNumber;
	consumers_map.pkey = InvalidOid;
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->atttypid == TEXTOID &&
			strcmp(NameStr(att->attname), "consumer") == 0)
			consumers_map.name = att->attnum;
	}
	consumers_map.pkey = RelationGetPrimaryKeyIndex(rel);
	return consumers_map.name != InvalidAttrNumber &&
		OidIsValid(consumers_map.pkey);
}

/*
 * The registered consumers' names, copied.  Read with SnapshotSelf: every
 * consumer committed, or registered by this transaction, by the time of the
 * reading, whatever the statement's snapshot.  Read through the primary
 * key, not by a sequential scan, which asks the kernel for the table's size
 * (an lseek).
 */
static List *
consumer_names(Relation rel)
{
	Relation	pkey = index_open(consumers_map.pkey, AccessShareLock);
	IndexScanDesc scan = index_beginscan(rel, pkey, SnapshotSelf, 0, 0);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	List	   *names = NIL;
	Datum		name;
	bool		isnull;

	index_rescan(scan, NULL, 0, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		name = slot_getattr(slot, consumers_map.name, &isnull);
		if (!isnull)
			names = lappend(names, DatumGetPointer(datumCopy(name, false, -1)));
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(pkey, NoLock);
	return names;
}

/*
 * The consumers an event is owed (V3), as a list of text datums; false
 * when the consumers relation is not of the shape read here (the SQL
 * path).  They are read once per command: the events of one statement (a
 * bulk UPDATE's rows) share the reading made at its first event, so a
 * consumer whose registration commits while a statement runs is owed the
 * events of the statements after it, and always those of a transaction
 * that began after it committed.  A reading is kept in
 * TopTransactionContext for its transaction, subtransaction and command.
 */
static bool
event_consumers(Oid relid, List **names)
{
	static struct
	{
		LocalTransactionId lxid;
		SubTransactionId subxid;
		CommandId	cid;
		Oid			relid;
		List	   *names;
	}			cache;
	Relation	rel;
	List	   *read;
	ListCell   *lc;
	MemoryContext old;

	if (cache.lxid == MyProc->lxid &&
		cache.subxid == GetCurrentSubTransactionId() &&
		cache.cid == GetCurrentCommandId(false) &&
		cache.relid == relid && consumers_map.relid == relid)
	{
		*names = cache.names;
		return true;
	}
	rel = table_open(relid, AccessShareLock);
	if (!consumers_usable(rel))
	{
		table_close(rel, NoLock);
		return false;
	}
	read = consumer_names(rel);
	table_close(rel, NoLock);
	if (cache.lxid == MyProc->lxid)
		list_free_deep(cache.names);
	cache.lxid = InvalidLocalTransactionId;
	old = MemoryContextSwitchTo(TopTransactionContext);
	cache.names = NIL;
	foreach(lc, read)
		cache.names = lappend(cache.names,
							  DatumGetPointer(datumCopy(PointerGetDatum(lfirst(lc)),
														false, -1)));
	MemoryContextSwitchTo(old);
	cache.lxid = MyProc->lxid;
	cache.subxid = GetCurrentSubTransactionId();
	cache.cid = GetCurrentCommandId(false);
	cache.relid = relid;
	*names = cache.names;
	return true;
}

/*
 * Append the event v/n (EV_ columns; event_id is filled here) and its deliveries without the executor (append.c).  False,
 * having written nothing, when a relation is not of the shape this path
 * writes: the caller then takes the SQL path.  Locks are kept to the end
 * of the transaction, as the executor keeps them.
 */
static bool
event_append_direct(const EventTarget *target, Datum *v, bool *n)
{
	Relation	events,
				deliveries = NULL;
	List	   *names;
	EState	   *estate;
	CoAppender	ev,
				dl;
	Datum		dv[DL_NCOLS];
	bool		dn[DL_NCOLS] = {false, false, false, true, false};
	ListCell   *lc;

	if (!OidIsValid(target->deliveries) || !OidIsValid(target->consumers))
		return false;
	events = table_open(target->events, RowExclusiveLock);
	if (!events_usable(events) || !event_consumers(target->consumers, &names))
	{
		table_close(events, NoLock);
		return false;
	}
	if (names != NIL)
	{
		deliveries = table_open(target->deliveries, RowExclusiveLock);
		if (!co_append_usable(&deliveries_table, deliveries))
		{
			table_close(deliveries, NoLock);
			table_close(events, NoLock);
			return false;
		}
	}

	estate = CreateExecutorState();
	co_append_begin(&events_table, events, estate, &ev);
	v[EV_EVENT_ID] = Int64GetDatum(nextval_internal(events_extra.seq, false));
	n[EV_EVENT_ID] = false;
	co_append_row(&ev, estate, v, n);
	co_append_end(&ev);
	if (deliveries)
	{
		co_append_begin(&deliveries_table, deliveries, estate, &dl);
		dv[DL_ORDER_ID] = v[EV_ORDER_ID];
		dv[DL_EVENT_ID] = v[EV_EVENT_ID];
		dv[DL_LEASE_UNTIL] = (Datum) 0;
		dv[DL_CLAIMS] = Int32GetDatum(0);
		foreach(lc, names)
		{
			dv[DL_CONSUMER] = PointerGetDatum(lfirst(lc));
			co_append_row(&dl, estate, dv, dn);
		}
		co_append_end(&dl);
		table_close(deliveries, NoLock);
	}
	FreeExecutorState(estate);
	table_close(events, NoLock);
	return true;
}

/*
 * The event v/n (EV_ columns) as the parameters $1 to $10 of the SQL
 * appends: order_id, aftersale_id, machine, action, from_state, to_state,
 * actor, actor_role, at, detail
 */
#define EVENT_SQL_NARGS 10
static void
event_sql_args(const Datum *v, const bool *n, Oid *argtypes, Datum *values,
			   char *nulls)
{
	static const int cols[EVENT_SQL_NARGS] = {EV_ORDER_ID, EV_AFTERSALE_ID,
		EV_MACHINE, EV_ACTION, EV_FROM_STATE, EV_TO_STATE, EV_ACTOR,
	EV_ACTOR_ROLE, EV_AT, EV_DETAIL};
	int			i;

	for (i = 0; i < EVENT_SQL_NARGS; i++)
	{
		argtypes[i] = event_types[cols[i]];
		values[i] = v[cols[i]];
		nulls[i] = n[cols[i]] ? 'n' : ' ';
	}
}

/*
 * The same append as one SQL statement through SPI, for relations the
 * direct path does not write (altered ones): the executor then checks
 * whatever the tables have.  v/n as for event_append_direct.
 */
static void
event_append_spi(const Datum *v, const bool *n)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[EVENT_SQL_NARGS];
	Datum		values[EVENT_SQL_NARGS];
	char		nulls[EVENT_SQL_NARGS];

	event_sql_args(v, n, argtypes, values, nulls);
	co_connect();
	co_prepare(&plan,
			   "WITH e AS (INSERT INTO customorder.events "
			   "(order_id, aftersale_id, machine, action, from_state, to_state, "
			   " actor, actor_role, at, detail) "
			   "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 "
			   "RETURNING order_id, event_id) "
			   "INSERT INTO customorder.deliveries (consumer, order_id, event_id) "
			   "SELECT c.consumer, e.order_id, e.event_id "
			   "FROM e CROSS JOIN customorder.consumers c",
			   EVENT_SQL_NARGS, argtypes);
	co_execute(plan, values, nulls, false, 0);
	co_finish();
}

/*
 * The append on a distributed install (SPEC §12), where the trigger runs on
 * a worker's shard of orders: the event, then one delivery per registered
 * consumer (read from this node's placement of the reference table), each
 * a statement naming the order, which Citus runs on this node's colocated
 * shard.  event_append_spi's one statement would not do there: Citus
 * broadcasts its common table expression to every node as an intermediate
 * result and commits all of them in two phases (about 120 ms of a press on
 * the test cluster).  v/n as for event_append_direct.
 */
/*
 * An event's id on a distributed install: this node's events sequence
 * times CO_EVENT_GROUPS plus this node's Citus group.  Every node draws from
 * the same range (set_node_id_range), the group in the low bits keeping the
 * ids apart (C4), so an order's next id need not be below its last one
 * when its shard has moved to another node since: the sequence is moved
 * past the last one first, and the order's events stay in event_id order
 * (V1, H2).  The caller holds the order's row lock and is connected to SPI.
 */
#define CO_EVENT_GROUPS 1024

static int64
distributed_event_id(int64 order_id)
{
	static SPIPlanPtr last_plan = NULL;
	static SPIPlanPtr group_plan = NULL;
	static int64 group = -1;
	Oid			argtypes[1] = {INT8OID};
	Datum		key = Int64GetDatum(order_id);
	Oid			seq = co_identity_sequence("events", "event_id");
	int64		last = 0;
	int64		id;
	bool		isnull;

	if (group < 0)
	{
		co_execute(co_prepare(&group_plan,
							  "SELECT g.groupid::pg_catalog.int8 FROM pg_catalog.pg_dist_local_group g",
							  0, NULL),
				   NULL, NULL, true, 1);
		if (SPI_processed != 1)
			elog(ERROR, "pg_dist_local_group has no row");
		group = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
		if (group >= CO_EVENT_GROUPS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("customorder supports Citus groups below %d", CO_EVENT_GROUPS),
					 errdetail("This node is group " INT64_FORMAT ".", group)));
	}
	co_execute(co_prepare(&last_plan,
						  "SELECT pg_catalog.max(e.event_id) FROM customorder.events e "
						  "WHERE e.order_id OPERATOR(pg_catalog.=) $1",
						  1, argtypes),
			   &key, NULL, false, 1);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			last = DatumGetInt64(d);
	}
	id = nextval_internal(seq, false) * CO_EVENT_GROUPS + group;
	if (id <= last)
	{
		DirectFunctionCall2(setval_oid, ObjectIdGetDatum(seq),
							Int64GetDatum(last / CO_EVENT_GROUPS));
		id = nextval_internal(seq, false) * CO_EVENT_GROUPS + group;
	}
	return id;
}

static void
event_append_distributed(const Datum *v, const bool *n)
{
	static SPIPlanPtr event_plan = NULL;
	static SPIPlanPtr delivery_plan = NULL;
	static CoReferencePlan consumers_plan;
	Oid			argtypes[EVENT_SQL_NARGS + 1];
	Datum		values[EVENT_SQL_NARGS + 1];
	char		nulls[EVENT_SQL_NARGS + 1];
	Datum	   *names;
	uint64		count;
	uint64		r;
	int64		event_id;
	bool		isnull;

	event_sql_args(v, n, argtypes, values, nulls);
	co_connect();
	event_id = distributed_event_id(DatumGetInt64(v[EV_ORDER_ID]));
	argtypes[EVENT_SQL_NARGS] = INT8OID;
	values[EVENT_SQL_NARGS] = Int64GetDatum(event_id);
	nulls[EVENT_SQL_NARGS] = ' ';
	co_prepare(&event_plan,
			   "INSERT INTO customorder.events "
			   "(order_id, aftersale_id, machine, action, from_state, to_state, "
			   " actor, actor_role, at, detail, event_id) OVERRIDING SYSTEM VALUE "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			   EVENT_SQL_NARGS + 1, argtypes);
	co_execute(event_plan, values, nulls, false, 0);
	values[2] = Int64GetDatum(event_id);
	co_execute(co_prepare_reference(&consumers_plan, "consumers",
									"SELECT c.consumer FROM %s c", 0, NULL),
			   NULL, NULL, true, 0);
	count = SPI_processed;
	names = palloc(Max(count, 1) * sizeof(Datum));
	for (r = 0; r < count; r++)
		names[r] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc,
								 1, &isnull);
	co_prepare(&delivery_plan,
			   "INSERT INTO customorder.deliveries (consumer, order_id, event_id) "
			   "VALUES ($1, $2, $3)",
			   3, (Oid[]) {TEXTOID, INT8OID, INT8OID});
	values[1] = v[EV_ORDER_ID];
	for (r = 0; r < count; r++)
	{
		values[0] = names[r];
		co_execute(delivery_plan, values, NULL, false, 0);
	}
	co_finish();
}

/*
 * Append one event.  aftersale_id 0 is none; from NULL: the row was
 * created.  The event is queued for every registered consumer (V3) and
 * announced by NOTIFY at commit.
 */
void
co_event_append(int64 order_id, int64 aftersale_id, const char *machine,
				const char *action, const char *from, const char *to,
				TimestampTz at, const char *detail)
{
	EventTarget target;
	Datum		v[EV_NCOLS];
	bool		n[EV_NCOLS];

	if (!event_target(order_id, &target))
		return;
	memset(n, 0, sizeof(n));
	v[EV_ORDER_ID] = Int64GetDatum(order_id);
	v[EV_EVENT_ID] = (Datum) 0;
	n[EV_EVENT_ID] = true;
	v[EV_AFTERSALE_ID] = Int64GetDatum(aftersale_id);
	n[EV_AFTERSALE_ID] = aftersale_id == 0;
	v[EV_MACHINE] = CStringGetTextDatum(machine);
	v[EV_ACTION] = CStringGetTextDatum(action);
	v[EV_FROM_STATE] = from ? CStringGetTextDatum(from) : (Datum) 0;
	n[EV_FROM_STATE] = from == NULL;
	v[EV_TO_STATE] = CStringGetTextDatum(to);
	v[EV_ACTOR] = CStringGetTextDatum(event_actor());
	v[EV_ACTOR_ROLE] = CStringGetTextDatum(event_role());
	v[EV_AT] = TimestampTzGetDatum(at);
	v[EV_DETAIL] = DirectFunctionCall1(jsonb_in,
									   CStringGetDatum(detail ? detail : "{}"));
	if (co_distributed())
		event_append_distributed(v, n);
	else if (!event_append_direct(&target, v, n))
		event_append_spi(v, n);
	co_event_notify(order_id);
}

/*
 * NOTIFY customorder_events (V3), from the node the client is connected
 * to.  Distributed, this trigger may run on a worker serving that node,
 * whose transaction may be prepared for a two-phase commit, which NOTIFY
 * forbids, and whose listeners are nobody's: a press notifies on the
 * client's node (co_press_execute), and an event appended outside a press
 * leaves a notice for that node to notify (citus_settings.c).  In the
 * client's own backend (a shard of this node) it notifies here.
 */
void
co_event_notify(int64 order_id)
{
	if (co_distributed() && co_serving_citus())
	{
		co_notice_record(order_id);
		return;
	}
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
