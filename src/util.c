/*-------------------------------------------------------------------------
 *
 * util.c
 *	  SPI helpers (kept plans, permits), enum state conversions, argument
 *	  checks and refusals shared by every part of customorder.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

const char *const co_order_state_names[OS_COUNT] = {
	"paid", "awaiting_evidence", "evidence_review", "in_production",
	"shipped", "signed", "cancelled", "refunded"
};

const char *const co_case_state_names[CS_COUNT + 1] = {
	"instant_refunded", "requested", "rejecting", "communicating",
	"negotiating", "awaiting_buyer_evidence", "awaiting_return",
	"return_shipped", "arbitration", "refunded", "rejected",
	"closed_by_shipment", "withdrawn", "lapsed", "upheld", "(none)"
};

const char *const co_action_names[ACT_COUNT] = {
	"place_order", "start_customization", "submit_custom_evidence",
	"review_evidence(approve)", "review_evidence(reject)", "ship",
	"mark_signed", "request_refund", "withdraw_refund", "agree_refund",
	"insist_reject", "communicate", "continue_reject", "insist_ship",
	"propose_refund_amount", "accept_refund_amount",
	"decline_refund_amount", "supplement_evidence", "open_bundle",
	"add_item", "submit_bundle", "lapse", "make_final", "mark_late",
	"decide_refund", "refund_succeeded", "refund_failed", "retry_refund",
	"ship_return", "confirm_return", "refuse_return", "escalate",
	"submit_arbitration_evidence", "arbitrate"
};

CoPermit	co_permit = {PERMIT_NONE, 0};

/*
 * Enum OIDs of the two state types, looked up once per backend and forgotten
 * when pg_type changes (DROP/CREATE EXTENSION in the same session).
 */
typedef struct EnumCache
{
	bool		valid;
	Oid			typid;
	int			nlabels;
	Oid			label_oids[CS_COUNT];
} EnumCache;

static EnumCache order_state_cache;
static EnumCache case_state_cache;
static bool enum_callback_registered = false;

static void
enum_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	order_state_cache.valid = false;
	case_state_cache.valid = false;
}

/*
 * The labels whose bit is set in "optional" are new in 1.1: a 1.0 database
 * lacks them (U2) and their OID stays invalid until the update adds them.
 */
static void
enum_cache_fill(EnumCache *cache, const char *typname,
				const char *const *labels, int nlabels, uint32 optional)
{
	Oid			nspid;
	int			i;

	if (cache->valid)
		return;
	if (!enum_callback_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, enum_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMOID, enum_cache_reset, (Datum) 0);
		enum_callback_registered = true;
	}
	nspid = get_namespace_oid(CO_SCHEMA, false);
	cache->typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								   CStringGetDatum(typname),
								   ObjectIdGetDatum(nspid));
	if (!OidIsValid(cache->typid))
		elog(ERROR, "type %s.%s does not exist", CO_SCHEMA, typname);
	for (i = 0; i < nlabels; i++)
	{
		cache->label_oids[i] = GetSysCacheOid2(ENUMTYPOIDNAME,
											   Anum_pg_enum_oid,
											   ObjectIdGetDatum(cache->typid),
											   CStringGetDatum(labels[i]));
		if (!OidIsValid(cache->label_oids[i]) &&
			!(optional & (((uint32) 1) << i)))
			elog(ERROR, "enum %s.%s has no label \"%s\"",
				 CO_SCHEMA, typname, labels[i]);
	}
	cache->nlabels = nlabels;
	cache->valid = true;
}

Oid
co_order_state_type(void)
{
	enum_cache_fill(&order_state_cache, "order_state",
					co_order_state_names, OS_COUNT, 0);
	return order_state_cache.typid;
}

Oid
co_case_state_type(void)
{
	enum_cache_fill(&case_state_cache, "aftersale_state",
					co_case_state_names, CS_COUNT,
					(1 << CS_AWAITING_RETURN) | (1 << CS_RETURN_SHIPPED) |
					(1 << CS_ARBITRATION) | (1 << CS_LAPSED) | (1 << CS_UPHELD));
	return case_state_cache.typid;
}

Datum
co_order_state_datum(OrderState state)
{
	Assert(state >= 0 && state < OS_COUNT);
	co_order_state_type();
	return ObjectIdGetDatum(order_state_cache.label_oids[state]);
}

OrderState
co_order_state_from_datum(Datum d)
{
	Oid			label = DatumGetObjectId(d);
	int			i;

	co_order_state_type();
	for (i = 0; i < OS_COUNT; i++)
		if (order_state_cache.label_oids[i] == label)
			return (OrderState) i;
	elog(ERROR, "unknown order state oid %u", label);
	return OS_PAID;				/* keep compiler quiet */
}

Datum
co_case_state_datum(CaseState state)
{
	Assert(state >= 0 && state < CS_COUNT);
	co_case_state_type();
	if (!OidIsValid(case_state_cache.label_oids[state]))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("after-sale state %s needs customorder 1.1",
						co_case_state_names[state]),
				 errhint("ALTER EXTENSION customorder UPDATE.")));
	return ObjectIdGetDatum(case_state_cache.label_oids[state]);
}

CaseState
co_case_state_from_datum(Datum d)
{
	Oid			label = DatumGetObjectId(d);
	int			i;

	co_case_state_type();
	for (i = 0; i < CS_COUNT; i++)
		if (case_state_cache.label_oids[i] == label)
			return (CaseState) i;
	elog(ERROR, "unknown after-sale state oid %u", label);
	return CS_REQUESTED;		/* keep compiler quiet */
}

int
co_lookup_label(const char *const *labels, int nlabels, const char *value)
{
	int			i;

	for (i = 0; i < nlabels; i++)
		if (strcmp(labels[i], value) == 0)
			return i;
	return -1;
}

/*
 * Prepare a plan once per backend and keep it.  The SQL text is a constant
 * of the caller's; values always travel as parameters.
 */
SPIPlanPtr
co_prepare(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*cache != NULL)
		return *cache;
	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	*cache = plan;
	return plan;
}

int
co_execute(SPIPlanPtr plan, const Datum *values, const char *nulls,
		   bool read_only, long count)
{
	int			ret;

	ret = SPI_execute_plan(plan, (Datum *) values, nulls, read_only, count);
	if (ret < 0)
		elog(ERROR, "SPI_execute_plan failed: %s",
			 SPI_result_code_string(ret));
	return ret;
}

/*
 * Run a statement that changes another row of the same order under a permit
 * that the target table's trigger recognises.  The permit is restored on any
 * exit, error included.
 */
int
co_execute_permitted(CoPermitKind kind, int64 order_id, SPIPlanPtr plan,
					 const Datum *values, const char *nulls, long count)
{
	CoPermit	saved = co_permit;
	int			ret;

	co_permit.kind = kind;
	co_permit.order_id = order_id;
	PG_TRY();
	{
		ret = co_execute(plan, values, nulls, false, count);
	}
	PG_FINALLY();
	{
		co_permit = saved;
	}
	PG_END_TRY();
	return ret;
}

void
co_connect(void)
{
	int			ret = SPI_connect();

	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
}

void
co_finish(void)
{
	int			ret = SPI_finish();

	if (ret != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));
}

char *
co_timestamptz_str(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out,
											   TimestampTzGetDatum(t)));
}

char *
co_interval_str(Datum interval)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, interval));
}

char *
co_numeric_str(Datum num)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, num));
}

/*
 * Helpers are not STRICT: a NULL where a value is required is an error.
 */
void
co_require_arg(FunctionCallInfo fcinfo, int argno, const char *button,
			   const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s: %s must not be null", button, argname),
				 errhint("Pass a value for %s.", argname)));
}

char *
co_text_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * Money arguments: a finite number (22023 for NaN or infinity) and, where it
 * becomes an amount column, one that fits numeric(12,2).
 */
void
co_check_money(Datum amount, const char *button, const char *argname,
			   bool must_fit_column)
{
	Numeric		num = DatumGetNumeric(amount);

	if (numeric_is_nan(num) || numeric_is_inf(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be a finite amount", button, argname),
				 errdetail("%s is %s.", argname, co_numeric_str(amount)),
				 errhint("Pass an amount of money with at most two decimals.")));
	if (must_fit_column &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  DirectFunctionCall1(numeric_abs,
															  DirectFunctionCall2(numeric_round, amount,
																				  Int32GetDatum(2))),
										  DirectFunctionCall1(int8_numeric,
															  Int64GetDatum(INT64CONST(10000000000))))) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s is too large", button, argname),
				 errdetail("%s is %s; amounts are numeric(12,2), below 10000000000.", argname,
						   co_numeric_str(amount)),
				 errhint("Pass the amount actually paid.")));
	/* the column would round it silently: money has two decimals */
	if (must_fit_column &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount,
										  DirectFunctionCall2(numeric_round, amount,
															  Int32GetDatum(2)))) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s has more than two decimals", button, argname),
				 errdetail("%s is %s.", argname, co_numeric_str(amount)),
				 errhint("Pass an amount of money with at most two decimals.")));
}

/*
 * Shipping needs a tracking number: NULL is 22004, empty is 22023.  Shared by
 * ship (the order's guard) and insist_ship (the case's guard).
 */
CoRefusal *
co_tracking_refusal(const char *button, const char *rule, bool isnull,
					Datum tracking_no, const char *detail_if_missing,
					const char *detail_if_empty)
{
	if (isnull)
		return co_refusal(ERRCODE_NULL_VALUE_NOT_ALLOWED,
						  psprintf("%s needs a tracking number%s", button, rule),
						  detail_if_missing, "Pass the carrier's tracking number.");
	if (VARSIZE_ANY_EXHDR(DatumGetPointer(tracking_no)) == 0)
		return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("%s needs a non-empty tracking number%s", button, rule),
						  detail_if_empty, "Pass the carrier's tracking number.");
	/* H8: 1-64 characters of [A-Za-z0-9-] */
	{
		text	   *t = DatumGetTextPP(tracking_no);
		const char *p = VARDATA_ANY(t);
		int			len = VARSIZE_ANY_EXHDR(t);
		int			i;

		for (i = 0; i < len && len <= 64; i++)
			if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
				  (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
				break;
		if (len > 64 || i < len)
			return co_refusal(ERRCODE_INVALID_PARAMETER_VALUE,
							  psprintf("%s: a tracking number is 1 to 64 letters, digits or hyphens (rule H8)", button),
							  psprintf("The tracking number has %d bytes%s.", len,
									   len > 64 ? "" : " and a character other than A-Z, a-z, 0-9 or -"),
							  "Pass the carrier's tracking number as printed on the label.");
	}
	return NULL;
}

CoRefusal *
co_refusal(int sqlerrcode, const char *message, const char *detail,
		   const char *hint)
{
	CoRefusal  *r = palloc0(sizeof(CoRefusal));

	r->sqlerrcode = sqlerrcode;
	r->message = pstrdup(message);
	r->detail = detail ? pstrdup(detail) : NULL;
	r->hint = hint ? pstrdup(hint) : NULL;
	return r;
}

void
co_raise(CoRefusal *refusal)
{
	ereport(ERROR,
			(errcode(refusal->sqlerrcode),
			 errmsg_internal("%s", refusal->message),
			 refusal->detail ? errdetail_internal("%s", refusal->detail) : 0,
			 refusal->hint ? errhint("%s", refusal->hint) : 0));
	pg_unreachable();
}
