/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The one clock every rule reads, customorder.now(), and its GUC.
 *
 *	  customorder.clock is PGC_SUSET: only a superuser may move time (tests
 *	  do).  The "customorder" prefix is reserved, so an ordinary role cannot
 *	  plant a placeholder that would take effect when the library loads.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "access/xact.h"
#include <errno.h>
#include <stdlib.h>
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(co_now_sql);

static char *clock_setting = NULL;
static bool clock_is_set = false;
static TimestampTz clock_value = 0;

static bool
clock_check_hook(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nfields;
	int			dtype;
	int			tz;
	struct pg_tm tm;
	fsec_t		fsec;
	TimestampTz parsed;
	TimestampTz *result;
	int			dterr;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	/* the parsing steps of timestamptz_in, without throwing */
	dterr = ParseDateTime(*newval, workbuf, sizeof(workbuf),
						  field, ftype, MAXDATEFIELDS, &nfields);
	if (dterr == 0)
		dterr = DecodeDateTime(field, ftype, nfields, &dtype, &tm, &fsec, &tz);
	if (dterr != 0 || dtype != DTK_DATE ||
		tm2timestamp(&tm, fsec, &tz, &parsed) != 0)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("customorder.clock must be a finite timestamptz, or empty for the wall clock.");
		return false;
	}

	result = (TimestampTz *) malloc(sizeof(TimestampTz));
	if (result == NULL)
		return false;
	*result = parsed;
	*extra = result;
	return true;
}

static void
clock_assign_hook(const char *newval, void *extra)
{
	if (extra == NULL)
	{
		clock_is_set = false;
		return;
	}
	clock_is_set = true;
	clock_value = *(TimestampTz *) extra;
}

/* customorder.clock, PGC_SUSET, and the reserved prefix */
void
co_define_clock_guc(void)
{
	DefineCustomStringVariable("customorder.clock",
							   "Overrides customorder.now() (superuser only; for tests).",
							   "Empty means the wall clock (clock_timestamp()).",
							   &clock_setting,
							   "",
							   PGC_SUSET,
							   0,
							   clock_check_hook,
							   clock_assign_hook,
							   NULL);
	MarkGUCPrefixReserved("customorder");
}

/*
 * The time of every rule: the wall clock when it is asked (H1: holding a
 * transaction open stretches no window and backdates no stamp), unless a
 * superuser has set customorder.clock.  Stamps take the later of this and
 * the order's latest stamp (co_order_stamp, H2).
 */
TimestampTz
co_now(void)
{
	if (clock_is_set)
		return clock_value;
	return GetCurrentTimestamp();
}

/* customorder.clock as set, or NULL when rules read the wall clock */
const char *
co_clock_setting(void)
{
	return clock_is_set ? clock_setting : NULL;
}

Datum
co_now_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(co_now());
}
