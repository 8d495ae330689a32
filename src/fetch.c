/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  The order and case tables as the row-access layer sees them, and
 *	  fetching an order or a case (with its order) by id for the buttons and
 *	  queries.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

static void case_not_found(const char *button, int64 aftersale_id) pg_attribute_noreturn();

const char *const co_order_col_names[OC_COUNT] = {
	"order_id", "shop_id", "product_id", "buyer_id", "amount", "is_custom",
	"paid_at", "ship_by", "state", "custom_started_at", "tracking_no",
	"shipped_at", "signed_at", "refunded_amount", "category_id",
	"start_lock", "high_score_threshold", "evidence_review",
	"promised_ship", "evidence_bundle_id", "open_aftersale_id", "closed_at",
	"pay_no", "last_stamp_at", "late_at", "late_refund_instant"
};

const char *const co_case_col_names[CC_COUNT] = {
	"order_id", "aftersale_id", "kind", "reason", "state", "requested_at",
	"refund_amount", "proposed_amount", "comm_reason", "communicated_at",
	"reject_reason", "proof_bundle_id", "tracking_no", "buyer_bundle_id",
	"closed_at", "due_at", "return_tracking_no", "return_shipped_at",
	"escalated_at", "escalation_note", "arbitration_note"
};

const char *const co_kind_names[KIND_COUNT] = {"refund_only", "return_refund"};

const char *const co_reason_names[REASON_COUNT] = {
	"no_reason", "quality", "wrong_quantity", "not_received", "not_as_agreed"
};

const char *const co_comm_reason_names[COMM_COUNT] = {
	"in_transit", "negotiate_amount", "invite_evidence", "agreement_reached",
	"signed_not_received"
};

CoTable		co_orders_table = {
	"orders", co_order_col_names, OC_COUNT, 1, "order", OC_PAY_NO
};

CoTable		co_cases_table = {
	"aftersales", co_case_col_names, CC_COUNT, 2, "after-sale case", CC_DUE_AT
};

/*
 * Fetch an order's rule columns, locked FOR UPDATE when asked.  A missing
 * order is P0002.
 */
void
co_order_fetch(int64 order_id, const char *button, bool lock, OrderRow *row)
{
	Datum		key = Int64GetDatum(order_id);

	if (!co_row_fetch(&co_orders_table, &key, lock, row->v, row->isnull))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: order " INT64_FORMAT " does not exist",
						button, order_id),
				 errhint("Check the order_id returned by place_order().")));
	row->state = co_order_state_from_datum(row->v[OC_STATE]);
}

/* Decode a case's kind and reason: -1 when unknown, -2 when null */
void
co_case_decode_request(CaseRow *row)
{
	row->kind = row->isnull[CC_KIND] ? -2 :
		co_lookup_label(co_kind_names, KIND_COUNT,
						TextDatumGetCString(row->v[CC_KIND]));
	row->reason = row->isnull[CC_REASON] ? -2 :
		co_lookup_label(co_reason_names, REASON_COUNT,
						TextDatumGetCString(row->v[CC_REASON]));
}

/* A request names a known kind and reason: 22004 when null, 22023 unknown */
void
co_case_check_request(const CaseRow *row)
{
	if (row->kind == -2 || row->reason == -2)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request_refund: %s must not be null",
						row->kind == -2 ? "kind" : "reason"),
				 errhint("kind is refund_only or return_refund; reason is no_reason, quality, wrong_quantity, not_received or not_as_agreed.")));
	if (row->kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_refund: unknown kind \"%s\"",
						TextDatumGetCString(row->v[CC_KIND])),
				 errhint("kind is refund_only or return_refund.")));
	if (row->reason < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_refund: unknown reason \"%s\"",
						TextDatumGetCString(row->v[CC_REASON])),
				 errhint("reason is no_reason, quality, wrong_quantity, not_received or not_as_agreed.")));
}

/*
 * The order a case belongs to.  Cases are keyed (order_id, aftersale_id);
 * a button knows only the case's id, so this looks up its order first, in
 * case_orders by the case's id alone (on Citus one shard: case_orders can
 * be distributed by aftersale_id, where aftersales is by order_id).
 *
 * Fallback: a case with no case_orders row (one inserted by raw SQL, which
 * does not write the row; or a 1.0 database, U2, which has no such table)
 * is looked up in aftersales by its index on aftersale_id, which on Citus
 * asks every shard.  verify() reports such a case (invariant case_orders).
 */
bool
co_case_order_id(int64 aftersale_id, int64 *order_id)
{
	static SPIPlanPtr plans[2];
	static const char *const sql[2] = {
		"SELECT c.order_id FROM customorder.case_orders c "
		"WHERE c.aftersale_id OPERATOR(pg_catalog.=) $1",
		/* the fallback */
		"SELECT a.order_id FROM customorder.aftersales a "
		"WHERE a.aftersale_id OPERATOR(pg_catalog.=) $1"
	};
	Oid			argtypes[1] = {INT8OID};
	Datum		key = Int64GetDatum(aftersale_id);
	bool		found = false;
	bool		isnull;
	int			i;

	co_connect();
	for (i = co_table_exists("case_orders") ? 0 : 1; i < 2 && !found; i++)
	{
		co_execute(co_prepare(&plans[i], sql[i], 1, argtypes), &key, NULL,
				   true, 1);
		found = SPI_processed == 1;
	}
	if (found)
		*order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1,
												&isnull));
	co_finish();
	return found;
}

/* A missing case: P0002, the same however the case was looked up */
static void
case_not_found(const char *button, int64 aftersale_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("%s: after-sale case " INT64_FORMAT " does not exist",
					button, aftersale_id),
			 errhint("Check the aftersale_id returned by request_refund().")));
}

/*
 * Fetch a case by id and its order, both locked FOR UPDATE when asked (see
 * co_case_fetch_in_order).  A missing case is P0002.
 */
void
co_case_fetch(int64 aftersale_id, const char *button, bool lock,
			  CaseRow *row, OrderRow *order)
{
	int64		order_id;

	if (!co_case_order_id(aftersale_id, &order_id))
		case_not_found(button, aftersale_id);
	co_case_fetch_in_order(order_id, aftersale_id, button, lock, row, order);
}

/*
 * Fetch a case of a known order and the order, both locked FOR UPDATE when
 * asked: by the cases' key, so on Citus a router query to the order's shard
 * (a case's id alone is looked up on every shard).  The case row is locked
 * first, then the order: the same order a raw UPDATE of the case takes (the
 * executor locks the case row, then its trigger locks the order), so a
 * button and a raw update cannot deadlock.  Both are locked before anything
 * is judged.  A missing case is P0002.
 */
void
co_case_fetch_in_order(int64 order_id, int64 aftersale_id, const char *button,
					   bool lock, CaseRow *row, OrderRow *order)
{
	Datum		key[2];

	key[0] = Int64GetDatum(order_id);
	key[1] = Int64GetDatum(aftersale_id);
	if (!co_row_fetch(&co_cases_table, key, lock, row->v, row->isnull))
		case_not_found(button, aftersale_id);
	row->state = co_case_state_from_datum(row->v[CC_STATE]);
	co_case_decode_request(row);
	co_order_fetch(order_id, button, lock, order);
}
