/*-------------------------------------------------------------------------
 *
 * evidence_items.c
 *	  Evidence items (rules E1, E2, E4): the JSON items parser, the inserter
 *	  a button's upload goes through, and the trigger on evidence_items.
 *
 *	  The item trigger counts each item into its bundle row with an UPDATE,
 *	  so two sessions filling one bundle serialize on that row and can never
 *	  overshoot the limits.  Items are insert-only (E3).
 *
 *-------------------------------------------------------------------------
 */
#include "evidence.h"
#include "machines.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(co_item_trigger);

static const char *const item_cols[IC_COUNT] = {
	[IC_ORDER_ID] = "order_id",
	[IC_BUNDLE_ID] = "bundle_id",
	[IC_ITEM_NO] = "item_no",
	[IC_TYPE] = "type",
	[IC_MIME] = "mime",
	[IC_BYTES] = "bytes",
	[IC_URI] = "uri",
	[IC_SHA256] = "sha256",
};

CoTable		co_items_table = {
	.relname = "evidence_items",
	.cols = item_cols,
	.ncols = IC_COUNT,
	.nkeys = 3,
	.what = "evidence item",
};

/*
 * The button whose items the item trigger is judging, so that its messages
 * name it; NULL for a raw INSERT into evidence_items.  On Citus the trigger
 * runs on a worker, which learns the button from the upload's declaration
 * (co_upload_button).
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

/*
 * An item as the trigger judges it: its row, and its place in its bundle
 * once counted in.
 */
typedef struct ItemCheck
{
	Datum		order_id;
	Datum		bundle_id;
	EvidenceItem item;
	bool		is_image;
	bool		is_video;
	int32		images;			/* the bundle's counts, this item included */
	int32		videos;
	int32		item_no;
	char	   *what;			/* "button: evidence item N", for messages */
} ItemCheck;

#define ITEM_HINT "Each item is {\"type\":\"image\"|\"video\", \"mime\":\"image/...\"|\"video/...\", \"bytes\":N, \"uri\":\"...\", \"sha256\":\"64 hex digits\" (optional)}."

static void bad_item(const char *button, int item_no, const char *what,
					 const char *hint) pg_attribute_noreturn();

/* Every shape error of the parser reads alike: which item, what, the hint */
static void
bad_item(const char *button, int item_no, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: evidence item %d is malformed (rule E2)", button, item_no),
			 errdetail("%s", what),
			 errhint("%s", hint)));
}

/* A jsonb string as a C string (it may hold a NUL; the caller checks) */
static char *
jbv_string(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * "bytes": a whole number above 0.  One too large for any upload is an E1
 * refusal here already, since it would not even fit the bigint column.
 */
static int64
parse_bytes(JsonbValue *fv, const char *button, int item_no)
{
	Datum		n;
	Datum		limit;

	if (fv->type != jbvNumeric)
		bad_item(button, item_no, "\"bytes\" is not a number.", ITEM_HINT);
	n = NumericGetDatum(fv->val.numeric);
	if (numeric_is_nan(fv->val.numeric) ||
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
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, n));
}

/*
 * "type", "mime", "uri" or "sha256": a string without NUL (which a text
 * column could not hold).  A null sha256 is the same as none.
 */
static void
parse_string(EvidenceItem *item, const char *key, JsonbValue *fv,
			 const char *button, int item_no)
{
	char	  **slot;

	slot = key[0] == 't' ? &item->type :
		key[0] == 'm' ? &item->mime :
		key[0] == 'u' ? &item->uri : &item->sha256;
	if (fv->type == jbvNull && key[0] == 's')
		return;
	if (fv->type != jbvString)
		bad_item(button, item_no,
				 psprintf("\"%s\" is not a string.", key), ITEM_HINT);
	*slot = jbv_string(fv);
	if (strlen(*slot) != (size_t) fv->val.string.len)
		bad_item(button, item_no,
				 psprintf("\"%s\" contains a NUL character.", key), ITEM_HINT);
}

/* One item object: known keys only, and all the required ones */
static EvidenceItem *
parse_item(JsonbContainer *object, const char *button, int item_no)
{
	EvidenceItem *item = palloc0(sizeof(EvidenceItem));
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	fv;
	JsonbIteratorToken tok;

	item->bytes = -1;
	it = JsonbIteratorInit(object);
	tok = JsonbIteratorNext(&it, &k, true); /* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = jbv_string(&k);
		tok = JsonbIteratorNext(&it, &fv, true);
		if (strcmp(key, "bytes") == 0)
			item->bytes = parse_bytes(&fv, button, item_no);
		else if (strcmp(key, "type") == 0 || strcmp(key, "mime") == 0 ||
				 strcmp(key, "uri") == 0 || strcmp(key, "sha256") == 0)
			parse_string(item, key, &fv, button, item_no);
		else
			bad_item(button, item_no,
					 psprintf("Unknown key \"%s\".", key), ITEM_HINT);
	}
	if (item->type == NULL || item->mime == NULL || item->uri == NULL ||
		item->bytes < 0)
		bad_item(button, item_no,
				 "The item lacks one of \"type\", \"mime\", \"bytes\", \"uri\".",
				 ITEM_HINT);
	return item;
}

/*
 * Parse the items array with the jsonb API into a list of EvidenceItem.
 * Checks the shape of each item (22023); the limits are the item trigger's.
 */
List *
co_evidence_parse_items(Jsonb *items, const char *button)
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
		if (tok == WJB_END_ARRAY)
			continue;
		item_no++;
		if (tok != WJB_ELEM || v.type != jbvBinary ||
			!JsonContainerIsObject(v.val.binary.data))
			bad_item(button, item_no, "The item is not a JSON object.", ITEM_HINT);
		result = lappend(result, parse_item(v.val.binary.data, button, item_no));
	}
	return result;
}

/*
 * Insert parsed items into an open bundle, one INSERT each, so that the
 * item trigger judges (and numbers) each; its messages name "button".  The
 * caller is connected to SPI.
 */
void
co_evidence_insert_items(int64 order_id, int64 bundle_id, List *parsed,
						 const char *button)
{
	static SPIPlanPtr plan_item = NULL;
	Oid			item_types[7] = {INT8OID, INT8OID, TEXTOID, TEXTOID, INT8OID,
	TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	ListCell   *lc;

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
}

/* ----------------------------------------------------------------
 *		The item trigger
 * ----------------------------------------------------------------
 */

/* E3: an item, once in, stays as it is (its bundle may be open or not) */
static void
refuse_item_change(Relation rel, HeapTuple oldtuple)
{
	Datum		values[IC_COUNT];
	bool		isnull[IC_COUNT];

	co_row_read(&co_items_table, rel, oldtuple, values, isnull);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("evidence items cannot be changed or removed (rule E3)"),
			 errdetail("Item of bundle " INT64_FORMAT " of order " INT64_FORMAT ".",
					   DatumGetInt64(values[IC_BUNDLE_ID]),
					   DatumGetInt64(values[IC_ORDER_ID])),
			 errhint("Submit a new bundle instead.")));
}

/*
 * Read the inserted row into *c: the required columns first (a raw INSERT
 * may leave them null; the NOT NULL constraints would only speak later).
 */
static void
read_item(Relation rel, HeapTuple tuple, ItemCheck *c)
{
	static const ItemCol required[] = {IC_ORDER_ID, IC_BUNDLE_ID, IC_TYPE,
	IC_MIME, IC_BYTES, IC_URI};
	Datum		values[IC_COUNT];
	bool		isnull[IC_COUNT];
	int			i;

	co_row_read(&co_items_table, rel, tuple, values, isnull);
	for (i = 0; i < lengthof(required); i++)
		if (isnull[required[i]])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("an evidence item needs %s (rule E2)",
							co_items_table.cols[required[i]]),
					 errhint(ITEM_HINT)));
	memset(c, 0, sizeof(*c));
	c->order_id = values[IC_ORDER_ID];
	c->bundle_id = values[IC_BUNDLE_ID];
	c->item.type = TextDatumGetCString(values[IC_TYPE]);
	c->item.mime = TextDatumGetCString(values[IC_MIME]);
	c->item.bytes = DatumGetInt64(values[IC_BYTES]);
	c->item.uri = TextDatumGetCString(values[IC_URI]);
	if (!isnull[IC_SHA256])
		c->item.sha256 = TextDatumGetCString(values[IC_SHA256]);
	c->is_image = strcmp(c->item.type, "image") == 0;
	c->is_video = strcmp(c->item.type, "video") == 0;
}

/*
 * E1/E4: count the item into its bundle first, holding the bundle row's
 * lock; this numbers the item for every message after it.  A refusal rolls
 * the count back with the item.  The bundle trigger refuses the count (E3)
 * if the bundle is submitted.
 */
static void
count_into_bundle(ItemCheck *c)
{
	static SPIPlanPtr plan_count = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, INT4OID, INT4OID};
	Datum		values[4];
	bool		isnull;
	const char *button;

	co_connect();
	plan_count = co_prepare(&plan_count,
							"UPDATE customorder.evidence_bundles b "
							"SET image_count = b.image_count OPERATOR(pg_catalog.+) $3, "
							"    video_count = b.video_count OPERATOR(pg_catalog.+) $4 "
							"WHERE b.order_id OPERATOR(pg_catalog.=) $1 "
							"AND b.bundle_id OPERATOR(pg_catalog.=) $2 "
							"RETURNING b.image_count, b.video_count",
							4, argtypes);
	values[0] = c->order_id;
	values[1] = c->bundle_id;
	values[2] = Int32GetDatum(c->is_image ? 1 : 0);
	values[3] = Int32GetDatum(c->is_video ? 1 : 0);
	co_execute_permitted(PERMIT_BUNDLE_COUNT, DatumGetInt64(c->order_id),
						 plan_count, values, NULL, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("evidence bundle " INT64_FORMAT " of order " INT64_FORMAT " does not exist",
						DatumGetInt64(c->bundle_id), DatumGetInt64(c->order_id)),
				 errhint("Create the bundle in customorder.evidence_bundles first.")));
	c->images = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	c->videos = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	co_finish();

	c->item_no = c->images + c->videos + (c->is_image || c->is_video ? 0 : 1);
	button = item_button ? item_button : co_upload_button();
	c->what = button ?
		psprintf("%s: evidence item %d", button, c->item_no) :
		psprintf("evidence item %d", c->item_no);
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

/* H8: a mime subtype is [a-z0-9][a-z0-9.+-]* */
static bool
mime_subtype_ok(const char *sub)
{
	const char *p;

	if (!((sub[0] >= 'a' && sub[0] <= 'z') || (sub[0] >= '0' && sub[0] <= '9')))
		return false;
	for (p = sub + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			  *p == '.' || *p == '+' || *p == '-'))
			return false;
	return true;
}

/*
 * H8: does a uri hold a C0 or C1 control character (U+0000-U+001F, U+007F,
 * U+0080-U+009F) or a bidirectional override or isolate (U+202A-U+202E,
 * U+2066-U+2069)?  The multibyte ones are looked for in UTF-8 databases.
 */
static bool
uri_has_control(const char *uri)
{
	const unsigned char *p = (const unsigned char *) uri;
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;

	for (; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			return true;
		if (!utf8)
			continue;
		if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			return true;
		if (p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0xAA && p[2] <= 0xAE)
			return true;
		if (p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9)
			return true;
	}
	return false;
}

/*
 * E2: the item's own fields.  A raw INSERT bypasses the parser, so the
 * trigger checks them again; the sha256 is stored in lower case, so that
 * the duplicate check compares digests, not spellings.
 */
static void
check_item_fields(ItemCheck *c)
{
	EvidenceItem *item = &c->item;
	int			uri_chars;

	if (!c->is_image && !c->is_video)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: type must be image or video (rule E2)", c->what),
				 errdetail("Item %d of bundle " INT64_FORMAT " has type \"%s\".",
						   c->item_no, DatumGetInt64(c->bundle_id), item->type),
				 errhint(ITEM_HINT)));
	if (strncmp(item->mime, c->is_image ? "image/" : "video/", 6) != 0 ||
		item->mime[6] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: mime does not match its type (rule E2)", c->what),
				 errdetail("Item %d has type %s and mime \"%s\".",
						   c->item_no, item->type, item->mime),
				 errhint("An image's mime begins with image/, a video's with video/.")));
	if (!mime_subtype_ok(item->mime + 6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: mime must match ^(image|video)/[a-z0-9][a-z0-9.+-]*$ (rule H8)", c->what),
				 errdetail("Item %d has mime \"%s\".", c->item_no, item->mime),
				 errhint("Pass the file's media type in lower case, e.g. image/jpeg or video/mp4.")));
	if (item->bytes <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: bytes must be greater than 0 (rule E2)", c->what),
				 errdetail("Item %d has bytes = " INT64_FORMAT ".", c->item_no, item->bytes),
				 errhint("Pass the file's size in bytes.")));
	uri_chars = pg_mbstrlen(item->uri);
	if (uri_chars == 0 || uri_chars > CO_MAX_URI_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: uri must have 1 to %d characters (rule E2)",
						c->what, CO_MAX_URI_CHARS),
				 errdetail("The uri of item %d has %d characters.", c->item_no, uri_chars),
				 errhint("Pass the uploaded file's address.")));
	if (uri_has_control(item->uri))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: uri must hold no control or bidirectional-override character (rule H8)",
						c->what),
				 errdetail("The uri of item %d holds one.", c->item_no),
				 errhint("Pass the uploaded file's address, percent-encoded.")));
	if (item->sha256 != NULL)
	{
		int			i;

		if (!is_hex64(item->sha256))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: sha256 must be 64 hex digits (rule E2)", c->what),
					 errdetail("Item %d has sha256 \"%s\".", c->item_no, item->sha256),
					 errhint("Pass the file's SHA-256 digest in hex, or omit it.")));
		for (i = 0; item->sha256[i]; i++)
			item->sha256[i] = pg_ascii_tolower((unsigned char) item->sha256[i]);
	}
}

/* E1: the item's size, and the bundle's counts with the item counted in */
static void
check_item_limits(const ItemCheck *c)
{
	if (c->is_image && c->item.bytes > CO_MAX_IMAGE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is too large: an image may have at most " INT64_FORMAT " bytes (rule E1)",
						c->what, CO_MAX_IMAGE_BYTES),
				 errdetail("Item %d (%s) has " INT64_FORMAT " bytes.",
						   c->item_no, c->item.uri, c->item.bytes),
				 errhint("Compress the image to 10 MiB or less.")));
	if (c->is_video && c->item.bytes > CO_MAX_VIDEO_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is too large: a video may have at most " INT64_FORMAT " bytes (rule E1)",
						c->what, CO_MAX_VIDEO_BYTES),
				 errdetail("Item %d (%s) has " INT64_FORMAT " bytes.",
						   c->item_no, c->item.uri, c->item.bytes),
				 errhint("Trim or compress the video to 150 MiB or less.")));
	if (c->images > CO_MAX_IMAGES)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is one image too many: a bundle holds at most %d images (rule E1)",
						c->what, CO_MAX_IMAGES),
				 errdetail("Bundle " INT64_FORMAT " would hold %d images.",
						   DatumGetInt64(c->bundle_id), c->images),
				 errhint("Keep the %d clearest images.", CO_MAX_IMAGES)));
	if (c->videos > CO_MAX_VIDEOS)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s is one video too many: a bundle holds at most %d videos (rule E1)",
						c->what, CO_MAX_VIDEOS),
				 errdetail("Bundle " INT64_FORMAT " would hold %d videos.",
						   DatumGetInt64(c->bundle_id), c->videos),
				 errhint("Keep the %d most telling videos.", CO_MAX_VIDEOS)));
}

/*
 * E2: no uri or sha256 twice in one bundle.  Checked under the bundle row's
 * lock (count_into_bundle), so a concurrent twin waits and then sees this
 * item; the unique indexes are only the safety net behind this message.
 */
static void
check_item_unique(const ItemCheck *c)
{
	static SPIPlanPtr plan_dup = NULL;
	Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;

	co_connect();
	plan_dup = co_prepare(&plan_dup,
						  "SELECT i.item_no, i.uri OPERATOR(pg_catalog.=) $3 "
						  "FROM customorder.evidence_items i "
						  "WHERE i.order_id OPERATOR(pg_catalog.=) $1 "
						  "AND i.bundle_id OPERATOR(pg_catalog.=) $2 "
						  "AND (i.uri OPERATOR(pg_catalog.=) $3 "
						  "     OR i.sha256 OPERATOR(pg_catalog.=) $4) LIMIT 1",
						  4, argtypes);
	values[0] = c->order_id;
	values[1] = c->bundle_id;
	values[2] = CStringGetTextDatum(c->item.uri);
	values[3] = c->item.sha256 ? CStringGetTextDatum(c->item.sha256) : (Datum) 0;
	nulls[3] = c->item.sha256 ? ' ' : 'n';
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
						c->what, other, same_uri ? "uri" : "sha256"),
				 errdetail("%s %s.", same_uri ? "uri" : "sha256",
						   same_uri ? c->item.uri : c->item.sha256),
				 errhint("Upload each file once.")));
	}
	co_finish();
}

/*
 * evidence_items: insert-only.  E2 checks each item; E1 counts it into its
 * bundle row under a permit (the row lock that makes E4 hold); E3 refuses
 * items of a submitted bundle (the bundle trigger does, on the count).  The
 * row is written with its number in the bundle and its sha256 in lower case.
 */
Datum
co_item_trigger(PG_FUNCTION_ARGS)
{
	static const int written[2] = {IC_ITEM_NO, IC_SHA256};
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_item_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	ItemCheck	c;
	Datum		values[2];
	bool		nulls[2];

	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		refuse_item_change(rel, trigdata->tg_trigtuple);
	read_item(rel, trigdata->tg_trigtuple, &c);
	count_into_bundle(&c);
	check_item_fields(&c);
	check_item_limits(&c);
	check_item_unique(&c);

	values[0] = Int32GetDatum(c.item_no);
	nulls[0] = false;
	values[1] = c.item.sha256 ? CStringGetTextDatum(c.item.sha256) : (Datum) 0;
	nulls[1] = c.item.sha256 == NULL;
	return PointerGetDatum(co_row_modify(&co_items_table, rel,
										 trigdata->tg_trigtuple, 2, written,
										 values, nulls));
}
