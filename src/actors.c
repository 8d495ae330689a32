/*-------------------------------------------------------------------------
 *
 * actors.c
 *	  Who may press which button: the platform, a merchant (its own shop's
 *	  orders only) and a buyer (their own orders only).
 *
 *	  A role becomes an actor through customorder.grant_platform/merchant/
 *	  buyer(), which record it in customorder.actors.  Within a role the
 *	  application says which shop or buyer it acts for with SET LOCAL
 *	  customorder.shop_id / customorder.buyer_id (the trusted-application
 *	  pattern).  A grant may bind the role to shop or buyer ids (H5,
 *	  actors.ids): the setting must then be one of them, or every button
 *	  refuses (42501) and acting_shop_id()/acting_buyer_id() are NULL, so
 *	  row security shows nothing.  An unbound grant (ids NULL) trusts the
 *	  setting, as 1.0 did.  The buttons run SECURITY DEFINER, so the actor
 *	  is the outer role (GetOuterUserId), the one the client connected or
 *	  SET ROLE as.  Superusers act as the platform and may press every
 *	  button.
 *
 *	  Row-level security asks the same questions on every row it filters
 *	  (acts_as(), acting_shop_id(), acting_buyer_id(), order_visible()):
 *	  the answers are kept for the statement (StatementActor below).
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include <errno.h>
#include <stdlib.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(co_acts_as);
PG_FUNCTION_INFO_V1(co_acting_shop_id_sql);
PG_FUNCTION_INFO_V1(co_acting_buyer_id_sql);
PG_FUNCTION_INFO_V1(co_order_visible);


static char *shop_id_setting = NULL;
static char *buyer_id_setting = NULL;

/* customorder.shop_id / buyer_id: empty, or a positive bigint */
static bool
actor_id_check_hook(char **newval, void **extra, GucSource source)
{
	char	   *end;
	long long	id;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	errno = 0;
	id = strtoll(*newval, &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("The value must be a positive shop or buyer id, or empty.");
		return false;
	}
	return true;
}

static int64
actor_id(const char *setting)
{
	if (setting == NULL || setting[0] == '\0')
		return 0;
	return (int64) strtoll(setting, NULL, 10);
}

/* The shop a merchant session acts for (0 when not set) */
int64
co_acting_shop_id(void)
{
	return actor_id(shop_id_setting);
}

/* The buyer a buyer session acts for (0 when not set) */
int64
co_acting_buyer_id(void)
{
	return actor_id(buyer_id_setting);
}

/* customorder.shop_id and customorder.buyer_id: whom a session acts for */
void
co_define_actor_gucs(void)
{
	DefineCustomStringVariable("customorder.shop_id",
							   "The shop a merchant session acts for.",
							   "The application sets it per transaction with SET LOCAL.",
							   &shop_id_setting,
							   "",
							   PGC_USERSET,
							   0,
							   actor_id_check_hook,
							   NULL,
							   NULL);
	DefineCustomStringVariable("customorder.buyer_id",
							   "The buyer a buyer session acts for.",
							   "The application sets it per transaction with SET LOCAL.",
							   &buyer_id_setting,
							   "",
							   PGC_USERSET,
							   0,
							   actor_id_check_hook,
							   NULL,
							   NULL);
}

/*
 * Does customorder.actors have 1.1's ids column (H5)?  A 1.0 database served
 * by this library (U2) has not: its grants are all unbound.
 */
static bool
co_actors_have_ids(void)
{
	Oid			nsp = get_namespace_oid("customorder", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("actors", nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, "ids") != InvalidAttrNumber;
}

/*
 * The query of actor_kinds_planned over "relation": each grant's role, its
 * kind, and whether it lets the role act for the session's shop ($1) or
 * buyer ($2).
 */
#define ACTORS_SQL(relation) \
	"SELECT a.role::pg_catalog.oid, a.kind, " \
	"a.ids IS NULL OR CASE " \
	"WHEN a.kind OPERATOR(pg_catalog.=) 'merchant' " \
	"THEN $1 OPERATOR(pg_catalog.=) ANY (a.ids) " \
	"WHEN a.kind OPERATOR(pg_catalog.=) 'buyer' " \
	"THEN $2 OPERATOR(pg_catalog.=) ANY (a.ids) " \
	"ELSE true END " \
	"FROM " relation " a"

/*
 * The actor kinds the outer role has, as CO_WHO_* bits, and in *bound_out
 * the merchant and buyer kinds whose grants (H5) are all bound to ids that
 * leave out the shop or buyer this session acts for.  A role holds a kind
 * through any role it inherits from; one unbound grant of a kind, or one
 * whose ids hold the session's shop or buyer, lets it act.  The buttons ask
 * with plan 0, row-level security (under the caller's search_path: the SQL
 * names everything with its schema, operators included) with plan 1, so
 * neither replans the other's kept plan.  Row-level security of a
 * distributed database, which runs in the queries on the workers' shards,
 * reads this node's placement of actors (co_prepare_reference).
 */
static int
actor_kinds_planned(Oid role, int *bound_out, int which)
{
	static SPIPlanPtr plans[2];
	static SPIPlanPtr plans_1_0[2];
	static CoReferencePlan rls_plan;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int			kinds = 0;
	int			allowed = 0;
	uint64		i;

	*bound_out = 0;
	if (superuser_arg(role))
		return CO_WHO_PLATFORM | CO_WHO_SUPERUSER;

	args[0] = Int64GetDatum(co_acting_shop_id());
	args[1] = Int64GetDatum(co_acting_buyer_id());
	co_connect();
	if (co_actors_have_ids() && which == 1)
		co_execute(co_prepare_reference(&rls_plan, "actors", ACTORS_SQL("%s"),
										2, argtypes),
				   args, NULL, true, 0);
	else if (co_actors_have_ids())
		co_execute(co_prepare(&plans[which], ACTORS_SQL("customorder.actors"),
							  2, argtypes),
				   args, NULL, true, 0);
	else						/* a 1.0 database (U2): no grant is bound */
		co_execute(co_prepare(&plans_1_0[which],
							  "SELECT a.role::pg_catalog.oid, a.kind, true "
							  "FROM customorder.actors a",
							  0, NULL),
				   NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			actor = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc,
														   1, &isnull));
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2);
		bool		ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc,
													3, &isnull));
		int			bit = 0;

		if (!has_privs_of_role(role, actor))
			continue;
		if (strcmp(kind, "platform") == 0)
			bit = CO_WHO_PLATFORM;
		else if (strcmp(kind, "merchant") == 0)
			bit = CO_WHO_MERCHANT;
		else if (strcmp(kind, "buyer") == 0)
			bit = CO_WHO_BUYER;
		kinds |= bit;
		if (ok && !isnull)
			allowed |= bit;
	}
	co_finish();
	*bound_out = kinds & ~allowed;
	return kinds;
}

/* The kinds of a role and its bound kinds, as a button asks */
static int
actor_kinds_bound(Oid role, int *bound_out)
{
	return actor_kinds_planned(role, bound_out, 0);
}

static int
actor_kinds(Oid role)
{
	int			bound;

	return actor_kinds_bound(role, &bound);
}

static const char *
who_names(int who)
{
	const char *names[3];
	int			n = 0;

	if (who & CO_WHO_PLATFORM)
		names[n++] = "the platform";
	if (who & CO_WHO_MERCHANT)
		names[n++] = "the order's merchant";
	if (who & CO_WHO_BUYER)
		names[n++] = "the order's buyer";
	if (n == 3)
		return psprintf("%s, %s or %s", names[0], names[1], names[2]);
	if (n == 2)
		return psprintf("%s or %s", names[0], names[1]);
	return names[0];
}

static void
refuse_actor(const char *button, int who, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s: permission denied; only %s may press it",
					button, who_names(who)),
			 errdetail("%s", detail),
			 errhint("Grant the role with customorder.grant_platform(), grant_merchant() or grant_buyer(), and SET LOCAL customorder.shop_id or customorder.buyer_id for the transaction.")));
}

/*
 * May the current actor press "button" on an order?  "who" lists the kinds
 * of actor the button is for.  shop_id / buyer_id are the order's (or, for
 * place_order, the buyer the order is for; 0 when not applicable).
 */
void
co_authorize(const char *button, int who, int64 shop_id, int64 buyer_id)
{
	Oid			role = GetOuterUserId();
	int			bound;
	int			kinds = actor_kinds_bound(role, &bound);
	int64		acting_shop = co_acting_shop_id();
	int64		acting_buyer = co_acting_buyer_id();

	if (kinds & CO_WHO_SUPERUSER)
		return;
	if ((who & CO_WHO_PLATFORM) && (kinds & CO_WHO_PLATFORM))
		return;
	if ((who & CO_WHO_MERCHANT) && (kinds & CO_WHO_MERCHANT) &&
		!(bound & CO_WHO_MERCHANT) &&
		acting_shop > 0 && acting_shop == shop_id)
		return;
	if ((who & CO_WHO_BUYER) && (kinds & CO_WHO_BUYER) &&
		!(bound & CO_WHO_BUYER) &&
		acting_buyer > 0 && acting_buyer == buyer_id)
		return;

	if ((kinds & who & (CO_WHO_MERCHANT | CO_WHO_BUYER)) == 0)
		refuse_actor(button, who,
					 psprintf("Role \"%s\" is not %s.",
							  GetUserNameFromId(role, false), who_names(who)));
	if ((who & kinds & CO_WHO_MERCHANT) && acting_shop <= 0)
		refuse_actor(button, who, "customorder.shop_id is not set for this transaction.");
	if ((who & kinds & CO_WHO_BUYER) && acting_buyer <= 0)
		refuse_actor(button, who, "customorder.buyer_id is not set for this transaction.");

	/* H5: a bound role acts only for the shops or buyers it was granted */
	if ((who & kinds & CO_WHO_MERCHANT) && (bound & CO_WHO_MERCHANT))
		refuse_actor(button, who,
					 psprintf("Role \"%s\" is not granted shop " INT64_FORMAT ", which this session acts for.",
							  GetUserNameFromId(role, false), acting_shop));
	if ((who & kinds & CO_WHO_BUYER) && (bound & CO_WHO_BUYER) &&
		!(who & kinds & CO_WHO_MERCHANT))
		refuse_actor(button, who,
					 psprintf("Role \"%s\" is not granted buyer " INT64_FORMAT ", which this session acts for.",
							  GetUserNameFromId(role, false), acting_buyer));

	/*
	 * H6: say nothing of the order's owner, nor whether the order exists:
	 * only whom this session acts for, which it knows.
	 */
	if (who & kinds & CO_WHO_MERCHANT)
		refuse_actor(button, who,
					 psprintf("This session acts for shop " INT64_FORMAT "; the order is not one of its orders.",
							  acting_shop));
	refuse_actor(button, who,
				 psprintf("This session acts for buyer " INT64_FORMAT "; the order is not one of theirs.",
						  acting_buyer));
}

/*
 * The order's owners (shop_id, buyer_id), by a query of customorder.orders
 * as the current user, without a lock (on Citus a router query to the
 * order's shard).  False when the order does not exist.
 */
static bool
order_owners_query(int64 order_id, int64 *shop_id, int64 *buyer_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		key = Int64GetDatum(order_id);
	bool		found;
	bool		isnull;

	co_connect();
	co_prepare(&plan,
			   "SELECT o.shop_id, o.buyer_id FROM customorder.orders o "
			   "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
			   1, argtypes);
	co_execute(plan, &key, NULL, true, 1);
	found = SPI_processed == 1;
	if (found)
	{
		*shop_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
		*buyer_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
	}
	co_finish();
	return found;
}

/*
 * H6: may the current actor press "button" on order "order_id" at all?
 * Checked before anything is locked or fetched.  The platform (and a
 * superuser) may: a missing order is then the press's P0002.  A merchant or
 * buyer may only if the order is its shop's or their own, read from the
 * order's owner columns without a lock: they are fixed when the order is
 * placed (L4), so an unlocked read cannot be stale, and the press that
 * follows needs no second check on the locked row.  A missing order is
 * refused exactly like another's (42501): the answer is no oracle.
 */
void
co_authorize_order_id(const char *button, int who, int64 order_id)
{
	int			kinds = actor_kinds(GetOuterUserId());
	int64		shop_id = 0;
	int64		buyer_id = 0;

	if ((kinds & CO_WHO_SUPERUSER) || ((who & kinds) & CO_WHO_PLATFORM))
		return;
	(void) order_owners_query(order_id, &shop_id, &buyer_id);
	co_authorize(button, who, shop_id, buyer_id);
}

void
co_authorize_order(const char *button, int who, const OrderRow *order)
{
	co_authorize(button, who, DatumGetInt64(order->v[OC_SHOP_ID]),
				 DatumGetInt64(order->v[OC_BUYER_ID]));
}

/* ----------------------------------------------------------------
 *		Row-level security: the statement's actor
 * ----------------------------------------------------------------
 */

/*
 * The policies hold no subquery (a distributed table refuses one, SPEC
 * C1), so PostgreSQL calls acts_as(), acting_shop_id(), acting_buyer_id()
 * and order_visible() on every row it filters.  Their answer is kept for
 * the statement: it is computed again when the transaction, its command
 * counter (a grant or revoke_actor earlier in the transaction writes
 * actors), the statement, the outer role (SET ROLE) or the session's
 * customorder.shop_id / buyer_id differ, and forgotten when a transaction
 * or subtransaction ends in an error (what it read may be rolled back).
 * A statement is a top-level one (its start time): within it, a grant
 * committed by another session is not seen, as the policies' InitPlans of
 * 1.0 did not see one within a query.
 *
 * The functions are not SECURITY DEFINER: its search_path SET would cost a
 * GUC save and restore on every row.  They read actors as the function's
 * owner (SetUserIdAndSecContext, as the RI triggers do) with a kept plan
 * that names every object and operator with its schema, so the caller's
 * search_path cannot reach it, and orders by an index scan of their own
 * (order_owners), which no search_path or permission reaches either.
 *
 * Distributed on Citus (SPEC §12), row security runs in the query on each
 * worker's shard, as the reading role, where Citus refuses a query of a
 * Citus table of its own.  There they read this node's placement of the
 * reference table actors, and the order's shard of orders, which Citus
 * keeps on the node of every shard colocated with it (co_local_placement).
 */
typedef struct StatementActor
{
	bool		valid;
	/* the key */
	LocalTransactionId lxid;
	CommandId	cid;
	TimestampTz stmt_start;
	Oid			role;
	int64		shop_setting;
	int64		buyer_setting;
	/* the answer */
	int			kinds;			/* CO_WHO_* bits of the role */
	int64		shop;			/* acting_shop_id(), or 0 for NULL */
	int64		buyer;			/* acting_buyer_id(), or 0 for NULL */
	HTAB	   *orders;			/* order_id -> OrderSeen, this statement's */
	Oid			owner;			/* whom to read actors and orders as */
	bool		distributed;	/* on Citus (co_distributed) */
	/* customorder.orders, and the relation order_owners reads: the table or its shard */
	Oid			orders_logical;
	Oid			orders_relid;
	Oid			orders_index;
	AttrNumber	shop_attno;
	AttrNumber	buyer_attno;
} StatementActor;

typedef struct OrderSeen
{
	int64		order_id;		/* the hash key */
	bool		visible;
} OrderSeen;

/* at most this many orders remembered per statement (then forgotten) */
#define CO_MAX_ORDERS_SEEN 65536

static StatementActor stmt_actor;
static MemoryContext stmt_actor_cxt = NULL;
static bool stmt_actor_callbacks = false;

/* A transaction or subtransaction that fails takes the answer with it */
static void
stmt_actor_xact_callback(XactEvent event, void *arg)
{
	stmt_actor.valid = false;
}

static void
stmt_actor_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		stmt_actor.valid = false;
}

/*
 * The user to read actors and orders as: the SQL function's owner (the
 * extension's), whom the tables' row security does not filter.
 */
static Oid
function_owner(FunctionCallInfo fcinfo)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u",
			 fcinfo->flinfo->fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * The primary key index (order_id) of "relid", customorder.orders or, on
 * Citus, one of its shards, and the attribute numbers of shop_id and
 * buyer_id there, for order_owners: once per statement and relation (a DDL
 * in between, DROP and CREATE EXTENSION, ends the statement).  A shard's
 * attribute numbers are its own: Citus creates it without the table's
 * dropped columns.
 */
static void
order_index_resolve(StatementActor *a, Oid relid)
{
	Relation	rel;

	a->orders_index = InvalidOid;
	rel = table_open(relid, AccessShareLock);
	a->orders_relid = relid;
	a->orders_index = RelationGetPrimaryKeyIndex(rel);
	a->shop_attno = get_attnum(relid, "shop_id");
	a->buyer_attno = get_attnum(relid, "buyer_id");
	table_close(rel, NoLock);
	if (!OidIsValid(a->orders_index) || a->shop_attno == InvalidAttrNumber ||
		a->buyer_attno == InvalidAttrNumber)
		elog(ERROR, "relation %s has no primary key, shop_id or buyer_id",
			 get_rel_name(relid));
}

/*
 * The actor of this statement, computed once per statement (see above).
 * An error while reading as the owner ends the (sub)transaction, which
 * restores the user.
 */
static StatementActor *
statement_actor(FunctionCallInfo fcinfo)
{
	StatementActor *a = &stmt_actor;
	Oid			role = GetOuterUserId();
	int64		shop = co_acting_shop_id();
	int64		buyer = co_acting_buyer_id();
	CommandId	cid = GetCurrentCommandId(false);
	TimestampTz stmt_start = GetCurrentStatementStartTimestamp();
	Oid			save_user;
	int			save_sec;
	int			bound;

	if (a->valid && a->lxid == MyProc->lxid && a->cid == cid &&
		a->stmt_start == stmt_start && a->role == role &&
		a->shop_setting == shop && a->buyer_setting == buyer)
		return a;

	if (!stmt_actor_callbacks)
	{
		RegisterXactCallback(stmt_actor_xact_callback, NULL);
		RegisterSubXactCallback(stmt_actor_subxact_callback, NULL);
		stmt_actor_cxt = AllocSetContextCreate(TopMemoryContext,
											   "customorder statement actor",
											   ALLOCSET_DEFAULT_SIZES);
		stmt_actor_callbacks = true;
	}
	a->valid = false;
	a->orders = NULL;
	a->orders_logical = InvalidOid;
	a->orders_relid = InvalidOid;
	a->orders_index = InvalidOid;
	MemoryContextReset(stmt_actor_cxt);

	/*
	 * Read actors with a snapshot of this command: the planner may call the
	 * policy's functions to estimate them, under an older active snapshot
	 * that would miss a grant made earlier in the statement.
	 */
	a->owner = function_owner(fcinfo);
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(a->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PushActiveSnapshot(GetTransactionSnapshot());
	a->distributed = co_distributed();
	a->kinds = actor_kinds_planned(role, &bound, 1);
	PopActiveSnapshot();
	SetUserIdAndSecContext(save_user, save_sec);

	/* H5: an id outside the role's binding shows nothing */
	a->shop = shop > 0 && !(bound & CO_WHO_MERCHANT) ? shop : 0;
	a->buyer = buyer > 0 && !(bound & CO_WHO_BUYER) ? buyer : 0;
	a->lxid = MyProc->lxid;
	a->cid = cid;
	a->stmt_start = stmt_start;
	a->role = role;
	a->shop_setting = shop;
	a->buyer_setting = buyer;
	a->valid = true;
	return a;
}

/*
 * acts_as(kind): does the current (outer) role act as this kind of actor?
 * Used by the row-level security policies.
 */
Datum
co_acts_as(PG_FUNCTION_ARGS)
{
	int			kinds;
	char	   *kind;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	kinds = statement_actor(fcinfo)->kinds;
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(kind, "platform") == 0)
		PG_RETURN_BOOL((kinds & CO_WHO_PLATFORM) != 0);
	if (strcmp(kind, "merchant") == 0)
		PG_RETURN_BOOL((kinds & CO_WHO_MERCHANT) != 0);
	if (strcmp(kind, "buyer") == 0)
		PG_RETURN_BOOL((kinds & CO_WHO_BUYER) != 0);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("acts_as: unknown actor kind \"%s\"", kind),
			 errhint("Pass platform, merchant or buyer.")));
	PG_RETURN_BOOL(false);
}

/*
 * acting_shop_id() / acting_buyer_id(), for the row-level security
 * policies: the customorder.shop_id / buyer_id the session acts for, NULL
 * when unset or, H5, outside the ids the role is bound to, so that the
 * policies show nothing.
 */
Datum
co_acting_shop_id_sql(PG_FUNCTION_ARGS)
{
	int64		id = statement_actor(fcinfo)->shop;

	if (id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(id);
}

Datum
co_acting_buyer_id_sql(PG_FUNCTION_ARGS)
{
	int64		id = statement_actor(fcinfo)->buyer;

	if (id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(id);
}

/*
 * The order's owners (shop_id, buyer_id), read by its key from the primary
 * key index of customorder.orders: the one place row security looks an
 * order up.  An index scan of the catalog's own, not a query: no executor,
 * no permission check and no row security of the caller (it reads as the
 * extension would), a fifth of the cost of an SPI plan per row.  On Citus
 * it scans the order's shard of orders on this node: row security runs in
 * the query on a worker's shard (of orders or of a table colocated with
 * it), where Citus refuses a distributed query, and the order's shard of
 * orders is on the same node.  The relation, its index and the two columns
 * are resolved once per statement and relation.  False when the order does
 * not exist.
 */
static bool
order_owners(StatementActor *a, int64 order_id, int64 *shop_id,
			 int64 *buyer_id)
{
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	Oid			relid;
	bool		found;
	bool		isnull;

	if (!OidIsValid(a->orders_logical))
	{
		a->orders_logical = get_relname_relid("orders",
											  get_namespace_oid(CO_SCHEMA, false));
		if (!OidIsValid(a->orders_logical))
			elog(ERROR, "relation %s.orders does not exist", CO_SCHEMA);
	}
	relid = a->orders_logical;
	if (a->distributed)
	{
		relid = co_local_placement(relid, order_id);
		if (!OidIsValid(relid))
		{
			/*
			 * The order's shard is elsewhere: order_visible() called on the
			 * coordinator, never in a query on a shard, where the order's
			 * colocated shard is local.  Ask Citus, as the function's owner.
			 */
			Oid			save_user;
			int			save_sec;

			GetUserIdAndSecContext(&save_user, &save_sec);
			SetUserIdAndSecContext(a->owner,
								   save_sec | SECURITY_LOCAL_USERID_CHANGE);
			found = order_owners_query(order_id, shop_id, buyer_id);
			SetUserIdAndSecContext(save_user, save_sec);
			return found;
		}
	}
	if (relid != a->orders_relid || !OidIsValid(a->orders_index))
		order_index_resolve(a, relid);
	rel = table_open(a->orders_relid, AccessShareLock);
	idx = index_open(a->orders_index, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(order_id));
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx,
						   ActiveSnapshotSet() ? GetActiveSnapshot() :
						   GetTransactionSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		*shop_id = DatumGetInt64(slot_getattr(slot, a->shop_attno, &isnull));
		*buyer_id = DatumGetInt64(slot_getattr(slot, a->buyer_attno, &isnull));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	/* the locks stay until the transaction ends, as the executor's do */
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return found;
}

/*
 * order_visible(order_id): may the session see the rows of this order?
 * The policy of every order-scoped table (no subquery, SPEC C1), with the
 * rule of the orders policies: the platform sees every order, a merchant
 * its acting shop's, a buyer their own (H5: an id outside the role's
 * binding sees nothing).  The platform's answer needs no lookup (every
 * order-scoped row has its order: foreign keys, and events are appended
 * with their order); other answers are remembered per order for the
 * statement, so the many events or items of one order cost one lookup.
 */
Datum
co_order_visible(PG_FUNCTION_ARGS)
{
	StatementActor *a;
	OrderSeen  *seen;
	int64		order_id;
	int64		shop_id = 0;
	int64		buyer_id = 0;
	bool		visible;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	a = statement_actor(fcinfo);
	if (a->kinds & CO_WHO_PLATFORM)
		PG_RETURN_BOOL(true);
	if (!((a->kinds & CO_WHO_MERCHANT) && a->shop) &&
		!((a->kinds & CO_WHO_BUYER) && a->buyer))
		PG_RETURN_BOOL(false);

	order_id = PG_GETARG_INT64(0);
	if (a->orders == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(OrderSeen);
		ctl.hcxt = stmt_actor_cxt;
		a->orders = hash_create("customorder orders seen", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	seen = hash_search(a->orders, &order_id, HASH_FIND, NULL);
	if (seen)
		PG_RETURN_BOOL(seen->visible);

	visible = order_owners(a, order_id, &shop_id, &buyer_id) &&
		(((a->kinds & CO_WHO_MERCHANT) && a->shop && shop_id == a->shop) ||
		 ((a->kinds & CO_WHO_BUYER) && a->buyer && buyer_id == a->buyer));
	if (hash_get_num_entries(a->orders) >= CO_MAX_ORDERS_SEEN)
	{
		hash_destroy(a->orders);
		a->orders = NULL;
		PG_RETURN_BOOL(visible);
	}
	seen = hash_search(a->orders, &order_id, HASH_ENTER, NULL);
	seen->visible = visible;
	PG_RETURN_BOOL(visible);
}

/*
 * The role a trigger judges a change for: the outer role (SET ROLE
 * included, never a SECURITY DEFINER button's owner), or, for a press sent
 * from another node (citus.c), the presser's: there the trigger runs as
 * the role Citus connected as, the button's owner.
 */
static Oid
caller_role(void)
{
	const CoPress *press = co_press_current();
	Oid			role;

	if (press != NULL && press->role != NULL)
	{
		role = get_role_oid(press->role, true);
		if (OidIsValid(role))
			return role;
	}
	return GetOuterUserId();
}

/*
 * Does the calling role act as the platform (superusers do)?  A deadline
 * binds its party, never the platform (T2).
 */
bool
co_caller_is_platform(void)
{
	return (actor_kinds(caller_role()) & CO_WHO_PLATFORM) != 0;
}

/*
 * The kind of actor the calling role is, as an event records it (V1):
 * "superuser" for a superuser; else platform, merchant or buyer, the first
 * kind the role holds (a role that is no actor, e.g. the tables' owner
 * writing raw SQL, is the platform's operations).  Remembered for the
 * transaction and role: a bulk write asks once per row.
 */
const char *
co_caller_actor_kind(void)
{
	static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
	static Oid	cached_role = InvalidOid;
	static const char *cached = NULL;
	Oid			role = caller_role();
	int			kinds;

	if (cached && cached_lxid == MyProc->lxid && cached_role == role)
		return cached;
	if (superuser_arg(role))
		cached = "superuser";
	else
	{
		kinds = actor_kinds(role);
		cached = (kinds & CO_WHO_PLATFORM) ? "platform" :
			(kinds & CO_WHO_MERCHANT) ? "merchant" :
			(kinds & CO_WHO_BUYER) ? "buyer" : "platform";
	}
	cached_lxid = MyProc->lxid;
	cached_role = role;
	return cached;
}
