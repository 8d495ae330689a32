/*-------------------------------------------------------------------------
 *
 * citus_settings.c
 *	  C5 on Citus: customorder.clock, customorder.shop_id and
 *	  customorder.buyer_id, set on the session that started the work (SET or
 *	  SET LOCAL), apply to the work done on the workers for it: raw SQL
 *	  judged by the triggers on the shards, reads under row-level security,
 *	  customorder.now() evaluated there.
 *
 *	  Citus sends a transaction's SET LOCAL commands to the worker
 *	  connections of that transaction (and only with
 *	  citus.propagate_set_commands = 'local'), never a session-level SET, and
 *	  a single-shard statement outside a transaction block runs on the worker
 *	  in no transaction block, where a SET LOCAL would not hold.  So before a
 *	  statement runs, an ExecutorStart hook compares the three settings with
 *	  what this (sub)transaction has already sent; when they differ it makes
 *	  the transaction a coordinated one (every worker connection it uses runs
 *	  in a transaction block) and hands Citus one command that applies them
 *	  for the transaction: Citus sends it on the connections already open and
 *	  prepends it to every one opened later, as it does a client's SET LOCAL
 *	  (PostprocessVariableSetStmt).  With nothing set, nothing is sent and
 *	  the statement runs as before.
 *
 *	  The command is customorder.apply_settings(), not SET LOCAL: the clock
 *	  is a superuser's setting, Citus connects to the workers as the current
 *	  user, and a later connection of the same transaction may be another
 *	  role's (SET ROLE), where a SET LOCAL of the clock would fail.  The
 *	  function applies the clock only for a role that may set it (a
 *	  superuser, or one granted SET on customorder.clock); another's work on
 *	  a worker runs on the wall clock.
 *
 *	  V3's NOTIFY of the events a raw change appends rides on the same
 *	  command.  A press notifies from the node it was pressed on
 *	  (engine.c), but a raw change's events are appended by the triggers on
 *	  the workers, whose transaction may be prepared for two-phase commit
 *	  (which NOTIFY forbids), and the node the client is connected to does
 *	  not learn which orders they were.  So a transaction that changes an
 *	  order-scoped table outside a press carries a random token to the
 *	  workers (customorder.notice_token); each event appended there outside
 *	  a press leaves a row (order_id, token) in customorder.notices, on the
 *	  order's shard; and before this node commits, it deletes its token's
 *	  rows and notifies each order they name.  A press pays none of this.
 *
 *	  Citus's functions are looked up in citus.so by name: they are
 *	  exported, but Citus installs no headers.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"
#include "engine.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(co_apply_settings);

typedef void (*CitusUseCoordinatedTransaction) (void);
typedef void (*CitusPostprocessVariableSetStmt) (VariableSetStmt *stmt,
												 const char *command);
typedef bool (*CitusIsInternalBackend) (void);

static ExecutorStart_hook_type prev_executor_start = NULL;

/* Citus's functions, once looked up */
static CitusUseCoordinatedTransaction use_coordinated_transaction = NULL;
static CitusPostprocessVariableSetStmt send_set_command = NULL;
static CitusIsInternalBackend is_internal_backend = NULL;

/* What this backend last sent, and in which (sub)transaction */
static char *sent_command = NULL;
static LocalTransactionId sent_xact = InvalidLocalTransactionId;
static SubTransactionId sent_subxact = InvalidSubTransactionId;

/* Set while the hook itself runs queries (co_distributed) */
static bool in_settings_hook = false;

/* customorder.notice_token: a worker's, for the transaction; "" none */
static char *notice_token_setting = NULL;

/* The token this node's transaction gave the workers, and when */
static int64 notice_token = 0;
static LocalTransactionId notice_xact = InvalidLocalTransactionId;
static SubTransactionId notice_subxact = InvalidSubTransactionId;

/* The statement of a button that notifies its own order (co_notice_button) */
static LocalTransactionId upload_xact = InvalidLocalTransactionId;
static TimestampTz upload_statement = 0;

/* The text of a GUC as this session has it, "" when unset */
static const char *
setting_text(const char *name)
{
	const char *value = GetConfigOption(name, true, false);

	return value ? value : "";
}

/*
 * The command that gives a worker connection this session's settings and
 * the transaction's notice token, or NULL when there are none.  The values
 * are quoted literals of settings that their check hooks already validated
 * (a timestamp, two numbers) and a number.
 */
static char *
settings_command(void)
{
	const char *clock = setting_text("customorder.clock");
	const char *shop_id = setting_text("customorder.shop_id");
	const char *buyer_id = setting_text("customorder.buyer_id");
	bool		token = notice_xact == MyProc->lxid;

	if (clock[0] == '\0' && shop_id[0] == '\0' && buyer_id[0] == '\0' && !token)
		return NULL;
	return psprintf("SELECT customorder.apply_settings(%s, %s, %s);%s",
					quote_literal_cstr(clock), quote_literal_cstr(shop_id),
					quote_literal_cstr(buyer_id),
					token ? psprintf("SET LOCAL customorder.notice_token = '" INT64_FORMAT "';",
									 notice_token) : "");
}

/*
 * Does this statement change a table whose triggers append events, outside
 * a press (a raw change, whose events the workers append without one)?
 * Presses, and the buttons that write outside one, notify their own order.
 */
static bool
raw_change(QueryDesc *queryDesc)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;
	Oid			nsp;
	ListCell   *lc;

	if (queryDesc->operation != CMD_INSERT && queryDesc->operation != CMD_UPDATE &&
		queryDesc->operation != CMD_DELETE)
		return false;
	if (stmt == NULL || co_press_current() != NULL)
		return false;
	if (upload_xact == MyProc->lxid &&
		upload_statement == GetCurrentStatementStartTimestamp())
		return false;

	/*
	 * The tables of the statement's range table: Citus's plan of a
	 * distributed statement has no result relation, but keeps the table's
	 * entry.  (A statement that only reads one of them, changing another
	 * table, gets a token that finds no notice.)
	 */
	nsp = get_namespace_oid(CO_SCHEMA, true);
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		char	   *relname;

		if (rte->rtekind != RTE_RELATION || get_rel_namespace(rte->relid) != nsp)
			continue;
		relname = get_rel_name(rte->relid);
		if (relname != NULL &&
			(strcmp(relname, "orders") == 0 || strcmp(relname, "aftersales") == 0 ||
			 strcmp(relname, "evidence_bundles") == 0 ||
			 strcmp(relname, "evidence_items") == 0 || strcmp(relname, "refunds") == 0))
			return true;
	}
	return false;
}

/* Look Citus's functions up in citus.so (loaded: Citus is preloaded) */
static void
lookup_citus(void)
{
	if (send_set_command != NULL)
		return;
	use_coordinated_transaction = (CitusUseCoordinatedTransaction)
		load_external_function("$libdir/citus", "UseCoordinatedTransaction",
							   true, NULL);
	is_internal_backend = (CitusIsInternalBackend)
		load_external_function("$libdir/citus", "IsCitusInternalBackend",
							   true, NULL);
	send_set_command = (CitusPostprocessVariableSetStmt)
		load_external_function("$libdir/citus", "PostprocessVariableSetStmt",
							   true, NULL);
}

/*
 * Is this backend one of Citus's, serving another node's query on a
 * worker (distributed only)?  Its work belongs to that node's session.
 */
bool
co_serving_citus(void)
{
	if (!co_distributed())
		return false;
	lookup_citus();
	return is_internal_backend();
}

/*
 * Send the settings to the workers when this (sub)transaction has not
 * sent these values yet.  Not on a worker's backend serving Citus (its
 * settings came from here), not for EXPLAIN without ANALYZE.
 */
static void
send_settings(void)
{
	char	   *command;
	VariableSetStmt stmt;

	if (!co_distributed())		/* cached: one server pays a test */
		return;
	command = settings_command();
	if (command == NULL && sent_xact != MyProc->lxid)
		return;					/* nothing set, nothing sent */
	if (sent_xact == MyProc->lxid &&
		sent_subxact == GetCurrentSubTransactionId() &&
		strcmp(command ? command : "", sent_command ? sent_command : "") == 0)
		return;
	if (co_serving_citus())
		return;
	if (command == NULL)		/* all three reset in this transaction */
		command = pstrdup("SELECT customorder.apply_settings('', '', '');");
	memset(&stmt, 0, sizeof(stmt));
	stmt.type = T_VariableSetStmt;
	stmt.kind = VAR_SET_VALUE;
	stmt.name = "customorder.clock";
	stmt.is_local = true;
	use_coordinated_transaction();
	send_set_command(&stmt, command);
	if (sent_command)
		pfree(sent_command);
	sent_command = MemoryContextStrdup(TopMemoryContext, command);
	sent_xact = MyProc->lxid;
	sent_subxact = GetCurrentSubTransactionId();
}

static void
settings_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (!in_settings_hook && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
		IsTransactionState())
	{
		in_settings_hook = true;
		PG_TRY();
		{
			if (notice_xact != MyProc->lxid && co_distributed() &&
				raw_change(queryDesc) && !co_serving_citus())
			{
				/* a token unlikely to be another transaction's */
				if (!pg_strong_random(&notice_token, sizeof(notice_token)))
					notice_token = (int64) GetCurrentTimestamp() ^ MyProcPid;
				notice_xact = MyProc->lxid;
				notice_subxact = GetCurrentSubTransactionId();
			}
			send_settings();
		}
		PG_FINALLY();
		{
			in_settings_hook = false;
		}
		PG_END_TRY();
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * Before this node commits a transaction that gave the workers a token:
 * delete the token's notices (their events are committed with them) and
 * notify each order they name (V3).  Runs before Citus's own pre-commit
 * (its callback was registered first, and callbacks run newest first), so
 * the DELETE is one more statement of the distributed transaction.
 */
static void
notices_xact_callback(XactEvent event, void *arg)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	uint64		r;
	bool		isnull;

	if (notice_xact != MyProc->lxid)
		return;
	if (event != XACT_EVENT_PRE_COMMIT)
	{
		if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT)
			notice_xact = InvalidLocalTransactionId;
		return;
	}
	notice_xact = InvalidLocalTransactionId;
	values[0] = Int64GetDatum(notice_token);
	PushActiveSnapshot(GetTransactionSnapshot());	/* none at commit */
	co_connect();
	co_execute(co_prepare(&plan,
						  "DELETE FROM customorder.notices n "
						  "WHERE n.token OPERATOR(pg_catalog.=) $1 RETURNING n.order_id",
						  1, argtypes),
			   values, NULL, false, 0);
	for (r = 0; r < SPI_processed; r++)
		Async_Notify("customorder_events",
					 psprintf(INT64_FORMAT,
							  DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
														  SPI_tuptable->tupdesc,
														  1, &isnull))));
	co_finish();
	PopActiveSnapshot();
}

/*
 * A subtransaction that gave the workers the token rolls back: so do the
 * notices its statements left, and the token is dropped (a later raw
 * change draws another), so that commit runs no DELETE for it.  One that
 * commits hands the token to its parent.
 */
static void
notices_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (notice_xact != MyProc->lxid || mySubid != notice_subxact)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		notice_xact = InvalidLocalTransactionId;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		notice_subxact = parentSubid;
}

/*
 * Worker side: an event of order "order_id" was appended outside a press;
 * with the transaction's token, leave the notice its coordinator reads.
 */
void
co_notice_record(int64 order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];

	if (notice_token_setting == NULL || notice_token_setting[0] == '\0' ||
		co_press_current() != NULL)
		return;
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(pg_strtoint64(notice_token_setting));
	co_connect();
	co_execute(co_prepare(&plan,
						  "INSERT INTO customorder.notices (order_id, token) VALUES ($1, $2)",
						  2, argtypes),
			   values, NULL, false, 0);
	co_finish();
}

/*
 * A button writes order "order_id"'s rows outside a press in this
 * statement (an evidence upload, a verdict): it notifies that order itself,
 * so those writes are no raw change.  Distributed only.
 */
void
co_notice_button(int64 order_id)
{
	upload_xact = MyProc->lxid;
	upload_statement = GetCurrentStatementStartTimestamp();
	Async_Notify("customorder_events", psprintf(INT64_FORMAT, order_id));
}

/* customorder.notice_token (_PG_init, before the prefix is reserved) */
void
co_define_settings_gucs(void)
{
	DefineCustomStringVariable("customorder.notice_token",
							   "The token of the transaction's raw changes (Citus; set by the coordinator).",
							   NULL,
							   &notice_token_setting,
							   "",
							   PGC_USERSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
}

/* Install the hook and the commit callback (_PG_init) */
void
co_install_settings_hook(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = settings_executor_start;
	RegisterXactCallback(notices_xact_callback, NULL);
	RegisterSubXactCallback(notices_subxact_callback, NULL);
}

/* Apply one setting for this transaction; an empty value resets it */
static void
apply_one(const char *name, text *value)
{
	char	   *str = text_to_cstring(value);

	(void) set_config_option(name, str[0] ? str : NULL,
							 superuser() ? PGC_SUSET : PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * customorder.apply_settings(clock, shop_id, buyer_id): the command the
 * hook above sends to a worker connection.  The same as SET LOCAL of each,
 * except that the clock is left alone for a role that may not set it (a
 * superuser's setting, clock.c, unless granted SET on it): the session
 * that set it may since have switched to that role.
 */
Datum
co_apply_settings(PG_FUNCTION_ARGS)
{
	int			argno;

	for (argno = 0; argno < 3; argno++)
		if (PG_ARGISNULL(argno))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("apply_settings: every argument must be given"),
					 errhint("Pass '' for a setting that is not set.")));
	if (superuser() ||
		pg_parameter_aclcheck("customorder.clock", GetUserId(), ACL_SET) == ACLCHECK_OK)
		apply_one("customorder.clock", PG_GETARG_TEXT_PP(0));
	apply_one("customorder.shop_id", PG_GETARG_TEXT_PP(1));
	apply_one("customorder.buyer_id", PG_GETARG_TEXT_PP(2));
	PG_RETURN_VOID();
}
