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
 *	  Citus's functions are looked up in citus.so by name: they are
 *	  exported, but Citus installs no headers.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"
#include "engine.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

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

/* The text of a GUC as this session has it, "" when unset */
static const char *
setting_text(const char *name)
{
	const char *value = GetConfigOption(name, true, false);

	return value ? value : "";
}

/*
 * The command that gives a worker connection this session's settings, or
 * NULL when none is set.  The values are quoted literals of settings that
 * their check hooks already validated (a timestamp, two numbers).
 */
static char *
settings_command(void)
{
	const char *clock = setting_text("customorder.clock");
	const char *shop_id = setting_text("customorder.shop_id");
	const char *buyer_id = setting_text("customorder.buyer_id");

	if (clock[0] == '\0' && shop_id[0] == '\0' && buyer_id[0] == '\0')
		return NULL;
	return psprintf("SELECT customorder.apply_settings(%s, %s, %s);",
					quote_literal_cstr(clock), quote_literal_cstr(shop_id),
					quote_literal_cstr(buyer_id));
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

/* Install the hook (_PG_init) */
void
co_install_settings_hook(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = settings_executor_start;
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
