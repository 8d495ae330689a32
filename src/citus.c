/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  Running distributed on Citus (SPEC §12): whether this database is, and
 *	  how a button's press reaches the trigger that judges it on a worker.
 *
 *	  On one server a button declares its press in a static variable and
 *	  the row's trigger, in the same backend, reads it (engine.c).  On
 *	  Citus the button runs on the coordinator (or whichever node the
 *	  client is connected to) and the trigger on the worker that holds the
 *	  order's shard, in another backend.  So a button of a distributed
 *	  database first inserts its press into customorder.presses, which is
 *	  colocated with orders: Citus routes that insert to the order's shard
 *	  over the same connection, in the same transaction, as the button's
 *	  write that follows.  The presses trigger there (a BEFORE INSERT
 *	  trigger that stores nothing) declares the press in that backend, for
 *	  that one row and the one statement that writes it.  Only the
 *	  extension's owner may insert into presses, so a raw statement cannot
 *	  forge a press; the press carries what the worker cannot know: the
 *	  calling role (events' actor_role, V1) and customorder.clock (C5).
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"
#include "engine.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(co_press_arrives);

/* Is customorder.orders a Citus table?  -1: not known yet */
static int	distributed = -1;
static bool invalidation_registered = false;

/* The press a presses row declared in this backend, and its statement */
static CoPress remote_press = {NULL};
static char remote_button[NAMEDATALEN];
static char remote_role[NAMEDATALEN];
static TimestampTz remote_statement = 0;	/* 0: not used yet */
static LocalTransactionId remote_xact = InvalidLocalTransactionId;

/* The button whose evidence upload a presses row declared, and its xact */
#define CO_UPLOAD "upload"
static char upload_button[NAMEDATALEN];
static LocalTransactionId upload_xact = InvalidLocalTransactionId;

/*
 * The shards of one Citus table and, for those placed on this node, their
 * relation here.  A hash-distributed table's bigint key is hashed with
 * hashint8 into the int32 ranges of its shards; a reference table has one
 * shard, without a range.
 */
typedef struct ShardRange
{
	bool		whole;			/* no range: a reference table's one shard */
	int32		min;
	int32		max;
	Oid			relid;			/* InvalidOid: not placed on this node */
} ShardRange;

typedef struct ShardMap
{
	Oid			logical;		/* the Citus table */
	int			nshards;
	ShardRange *shards;
} ShardMap;

#define CO_MAX_SHARD_MAPS 8
static ShardMap shard_maps[CO_MAX_SHARD_MAPS];
static int	nshard_maps = 0;

/*
 * Forget whether orders is distributed, and where the shards are, when a
 * relcache entry changes: Citus invalidates a table's entry when it
 * distributes it or moves, splits or drops one of its shards, and a
 * dropped shard invalidates its own.
 */
static void
distributed_invalidate(Datum arg, Oid relid)
{
	int			i;

	distributed = -1;
	for (i = 0; i < nshard_maps; i++)
		if (shard_maps[i].shards)
			pfree(shard_maps[i].shards);
	nshard_maps = 0;
}

static void
register_invalidation(void)
{
	if (!invalidation_registered)
	{
		CacheRegisterRelcacheCallback(distributed_invalidate, (Datum) 0);
		invalidation_registered = true;
	}
}

/*
 * Is this database distributed by customorder.distribute()?  Citus
 * invalidates a table's relcache entry when it distributes it, so the
 * answer is cached until then.
 */
bool
co_distributed(void)
{
	Oid			nsp;
	Oid			orders;

	if (distributed >= 0)
		return distributed == 1;
	register_invalidation();
	distributed = 0;
	nsp = get_namespace_oid(CO_SCHEMA, true);
	orders = OidIsValid(nsp) ? get_relname_relid("orders", nsp) : InvalidOid;
	if (OidIsValid(orders) && OidIsValid(get_extension_oid("citus", true)))
	{
		static SPIPlanPtr plan = NULL;
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1];

		values[0] = ObjectIdGetDatum(orders);
		co_connect();
		co_prepare(&plan,
				   "SELECT 1 FROM pg_catalog.pg_dist_partition "
				   "WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
				   1, argtypes);
		if (co_execute(plan, values, NULL, true, 1) > 0 && SPI_processed > 0)
			distributed = 1;
		co_finish();
	}
	return distributed == 1;
}

/*
 * Read the shards of "logical" from Citus's metadata (pg_dist_shard, a
 * catalog of every node that has metadata) into a new map.  A shard is on
 * this node when its relation (the table's name and the shard id, Citus's
 * shard_name()) exists here.
 */
static ShardMap *
load_shard_map(Oid logical)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	ShardMap   *map;
	ShardRange *shards;
	int			nshards;
	uint64		i;

	values[0] = ObjectIdGetDatum(logical);
	co_connect();
	co_prepare(&plan,
			   "SELECT s.shardminvalue::pg_catalog.int4, "
			   " s.shardmaxvalue::pg_catalog.int4, "
			   " pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid)) "
			   "FROM pg_catalog.pg_dist_shard s "
			   "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1",
			   1, argtypes);
	co_execute(plan, values, NULL, true, 0);
	nshards = (int) SPI_processed;
	shards = MemoryContextAllocZero(TopMemoryContext,
									sizeof(ShardRange) * Max(nshards, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		minnull;
		bool		maxnull;
		bool		relnull;
		Datum		min = SPI_getbinval(tup, desc, 1, &minnull);
		Datum		max = SPI_getbinval(tup, desc, 2, &maxnull);
		Datum		relid = SPI_getbinval(tup, desc, 3, &relnull);

		shards[i].whole = minnull || maxnull;
		shards[i].min = minnull ? 0 : DatumGetInt32(min);
		shards[i].max = maxnull ? 0 : DatumGetInt32(max);
		shards[i].relid = relnull ? InvalidOid : DatumGetObjectId(relid);
	}
	co_finish();

	/* (an invalidation while reading emptied the maps: nshard_maps is 0) */
	if (nshard_maps == CO_MAX_SHARD_MAPS)
		distributed_invalidate((Datum) 0, InvalidOid);
	map = &shard_maps[nshard_maps++];
	map->logical = logical;
	map->nshards = nshards;
	map->shards = shards;
	return map;
}

/*
 * The index in the shard map of "logical" (*map, when not NULL) of the shard
 * whose range holds "key"'s hash, or of a reference table's one shard; -1
 * when there is none.
 */
static int
shard_index(Oid logical, int64 key, ShardMap **map)
{
	ShardMap   *m = NULL;
	int32		hash;
	int			i;

	register_invalidation();
	for (i = 0; i < nshard_maps && m == NULL; i++)
		if (shard_maps[i].logical == logical)
			m = &shard_maps[i];
	if (m == NULL)
		m = load_shard_map(logical);
	if (map)
		*map = m;
	if (m->nshards == 1 && m->shards[0].whole)
		return 0;
	hash = DatumGetInt32(DirectFunctionCall1(hashint8, Int64GetDatum(key)));
	for (i = 0; i < m->nshards; i++)
		if (!m->shards[i].whole &&
			hash >= m->shards[i].min && hash <= m->shards[i].max)
			return i;
	return -1;
}

/*
 * The relation on this node that holds "key"'s rows of the Citus table
 * "logical": for a hash-distributed table the shard whose range holds the
 * key's hash, for a reference table its one shard (key unused).
 * InvalidOid when that shard is not placed on this node, or "logical" has
 * no shards (not a Citus table).
 *
 * A query that runs on a shard (the row-level security of a worker's shard,
 * actors.c) may not run a distributed query of its own: Citus refuses one
 * there.  It reads the shard of the same key instead, which Citus keeps on
 * the same node (colocation), as a plain table.  The caller checks that the
 * database is distributed (co_distributed).
 */
Oid
co_local_placement(Oid logical, int64 key)
{
	ShardMap   *map;
	int			shard = shard_index(logical, key, &map);

	return shard < 0 ? InvalidOid : map->shards[shard].relid;
}

/*
 * The shard of the Citus table "logical" that holds "key"'s rows, as an
 * index that tells shards apart: two keys of the same index are in one
 * shard, so a statement that names only those keys in every reference to
 * the table (and its colocated tables) is a router statement.  -1 when no
 * shard's range holds the key's hash, or "logical" has no shards.  The
 * caller checks that the database is distributed (co_distributed).
 */
int
co_shard_of(Oid logical, int64 key)
{
	return shard_index(logical, key, NULL);
}

/*
 * The kept plan of "sql", a query of the reference table customorder.<table>
 * which "sql" names by its one "%s" (and holds no other "%").  Distributed,
 * it reads this node's placement of the table, when there is one, as a
 * plain table.  A trigger on a worker's shard, or row-level security there,
 * would otherwise send Citus's query of it, which Citus refuses inside a
 * query on a shard, or for a row lock (FOR SHARE) locks the rows of every
 * placement through other connections of the same distributed transaction,
 * which a second press of one statement then waits for (a distributed
 * deadlock).  A placement holds every row of its table, and Citus writes
 * every placement, this one included, in the writing transaction, so the
 * placement's rows and locks are the table's.  The caller is connected to
 * SPI.
 */
SPIPlanPtr
co_prepare_reference(CoReferencePlan *p, const char *table, const char *sql,
					 int nargs, const Oid *argtypes)
{
	if (co_distributed())
	{
		Oid			logical = get_relname_relid(table,
												get_namespace_oid(CO_SCHEMA, false));
		Oid			placement = OidIsValid(logical) ?
			co_local_placement(logical, 0) : InvalidOid;

		if (OidIsValid(placement))
		{
			if (p->placement != NULL && p->placement_relid != placement)
			{
				SPI_freeplan(p->placement);
				p->placement = NULL;
			}
			if (p->placement == NULL)
			{
				char	   *relname = get_rel_name(placement);

				if (relname == NULL)
					elog(ERROR, "cache lookup failed for relation %u", placement);
				co_prepare(&p->placement,
						   psprintf(sql, quote_qualified_identifier(CO_SCHEMA, relname)),
						   nargs, argtypes);
				p->placement_relid = placement;
			}
			return p->placement;
		}
	}
	if (p->table == NULL)
		co_prepare(&p->table,
				   psprintf(sql, quote_qualified_identifier(CO_SCHEMA, table)),
				   nargs, argtypes);
	return p->table;
}

/*
 * The identity sequence of customorder.<table>.<column>.  A trigger asks
 * by name, not by its own relation: on Citus that relation is a shard,
 * which has no identity (the table's sequence is this node's, C4).
 */
Oid
co_identity_sequence(const char *table, const char *column)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid(CO_SCHEMA, false));
	AttrNumber	attnum;

	if (!OidIsValid(relid))
		elog(ERROR, "customorder.%s does not exist", table);
	attnum = get_attnum(relid, column);
	if (attnum == InvalidAttrNumber)
		elog(ERROR, "customorder.%s has no column %s", table, column);
	return getIdentitySequence(relid, attnum, false);
}

/* One router INSERT into presses, to the order's shard */
static void
presses_insert(int64 order_id, int64 id, const char *machine, int action,
			   const char *button, int who)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[8] = {INT8OID, INT8OID, TEXTOID, INT4OID, TEXTOID,
	INT4OID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *clock = co_clock_setting();

	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(id);
	values[2] = CStringGetTextDatum(machine);
	values[3] = Int32GetDatum((int32) action);
	values[4] = CStringGetTextDatum(button);
	values[5] = Int32GetDatum(who);
	values[6] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	values[7] = clock ? CStringGetTextDatum(clock) : (Datum) 0;
	nulls[7] = clock ? ' ' : 'n';
	co_prepare(&plan,
			   "INSERT INTO customorder.presses "
			   "(order_id, id, machine, action, button, who, role, clock) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			   8, argtypes);
	co_execute(plan, values, nulls, false, 0);
}

/*
 * Send the press to the order's shard (coordinator side): one router
 * INSERT into presses, ahead of the button's own write.  The caller is
 * connected to SPI.
 */
void
co_press_send(const CoPress *press)
{
	presses_insert(press->order_id, press->id, press->machine->name,
				   (int) press->action, press->button, press->who);
}

/*
 * A button's evidence upload (a bundle and its items, written by plain
 * statements rather than one press) on a distributed database: declare it
 * on the order's shard first, so that the triggers there stamp with the
 * caller's clock (C5) and name the button in their messages, as on one
 * server.  The declaration holds for the rest of that transaction there.
 * Nothing on one server.  The caller is connected to SPI.
 */
void
co_upload_send(int64 order_id, const char *button)
{
	if (co_distributed())
	{
		presses_insert(order_id, 0, CO_UPLOAD, 0, button, 0);
		co_notice_button(order_id);
	}
}

/*
 * The button whose evidence upload this backend's transaction writes on
 * behalf of (worker side, see co_upload_send), or NULL.
 */
const char *
co_upload_button(void)
{
	return upload_xact == MyProc->lxid ? upload_button : NULL;
}

/* The text of column "name" of a presses row, or NULL */
static char *
press_text(HeapTuple tuple, TupleDesc desc, const char *name)
{
	int			attno = SPI_fnumber(desc, name);

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("customorder.presses has no column \"%s\"", name)));
	return SPI_getvalue(tuple, desc, attno);
}

/*
 * presses BEFORE INSERT (worker side): apply the caller's clock to this
 * transaction, declare the press in this backend for the next statement
 * (or an evidence upload for the transaction, co_upload_send), and store
 * nothing.
 */
Datum
co_press_arrives(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "press_arrives",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	HeapTuple	tuple = trigdata->tg_trigtuple;
	TupleDesc	desc = trigdata->tg_relation->rd_att;
	const CoMachine *machine;
	char	   *text;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("customorder.presses is written by the buttons only"),
				 errhint("Press the button (a customorder function) instead.")));
	text = press_text(tuple, desc, "clock");
	if (text != NULL)
		(void) set_config_option("customorder.clock", text, PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
								 false);
	if (strcmp(press_text(tuple, desc, "machine"), CO_UPLOAD) == 0)
	{
		strlcpy(upload_button, press_text(tuple, desc, "button"), NAMEDATALEN);
		upload_xact = MyProc->lxid;
		return PointerGetDatum(NULL);
	}
	machine = co_machine_by_name(press_text(tuple, desc, "machine"));
	if (machine == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("customorder.presses: unknown machine")));
	remote_press.machine = machine;
	remote_press.order_id = pg_strtoint64(press_text(tuple, desc, "order_id"));
	remote_press.id = pg_strtoint64(press_text(tuple, desc, "id"));
	remote_press.action = (CoAction) pg_strtoint32(press_text(tuple, desc, "action"));
	remote_press.who = pg_strtoint32(press_text(tuple, desc, "who"));
	strlcpy(remote_button, press_text(tuple, desc, "button"), NAMEDATALEN);
	strlcpy(remote_role, press_text(tuple, desc, "role"), NAMEDATALEN);
	remote_press.button = remote_button;
	remote_press.role = remote_role;
	remote_statement = 0;
	remote_xact = MyProc->lxid;
	return PointerGetDatum(NULL);
}

/*
 * The press a presses row declared for this row of machine m (worker
 * side), or NULL.  The first statement that writes the row uses it up: a
 * later statement of the transaction, a raw one included, has none.
 */
const CoPress *
co_press_remote(const CoMachine *m, int64 order_id, int64 id)
{
	TimestampTz statement = GetCurrentStatementStartTimestamp();

	if (remote_press.machine != m || remote_press.order_id != order_id ||
		remote_press.id != id || remote_xact != MyProc->lxid)
		return NULL;
	if (remote_statement == 0)
		remote_statement = statement;
	else if (remote_statement != statement)
		return NULL;
	return &remote_press;
}

/*
 * The press the statement running in this backend is writing on behalf
 * of, once its row has used it (what its follow-ups and events record).
 */
const CoPress *
co_press_remote_current(void)
{
	if (remote_press.machine == NULL || remote_xact != MyProc->lxid ||
		remote_statement != GetCurrentStatementStartTimestamp())
		return NULL;
	return &remote_press;
}
