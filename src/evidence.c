/*-------------------------------------------------------------------------
 *
 * evidence.c
 *	  Evidence bundles and items (rules E1-E4): the JSON items parser, the
 *	  triggers on evidence_bundles and evidence_items, and the evidence
 *	  buttons (submit, view, review).
 *
 *	  Every upload (production start, rejection proof, logistics proof, the
 *	  buyer's supplement) is a bundle: created open, filled with items, then
 *	  submitted (sealed).  The item trigger counts each item into its bundle
 *	  row with an UPDATE, so two sessions filling one bundle serialize on
 *	  that row and can never overshoot the limits.  A submitted bundle is
 *	  immutable.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_bundle_trigger);
PG_FUNCTION_INFO_V1(co_item_trigger);
PG_FUNCTION_INFO_V1(co_evidence_truncate_trigger);
PG_FUNCTION_INFO_V1(co_view_custom_evidence);

/*
 * The button whose items the item trigger is judging, so that its messages
 * name it; NULL for a raw INSERT into evidence_items.
 */
static const char *item_button = NULL;

/* One item as parsed from JSON, in the column order of the insert plan */
typedef struct EvidenceItem
{
	char	   *type;
	char	   *mime;
	int64		bytes;
	char	   *uri;
	char	   *sha256;
} EvidenceItem;

static void
bad_item(const char *button, int item_no, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: evidence item %d is malformed (rule E2)", button, item_no),
			 errdetail("%s", what),
			 errhint("%s", hint)));
}

#define ITEM_HINT "Each item is {\"type\":\"image\"|\"video\", \"mime\":\"image/...\"|\"video/...\", \"bytes\":N, \"uri\":\"...\", \"sha256\":\"64 hex digits\" (optional)}."

static char *
jbv_string(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Parse the items array with the jsonb API.  Checks the shape of each item
 * (22023); the limits are the item trigger's.
 */
static List *
parse_items(Jsonb *items, const char *button)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *result = NIL;
	int			item_no = 0;

	if (!JB_ROOT_IS_ARRAY(items) || JB_ROOT_IS_SCALAR(items))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: items must be a JSON array (rule E2)", button),
				 errdetail("items is a JSON %s.",
						   JB_ROOT_IS_SCALAR(items) ? "scalar" : "object"),
				 errhint(ITEM_HINT)));

	it = JsonbIteratorInit(&items->root);
	tok = JsonbIteratorNext(&it, &v, true); /* WJB_BEGIN_ARRAY */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		EvidenceItem *item;
		JsonbIterator *oit;
		JsonbValue	k;
		JsonbValue	fv;
		JsonbIteratorToken otok;

		if (tok == WJB_END_ARRAY)
			continue;
		item_no++;
		if (tok != WJB_ELEM || v.type != jbvBinary ||
			!JsonContainerIsObject(v.val.binary.data))
			bad_item(button, item_no, "The item is not a JSON object.", ITEM_HINT);

		item = palloc0(sizeof(EvidenceItem));
		item->bytes = -1;
		oit = JsonbIteratorInit(v.val.binary.data);
		otok = JsonbIteratorNext(&oit, &k, true);	/* WJB_BEGIN_OBJECT */
		while ((otok = JsonbIteratorNext(&oit, &k, true)) != WJB_DONE)
		{
			char	   *key;

			if (otok != WJB_KEY)
				continue;
			key = jbv_string(&k);
			otok = JsonbIteratorNext(&oit, &fv, true);
			if (strcmp(key, "bytes") == 0)
			{
				Datum		n;
				Datum		limit;

				if (fv.type != jbvNumeric)
					bad_item(button, item_no, "\"bytes\" is not a number.", ITEM_HINT);
				n = NumericGetDatum(fv.val.numeric);
				if (numeric_is_nan(fv.val.numeric) ||
					DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
													  DirectFunctionCall2(numeric_trunc, n,
																		  Int32GetDatum(0)))) != 0)
					bad_item(button, item_no,
							 psprintf("\"bytes\" is %s, not a whole number.", co_numeric_str(n)),
							 ITEM_HINT);
				if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
													  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
					bad_item(button, item_no,
							 psprintf("\"bytes\" is %s; it must be greater than 0.", co_numeric_str(n)),
							 ITEM_HINT);
				limit = DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX / 2));
				if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, limit)) > 0)
					ereport(ERROR,
							(errcode(ERRCODE_CHECK_VIOLATION),
							 errmsg("%s: evidence item %d is larger than any upload allows (rule E1)",
									button, item_no),
							 errdetail("Item %d has %s bytes; an image may have at most " INT64_FORMAT " and a video at most " INT64_FORMAT ".",
									   item_no, co_numeric_str(n),
									   CO_MAX_IMAGE_BYTES, CO_MAX_VIDEO_BYTES),
							 errhint("Compress the file or split the footage.")));
				item->bytes = DatumGetInt64(DirectFunctionCall1(numeric_int8, n));
			}
			else if (strcmp(key, "type") == 0 || strcmp(key, "mime") == 0 ||
					 strcmp(key, "uri") == 0 || strcmp(key, "sha256") == 0)
			{
				char	  **slot;

				slot = key[0] == 't' ? &item->type :
					key[0] == 'm' ? &item->mime :
					key[0] == 'u' ? &item->uri : &item->sha256;
				if (fv.type == jbvNull && key[0] == 's')
					continue;
				if (fv.type != jbvString)
					bad_item(button, item_no,
							 psprintf("\"%s\" is not a string.", key), ITEM_HINT);
				*slot = jbv_string(&fv);
				if (strlen(*slot) != (size_t) fv.val.string.len)
					bad_item(button, item_no,
							 psprintf("\"%s\" contains a NUL character.", key), ITEM_HINT);
			}
			else
				bad_item(button, item_no,
						 psprintf("Unknown key \"%s\".", key), ITEM_HINT);
		}
		if (item->type == NULL || item->mime == NULL || item->uri == NULL ||
			item->bytes < 0)
			bad_item(button, item_no,
					 "The item lacks one of \"type\", \"mime\", \"bytes\", \"uri\".",
					 ITEM_HINT);
		result = lappend(result, item);
	}
	return result;
}

/*
 * Store a bundle: create it open, insert each item (the item trigger judges
 * each), submit it (the bundle trigger judges the whole).  Returns the
 * bundle id.  The caller has locked the order.
 */
int64
co_evidence_store(int64 order_id, const char *purpose, Datum aftersale_id,
				  bool aftersale_isnull, Jsonb *items, const char *button)
{
	static SPIPlanPtr plan_bundle = NULL;
	static SPIPlanPtr plan_item = NULL;
	static SPIPlanPtr plan_seal = NULL;
	Oid			bundle_types[3] = {INT8OID, TEXTOID, INT8OID};
	Oid			item_types[7] = {INT8OID, INT8OID, TEXTOID, TEXTOID, INT8OID,
	TEXTOID, TEXTOID};
	Oid			seal_types[2] = {INT8OID, INT8OID};
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	int64		bundle_id;
	List	   *parsed = parse_items(items, button);
	ListCell   *lc;

	co_connect();
	plan_bundle = co_prepare(&plan_bundle,
							 "INSERT INTO customorder.evidence_bundles (order_id, purpose, aftersale_id) "
							 "VALUES ($1, $2, $3) RETURNING bundle_id",
							 3, bundle_types);
	values[0] = Int64GetDatum(order_id);
	values[1] = CStringGetTextDatum(purpose);
	values[2] = aftersale_id;
	memset(nulls, ' ', sizeof(nulls));
	nulls[2] = aftersale_isnull ? 'n' : ' ';
	co_execute(plan_bundle, values, nulls, false, 0);
	bundle_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));

	plan_item = co_prepare(&plan_item,
						   "INSERT INTO customorder.evidence_items "
						   "(order_id, bundle_id, type, mime, bytes, uri, sha256, item_no) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
						   7, item_types);
	item_button = button;
	PG_TRY();
	{
		foreach(lc, parsed)
		{
			EvidenceItem *item = (EvidenceItem *) lfirst(lc);

			memset(nulls, ' ', sizeof(nulls));
			values[0] = Int64GetDatum(order_id);
			values[1] = Int64GetDatum(bundle_id);
			values[2] = CStringGetTextDatum(item->type);
			values[3] = CStringGetTextDatum(item->mime);
			values[4] = Int64GetDatum(item->bytes);
			values[5] = CStringGetTextDatum(item->uri);
			values[6] = item->sha256 ? CStringGetTextDatum(item->sha256) : (Datum) 0;
			nulls[6] = item->sha256 ? ' ' : 'n';
			co_execute(plan_item, values, nulls, false, 0);
		}
	}
	PG_FINALLY();
	{
		item_button = NULL;
	}
	PG_END_TRY();

	plan_seal = co_prepare(&plan_seal,
						   "UPDATE customorder.evidence_bundles b "
						   "SET submitted_at = pg_catalog.now() "
						   "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
						   "AND b.bundle_id OPERATOR(pg_catalog.=) $2",
						   2, seal_types);
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(bundle_id);
	co_execute(plan_seal, values, NULL, false, 0);
	co_finish();
	return bundle_id;
}

/* ----------------------------------------------------------------
 *		Triggers
 * ----------------------------------------------------------------
 */

static int
attnum_of(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "customorder evidence table lacks column \"%s\"", name);
	return attnum;
}

static Datum
get_col(HeapTuple tuple, TupleDesc tupdesc, const char *name, bool *isnull)
{
	return heap_getattr(tuple, attnum_of(tupdesc, name), tupdesc, isnull);
}

static bool
col_differs(HeapTuple a, HeapTuple b, TupleDesc tupdesc, const char *name)
{
	int			attnum = attnum_of(tupdesc, name);
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	bool		na,
				nb;
	Datum		da = heap_getattr(a, attnum, tupdesc, &na);
	Datum		db = heap_getattr(b, attnum, tupdesc, &nb);

	if (na != nb)
		return true;
	return !na && !datumIsEqual(da, db, att->attbyval, att->attlen);
}

static void
refuse_sealed(int64 order_id, int64 bundle_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("a submitted evidence bundle is immutable (rule E3)"),
			 errdetail("%s bundle " INT64_FORMAT " of order " INT64_FORMAT ", which was submitted.",
					   what, bundle_id, order_id),
			 errhint("Submit a new bundle instead.")));
}

static void
check_order_exists(Datum order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = order_id;
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT 1 FROM customorder.orders o "
					  "WHERE o.order_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("evidence: order " INT64_FORMAT " does not exist",
						DatumGetInt64(order_id)),
				 errhint("Evidence belongs to an existing order.")));
	co_finish();
}

/*
 * S5: the platform's verdict is approved or rejected, and only on the bundle
 * that an order in evidence_review names.
 */
static void
check_verdict(int64 order_id, int64 bundle_id, HeapTuple newtuple,
			  TupleDesc tupdesc)
{
	OrderRow	order;
	bool		isnull;
	char	   *verdict;
	const char *state;
	bool		names_bundle;

	verdict = TextDatumGetCString(get_col(newtuple, tupdesc, "review_state", &isnull));
	if (strcmp(verdict, "approved") != 0 && strcmp(verdict, "rejected") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("review_evidence: the verdict is approved or rejected (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " was given review state %s.",
						   bundle_id, order_id, verdict),
				 errhint("Call customorder.review_evidence(order_id, approve, note).")));

	/* lock the order before judging: a concurrent refund must wait */
	co_order_fetch(order_id, "review_evidence", true, &order);
	state = co_order_state_names[order.state];
	names_bundle = !order.isnull[OC_EVIDENCE_BUNDLE_ID] &&
		DatumGetInt64(order.v[OC_EVIDENCE_BUNDLE_ID]) == bundle_id;
	if (order.state != OS_EVIDENCE_REVIEW || !names_bundle)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("review_evidence: only the bundle of an order in evidence_review can be reviewed (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT "; the order is %s and %s this bundle.",
						   bundle_id, order_id, state,
						   names_bundle ? "names" : "does not name"),
				 errhint("Evidence goes to review when submitted in a category that requires it.")));
}

/*
 * evidence_bundles: created open and empty; counters move only under the
 * item trigger's permit; submitting seals it (non-empty, and a rejection
 * proof holds an image); once sealed only the platform's review verdict may
 * be written, once.
 */
Datum
co_bundle_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	oldtuple = trigdata->tg_trigtuple;
	HeapTuple	newtuple = trigdata->tg_newtuple;
	bool		isnull;
	int64		order_id;
	int64		bundle_id;
	bool		sealed;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "co_bundle_trigger: must be fired before, for each row");
	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		const char *reset_cols[] = {"submitted_at", "review_state",
		"review_note", "reviewed_at"};
		int			colnums[7];
		Datum		values[7];
		bool		nulls[7];
		int			i;
		Datum		oid = get_col(oldtuple, tupdesc, "order_id", &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("an evidence bundle needs an order_id"),
					 errhint("Evidence belongs to an order.")));
		check_order_exists(oid);
		/* A bundle starts open and empty, whatever the INSERT said */
		for (i = 0; i < 4; i++)
		{
			colnums[i] = attnum_of(tupdesc, reset_cols[i]);
			values[i] = (Datum) 0;
			nulls[i] = true;
		}
		colnums[4] = attnum_of(tupdesc, "image_count");
		colnums[5] = attnum_of(tupdesc, "video_count");
		values[4] = values[5] = Int32GetDatum(0);
		nulls[4] = nulls[5] = false;
		colnums[6] = attnum_of(tupdesc, "created_at");
		values[6] = TimestampTzGetDatum(co_now());
		nulls[6] = false;
		return PointerGetDatum(heap_modify_tuple_by_cols(oldtuple, tupdesc, 7,
														 colnums, values, nulls));
	}

	order_id = DatumGetInt64(get_col(oldtuple, tupdesc, "order_id", &isnull));
	bundle_id = DatumGetInt64(get_col(oldtuple, tupdesc, "bundle_id", &isnull));
	get_col(oldtuple, tupdesc, "submitted_at", &isnull);
	sealed = !isnull;

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		int32		count;

		if (sealed)
			refuse_sealed(order_id, bundle_id, "Deleting");
		count = DatumGetInt32(get_col(oldtuple, tupdesc, "image_count", &isnull)) +
			DatumGetInt32(get_col(oldtuple, tupdesc, "video_count", &isnull));
		if (count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("an evidence bundle with items cannot be deleted (rule E3)"),
					 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " holds %d items.",
							   bundle_id, order_id, count),
					 errhint("Leave it unsubmitted; it does not count as evidence.")));
		return PointerGetDatum(oldtuple);
	}

	/* UPDATE */
	{
		static const char *const fixed[] = {"order_id", "bundle_id", "purpose",
		"aftersale_id", "created_at"};
		int			i;

		for (i = 0; i < lengthof(fixed); i++)
			if (col_differs(oldtuple, newtuple, tupdesc, fixed[i]))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("evidence_bundles.%s cannot be changed", fixed[i]),
						 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
								   bundle_id, order_id),
						 errhint("Create a new bundle instead.")));
	}

	if (sealed)
	{
		bool		review_changed;
		Datum		old_review;
		bool		old_review_null;
		char	   *purpose;

		if (col_differs(oldtuple, newtuple, tupdesc, "submitted_at") ||
			col_differs(oldtuple, newtuple, tupdesc, "image_count") ||
			col_differs(oldtuple, newtuple, tupdesc, "video_count"))
			refuse_sealed(order_id, bundle_id,
						  co_permit.kind == PERMIT_BUNDLE_COUNT &&
						  co_permit.order_id == order_id ?
						  "Adding an item to" : "Changing");
		review_changed = col_differs(oldtuple, newtuple, tupdesc, "review_state") ||
			col_differs(oldtuple, newtuple, tupdesc, "review_note") ||
			col_differs(oldtuple, newtuple, tupdesc, "reviewed_at");
		if (!review_changed)
			return PointerGetDatum(newtuple);
		old_review = get_col(oldtuple, tupdesc, "review_state", &old_review_null);
		purpose = TextDatumGetCString(get_col(oldtuple, tupdesc, "purpose", &isnull));
		get_col(newtuple, tupdesc, "review_state", &isnull);
		if (!old_review_null || isnull || strcmp(purpose, "production") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("review_evidence: a production bundle is reviewed once (rule S5)"),
					 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " (purpose %s) has review state %s.",
							   bundle_id, order_id, purpose,
							   old_review_null ? "none" : TextDatumGetCString(old_review)),
					 errhint("A rejected order submits a new bundle.")));
		check_verdict(order_id, bundle_id, newtuple, tupdesc);
		{
			int			colnum = attnum_of(tupdesc, "reviewed_at");
			Datum		now = TimestampTzGetDatum(co_now());
			bool		nonull = false;

			return PointerGetDatum(heap_modify_tuple_by_cols(newtuple, tupdesc, 1,
															 &colnum, &now, &nonull));
		}
	}

	/* Open bundle */
	if (col_differs(oldtuple, newtuple, tupdesc, "review_state") ||
		col_differs(oldtuple, newtuple, tupdesc, "review_note") ||
		col_differs(oldtuple, newtuple, tupdesc, "reviewed_at"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("review_evidence: only a submitted bundle can be reviewed (rule S5)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is not submitted.",
						   bundle_id, order_id),
				 errhint("Submit the bundle first.")));
	if ((col_differs(oldtuple, newtuple, tupdesc, "image_count") ||
		 col_differs(oldtuple, newtuple, tupdesc, "video_count")) &&
		!(co_permit.kind == PERMIT_BUNDLE_COUNT && co_permit.order_id == order_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evidence_bundles counters are maintained by the item trigger (rule E4)"),
				 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
						   bundle_id, order_id),
				 errhint("Insert items into customorder.evidence_items.")));

	get_col(newtuple, tupdesc, "submitted_at", &isnull);
	if (!isnull)
	{
		/* Submitting: the bundle as a whole must qualify */
		int32		images = DatumGetInt32(get_col(newtuple, tupdesc, "image_count", &isnull));
		int32		videos = DatumGetInt32(get_col(newtuple, tupdesc, "video_count", &isnull));
		char	   *purpose = TextDatumGetCString(get_col(newtuple, tupdesc, "purpose", &isnull));
		int			colnum = attnum_of(tupdesc, "submitted_at");
		Datum		now = TimestampTzGetDatum(co_now());
		bool		nonull = false;

		if (images + videos == 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("an evidence bundle holds at least one item (rule E1)"),
					 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " is empty.",
							   bundle_id, order_id),
					 errhint("Add at least one image or video.")));
		if (images == 0 && strcmp(purpose, "rejection_proof") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("continue_reject: production proof holds at least one clear photo (rule A1.2)"),
					 errdetail("Bundle " INT64_FORMAT " of order " INT64_FORMAT " has %d videos and no image.",
							   bundle_id, order_id, videos),
					 errhint("Add photos showing the buyer's goods in production.")));
		return PointerGetDatum(heap_modify_tuple_by_cols(newtuple, tupdesc, 1,
														 &colnum, &now, &nonull));
	}
	return PointerGetDatum(newtuple);
}

static bool
is_hex64(const char *s)
{
	int			i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char) s[i]))
			return false;
	return i == 64;
}

/*
 * evidence_items: insert-only.  E2 checks each item; E1 counts it into its
 * bundle row under a permit (the row lock that makes E4 hold); E3 refuses
 * items of a submitted bundle (the bundle trigger does, on the count).
 */
Datum
co_item_trigger(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_count = NULL;
	static SPIPlanPtr plan_dup = NULL;
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple = trigdata->tg_trigtuple;
	bool		isnull;
	Datum		order_id;
	Datum		bundle_id;
	char	   *type;
	char	   *mime;
	int64		bytes;
	char	   *uri;
	char	   *sha256 = NULL;
	bool		is_image;
	bool		is_video;
	char	   *what;
	int32		images;
	int32		videos;
	int32		item_no;
	int			uri_chars;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "co_item_trigger: must be fired before, for each row");
	tupdesc = RelationGetDescr(trigdata->tg_relation);

	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		order_id = get_col(tuple, tupdesc, "order_id", &isnull);
		bundle_id = get_col(tuple, tupdesc, "bundle_id", &isnull);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evidence items cannot be changed or removed (rule E3)"),
				 errdetail("Item of bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
						   DatumGetInt64(bundle_id), DatumGetInt64(order_id)),
				 errhint("Submit a new bundle instead.")));
	}

	{
		static const char *const required[] = {"order_id", "bundle_id", "type",
		"mime", "bytes", "uri"};
		int			i;

		for (i = 0; i < lengthof(required); i++)
		{
			get_col(tuple, tupdesc, required[i], &isnull);
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("an evidence item needs %s (rule E2)", required[i]),
						 errhint(ITEM_HINT)));
		}
	}
	order_id = get_col(tuple, tupdesc, "order_id", &isnull);
	bundle_id = get_col(tuple, tupdesc, "bundle_id", &isnull);
	type = TextDatumGetCString(get_col(tuple, tupdesc, "type", &isnull));
	mime = TextDatumGetCString(get_col(tuple, tupdesc, "mime", &isnull));
	bytes = DatumGetInt64(get_col(tuple, tupdesc, "bytes", &isnull));
	uri = TextDatumGetCString(get_col(tuple, tupdesc, "uri", &isnull));
	{
		Datum		d = get_col(tuple, tupdesc, "sha256", &isnull);

		if (!isnull)
			sha256 = TextDatumGetCString(d);
	}

	is_image = strcmp(type, "image") == 0;
	is_video = strcmp(type, "video") == 0;

	/*
	 * E1/E4: count the item into its bundle first, holding the bundle row's
	 * lock; this numbers the item for every message below.  A refusal rolls
	 * the count back with the item.
	 */
	{
		Oid			argtypes[4] = {INT8OID, INT8OID, INT4OID, INT4OID};
		Datum		values[4];

		co_connect();
		plan_count = co_prepare(&plan_count,
								"UPDATE customorder.evidence_bundles b "
								"SET image_count = b.image_count OPERATOR(pg_catalog.+) $3, "
								"    video_count = b.video_count OPERATOR(pg_catalog.+) $4 "
								"WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
								"AND b.bundle_id OPERATOR(pg_catalog.=) $2 "
								"RETURNING b.image_count, b.video_count",
								4, argtypes);
		values[0] = order_id;
		values[1] = bundle_id;
		values[2] = Int32GetDatum(is_image ? 1 : 0);
		values[3] = Int32GetDatum(is_video ? 1 : 0);
		co_execute_permitted(PERMIT_BUNDLE_COUNT, DatumGetInt64(order_id),
							 plan_count, values, NULL, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("evidence bundle " INT64_FORMAT " of order " INT64_FORMAT " does not exist",
							DatumGetInt64(bundle_id), DatumGetInt64(order_id)),
					 errhint("Create the bundle in customorder.evidence_bundles first.")));
		images = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		videos = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		co_finish();
	}
	item_no = images + videos + (is_image || is_video ? 0 : 1);
	what = item_button ?
		psprintf("%s: evidence item %d", item_button, item_no) :
		psprintf("evidence item %d", item_no);

	/* E2: the item's own fields */
	if (!is_image && !is_video)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: type must be image or video (rule E2)", what),
				 errdetail("Item %d of bundle " INT64_FORMAT " has type \"%s\".",
						   item_no, DatumGetInt64(bundle_id), type),
				 errhint(ITEM_HINT)));
	if (strncmp(mime, is_image ? "image/" : "video/", 6) != 0 || mime[6] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: mime does not match its type (rule E2)", what),
				 errdetail("Item %d has type %s and mime \"%s\".", item_no, type, mime),
				 errhint("An image's mime begins with image/, a video's with video/.")));
	if (bytes <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: bytes must be greater than 0 (rule E2)", what),
				 errdetail("Item %d has bytes = " INT64_FORMAT ".", item_no, bytes),
				 errhint("Pass the file's size in bytes.")));
	uri_chars = pg_mbstrlen(uri);
	if (uri_chars == 0 || uri_chars > CO_MAX_URI_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: uri must have 1 to %d characters (rule E2)",
						what, CO_MAX_URI_CHARS),
				 errdetail("The uri of item %d has %d characters.", item_no, uri_chars),
				 errhint("Pass the uploaded file's address.")));
	if (sha256 != NULL)
	{
		int			i;

		if (!is_hex64(sha256))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: sha256 must be 64 hex digits (rule E2)", what),
					 errdetail("Item %d has sha256 \"%s\".", item_no, sha256),
					 errhint("Pass the file's SHA-256 digest in hex, or omit it.")));
		for (i = 0; sha256[i]; i++)
			sha256[i] = pg_ascii_tolower((unsigned char) sha256[i]);
	}

	/* E1: the limits */
	if (is_image && bytes > CO_MAX_IMAGE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is too large: an image may have at most " INT64_FORMAT " bytes (rule E1)",
						what, CO_MAX_IMAGE_BYTES),
				 errdetail("Item %d (%s) has " INT64_FORMAT " bytes.", item_no, uri, bytes),
				 errhint("Compress the image to 10 MiB or less.")));
	if (is_video && bytes > CO_MAX_VIDEO_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is too large: a video may have at most " INT64_FORMAT " bytes (rule E1)",
						what, CO_MAX_VIDEO_BYTES),
				 errdetail("Item %d (%s) has " INT64_FORMAT " bytes.", item_no, uri, bytes),
				 errhint("Trim or compress the video to 150 MiB or less.")));
	if (images > CO_MAX_IMAGES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is one image too many: a bundle holds at most %d images (rule E1)",
						what, CO_MAX_IMAGES),
				 errdetail("Bundle " INT64_FORMAT " would hold %d images.",
						   DatumGetInt64(bundle_id), images),
				 errhint("Keep the %d clearest images.", CO_MAX_IMAGES)));
	if (videos > CO_MAX_VIDEOS)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is one video too many: a bundle holds at most %d videos (rule E1)",
						what, CO_MAX_VIDEOS),
				 errdetail("Bundle " INT64_FORMAT " would hold %d videos.",
						   DatumGetInt64(bundle_id), videos),
				 errhint("Keep the %d most telling videos.", CO_MAX_VIDEOS)));

	/* E2: no uri or sha256 twice in one bundle (checked under the lock) */
	{
		Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TEXTOID};
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		co_connect();
		plan_dup = co_prepare(&plan_dup,
							  "SELECT i.item_no, i.uri OPERATOR(pg_catalog.=) $3 "
							  "FROM customorder.evidence_items i "
							  "WHERE i.order_id OPERATOR(pg_catalog.=) $1 "
							  "AND i.bundle_id OPERATOR(pg_catalog.=) $2 "
							  "AND (i.uri OPERATOR(pg_catalog.=) $3 "
							  "     OR i.sha256 OPERATOR(pg_catalog.=) $4) LIMIT 1",
							  4, argtypes);
		values[0] = order_id;
		values[1] = bundle_id;
		values[2] = CStringGetTextDatum(uri);
		values[3] = sha256 ? CStringGetTextDatum(sha256) : (Datum) 0;
		nulls[3] = sha256 ? ' ' : 'n';
		co_execute(plan_dup, values, nulls, false, 1);
		if (SPI_processed == 1)
		{
			int32		other = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull));
			bool		same_uri = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 2, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s repeats item %d: the same %s twice in one bundle (rule E2)",
							what, other, same_uri ? "uri" : "sha256"),
					 errdetail("%s %s.", same_uri ? "uri" : "sha256",
							   same_uri ? uri : sha256),
					 errhint("Upload each file once.")));
		}
		co_finish();
	}

	{
		int			colnums[2];
		Datum		values[2];
		bool		nulls[2] = {false, sha256 == NULL};

		colnums[0] = attnum_of(tupdesc, "item_no");
		values[0] = Int32GetDatum(item_no);
		colnums[1] = attnum_of(tupdesc, "sha256");
		values[1] = sha256 ? CStringGetTextDatum(sha256) : (Datum) 0;
		return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 2,
														 colnums, values, nulls));
	}
}

/* E3 by any path: TRUNCATE is refused too */
Datum
co_evidence_truncate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "co_evidence_truncate_trigger: not called by trigger manager");
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("evidence cannot be truncated (rule E3)"),
			 errdetail("TRUNCATE of %s.",
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("Submitted evidence is kept for as long as its order.")));
	PG_RETURN_NULL();
}

/* ----------------------------------------------------------------
 *		Buttons
 * ----------------------------------------------------------------
 */

/*
 * view_custom_evidence(order_id): every submitted bundle of the order with
 * its items, production evidence and after-sale proof alike (S6).
 */
Datum
co_view_custom_evidence(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	OrderRow	order;
	uint64		i;

	co_require_arg(fcinfo, 0, "view_custom_evidence", "order_id");
	co_order_fetch(PG_GETARG_INT64(0), "view_custom_evidence", false, &order);
	co_authorize_order("view_custom_evidence", CO_WHO_ANYONE, &order);

	InitMaterializedSRF(fcinfo, 0);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT b.bundle_id, b.purpose, b.aftersale_id, b.submitted_at, "
					  "b.review_state, i.item_no, i.type, i.mime, i.bytes, i.uri, i.sha256 "
					  "FROM customorder.evidence_bundles b "
					  "JOIN customorder.evidence_items i "
					  "ON i.order_id OPERATOR(pg_catalog.=) b.order_id "
					  "AND i.bundle_id OPERATOR(pg_catalog.=) b.bundle_id "
					  "WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
					  "AND b.submitted_at IS NOT NULL "
					  "ORDER BY b.bundle_id, i.item_no",
					  1, argtypes);
	values[0] = order.v[OC_ORDER_ID];
	co_execute(plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		row[11];
		bool		nulls[11];
		int			c;

		for (c = 0; c < 11; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								   c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	co_finish();
	return (Datum) 0;
}

