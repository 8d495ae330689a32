/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The deadline worker (SPEC §7 T4): a background worker that calls
 *	  customorder.run_due() in customorder.worker_database every
 *	  customorder.worker_naptime, modelled on PostgreSQL's
 *	  src/test/modules/worker_spi.
 *
 *	  It is registered only when the library is in shared_preload_libraries
 *	  and worker_database names a database.  It sleeps on its latch between
 *	  rounds, rereads the configuration on SIGHUP, exits on SIGTERM (die),
 *	  and the postmaster restarts it after a crash.  While the extension (or
 *	  its 1.1 run_due) is not installed in that database it waits quietly;
 *	  it logs at LOG only the rounds that applied something.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void co_worker_main(Datum main_arg);

static char *worker_database = NULL;
static int	worker_naptime = 1000;	/* ms */

/* How long the postmaster waits before restarting a crashed worker */
#define CO_WORKER_RESTART_SECONDS 1

/*
 * The worker's settings exist when the library is preloaded (a
 * PGC_POSTMASTER setting cannot be defined later, as with pg_cron's
 * cron.database_name); a backend that loads it later has no worker.
 */
void
co_define_worker_gucs(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("customorder.worker_database",
							   "The database whose deadlines the customorder worker applies.",
							   "Empty (the default): no worker.  Read at server start; the library must be in shared_preload_libraries.",
							   &worker_database,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("customorder.worker_naptime",
							"How long the customorder worker sleeps between rounds of run_due().",
							NULL,
							&worker_naptime,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* _PG_init: register the worker when preloaded with a database named */
void
co_register_worker(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress ||
		worker_database == NULL || worker_database[0] == '\0')
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = CO_WORKER_RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "customorder");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "co_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "customorder deadline worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "customorder deadline worker");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * One round, in its own transaction: run_due() if the extension's 1.1 is
 * installed; returns how many deadlines it applied (-1: not installed).
 */
static int
worker_round(void)
{
	int			applied = -1;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "customorder: run_due()");

	if (SPI_execute("SELECT pg_catalog.to_regprocedure('customorder.run_due(integer)') IS NOT NULL",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1, &isnull)))
	{
		if (SPI_execute("SELECT customorder.run_due()", false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "customorder worker: run_due() returned no row");
		applied = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1,
											  &isnull));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return applied;
}

void
co_worker_main(Datum main_arg)
{
	int			applied = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(worker_database, NULL, 0);
	elog(DEBUG1, "customorder deadline worker started in database \"%s\"",
		 worker_database);

	for (;;)
	{
		/* a full round (run_due's default of 1000) goes on without a nap */
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 applied >= 1000 ? 0 : worker_naptime,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		applied = worker_round();
		if (applied > 0)
			ereport(LOG,
					(errmsg("customorder: applied %d passed deadline%s in database \"%s\"",
							applied, applied == 1 ? "" : "s", worker_database)));
	}
}
