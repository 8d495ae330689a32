/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  customorder.verify(): the invariants the triggers maintain, checked
 *	  against the stored rows.  One row per violation (invariant, order_id,
 *	  detail); none on a healthy database.
 *
 *	  The triggers judge each change as it is made; verify() looks at the
 *	  result as a whole, so it catches what slipped past them: rows written
 *	  with the triggers disabled (session_replication_role = replica,
 *	  ALTER TABLE ... DISABLE TRIGGER), restored from a dump, or a rule bug.
 *
 *	  Each invariant is one query returning (order_id, detail) for its
 *	  violations.  The queries are fixed text prepared once per backend;
 *	  every name in them is schema-qualified, operators included, so they
 *	  mean the same under any search_path.
 *
 *	  One text serves one server and Citus (SPEC §12), verify() and
 *	  verify(order_id) (V5).  Distributed by order_id, Citus runs a query on
 *	  every shard only when each piece of it can run shard by shard: tables
 *	  of orders joined, and subqueries correlated, on order_id; window
 *	  functions partitioned by order_id; no VALUES computed from a stable
 *	  function.  It runs a query on one shard (a router query) when every
 *	  distributed table in it is restricted to one order_id: so each table
 *	  reference carries its ORDER_OF mark, which verify(order_id) turns into
 *	  that restriction and verify() into "true".
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(co_verify);

/*
 * The built-in operators, whatever the caller's search_path holds.  All
 * OPERATOR() forms bind alike and from the left, so an operand that is
 * itself an expression goes in parentheses.
 */
#define EQ " OPERATOR(pg_catalog.=) "
#define NE " OPERATOR(pg_catalog.<>) "
#define LT " OPERATOR(pg_catalog.<) "
#define LE " OPERATOR(pg_catalog.<=) "
#define GT " OPERATOR(pg_catalog.>) "
#define GE " OPERATOR(pg_catalog.>=) "
#define PLUS " OPERATOR(pg_catalog.+) "

/* State sets, as co_order_before_shipment() and co_case_is_open() say */
#define BEFORE_SHIPMENT \
	"'{paid,awaiting_evidence,evidence_review,in_production}'::customorder.order_state[]"
#define CUSTOM_ONLY \
	"'{awaiting_evidence,evidence_review,in_production}'::customorder.order_state[]"
/* A custom order in these states has pressed Start (S3, S4) */
#define STARTED \
	"'{awaiting_evidence,evidence_review,in_production,shipped,signed,refunded}'::customorder.order_state[]"
#define CLOSED_ORDER "'{cancelled,refunded}'::customorder.order_state[]"
/*
 * The open states are one range of the enum, requested to arbitration
 * (1.1 inserted the return and arbitration states before refunded), which
 * names only labels 1.0 has: the same text serves a 1.0 database (U2) and
 * is aftersales_one_open_case's predicate.
 */
#define OPEN_CASE_A \
	"(a.state" GT "'instant_refunded'::customorder.aftersale_state " \
	"AND a.state" LT "'refunded'::customorder.aftersale_state)"
#define REFUNDED_CASE "'{refunded,instant_refunded}'::customorder.aftersale_state[]"

/*
 * The limits of rules E1 and E2 reach every query as parameters, so that the
 * checks and the item trigger read the same constants: $1 images and $2
 * videos per bundle, $3 bytes per image, $4 bytes per video, $5 characters
 * per uri.
 */
#define VERIFY_NARGS 8		/* and $6: the order of verify(order_id); on
								 * Citus $7, one of its cases, $8, its pay_no */

/*
 * The checks of the lookup tables keyed by another id than the order's, each
 * with the other table of its join as "from" (the table itself on one
 * server, a common table expression of it on Citus)
 */
#define CASE_ORDERS_CHECK(from) \
	"SELECT a.order_id, CASE WHEN c.aftersale_id IS NULL " \
	" THEN pg_catalog.format('case %s has no case_orders row', a.aftersale_id) " \
	" ELSE pg_catalog.format('case %s is in case_orders with order %s', a.aftersale_id, c.order_id) END " \
	"FROM customorder.aftersales a " \
	"LEFT JOIN " from " ON c.aftersale_id" EQ "a.aftersale_id " \
	"WHERE (c.aftersale_id IS NULL OR c.order_id" NE "a.order_id) AND" ORDER_OF("a")
#define CASE_ORDERS_CASE_CHECK(from) \
	"SELECT c.order_id, pg_catalog.format('case_orders names case %s, which does not exist', " \
	" c.aftersale_id) " \
	"FROM customorder.case_orders c " \
	"WHERE NOT EXISTS (SELECT 1 FROM " from " WHERE a.aftersale_id" EQ "c.aftersale_id)"
#define PAYMENTS_CHECK(from) \
	"SELECT o.order_id, CASE WHEN p.pay_no IS NULL " \
	" THEN pg_catalog.format('pay_no %s is not in payments', o.pay_no) " \
	" ELSE pg_catalog.format('pay_no %s is the payment of order %s in payments', o.pay_no, p.order_id) END " \
	"FROM customorder.orders o " \
	"LEFT JOIN " from " ON p.pay_no" EQ "o.pay_no " \
	"WHERE o.pay_no IS NOT NULL AND (p.pay_no IS NULL OR p.order_id" NE "o.order_id) " \
	"AND" ORDER_OF("o")
#define PAYMENTS_ORDER_CHECK(from) \
	"SELECT p.order_id, pg_catalog.format('payment %s names order %s, %s', p.pay_no, p.order_id, " \
	" CASE WHEN o.order_id IS NULL THEN 'which does not exist' " \
	" ELSE pg_catalog.format('whose pay_no is %s', COALESCE(o.pay_no, 'null')) END) " \
	"FROM customorder.payments p " \
	"LEFT JOIN " from " ON o.order_id" EQ "p.order_id " \
	"WHERE o.order_id IS NULL OR (o.pay_no" EQ "p.pay_no) IS NOT TRUE"

/*
 * The entry of such a check: "check" joined to "table" (as "alias") on one
 * server, and to a common table expression of its columns "cols" on Citus.
 * For verify(order_id) on Citus, the lookup row of one key the order names
 * ("key": its table's column EQ $7, a case of the order, or $8, its
 * pay_no), read by that key, and the check restricted to that key
 * ("restrict"): each run a router query, run once per key.
 */
#define LOOKUP_CHECK(invariant, check, table, alias, cols, whole_only, lookup, key, restrict) \
	{invariant, check("customorder." table " " alias), true, whole_only, \
	 "WITH " alias " AS MATERIALIZED (SELECT " cols \
	 " FROM customorder." table " " alias ") " check(alias), \
	 "WITH " alias " AS MATERIALIZED (SELECT " cols \
	 " FROM customorder." table " " alias " WHERE " key ") " check(alias) restrict, \
	 lookup}

/* The keys verify(order_id) looks a lookup check up by, on Citus */
typedef enum VerifyLookup
{
	LOOKUP_NONE,
	LOOKUP_EACH_CASE,			/* $7: each case of the order */
	LOOKUP_PAY_NO				/* $8: the order's pay_no, when it has one */
} VerifyLookup;

typedef struct VerifyCheck
{
	const char *invariant;
	const char *sql;
	bool		v11;			/* reads 1.1's columns: skipped on 1.0 (U2) */
	bool		whole_only;		/* not in verify(order_id): its rows are no
								 * order's (order_id is null), or finding one
								 * order's would scan a table keyed by
								 * another id */

	/*
	 * For a check that joins a lookup table keyed by another id
	 * (case_orders, payments), not colocated with orders on Citus: the
	 * same check for a distributed database, the other side of the join
	 * read first (a MATERIALIZED common table expression, which Citus
	 * plans as an intermediate result) ...
	 */
	const char *distributed_sql;
	/* ... and for verify(order_id), run for each key "lookup" names */
	const char *distributed_order_sql;
	VerifyLookup lookup;
} VerifyCheck;

/*
 * ORDER_OF(alias): the mark a check puts on each reference to a table of
 * orders (in its WHERE clause, or in the ON clause of an outer join).
 * verify(order_id) restricts that reference to the order $6, so the planner
 * reads only the order's rows through the table's (order_id, ...) key, and
 * Citus routes the whole check to the order's shard; verify() reads "true".
 */
#define ORDER_OF(alias) " $(" alias ") "

/*
 * VIOLATIONS(BAD(condition, detail), ...): the violations one row may show,
 * as c(bad, detail).  A lateral unnest of an array of rows, not VALUES:
 * Citus pushes VALUES down only when computed by immutable functions, and
 * format() and timestamptz arithmetic are stable.
 */
#define VIOLATIONS(rows) \
	"CROSS JOIN LATERAL pg_catalog.unnest(ARRAY[" rows "]) " \
	"c(bad pg_catalog.bool, detail pg_catalog.text) "
#define BAD(condition, detail) \
	"ROW((" condition "), (" detail ")::pg_catalog.text)"

static const VerifyCheck checks[] = {
	/*
	 * An order's state agrees with its timestamps and columns: each
	 * transition stamps its column, and nothing clears one; an order is
	 * closed exactly when all it was paid is refunded.
	 */
	{"order_state",
		"SELECT o.order_id, c.detail FROM customorder.orders o "
		VIOLATIONS(
				   BAD("o.state" EQ "'paid' AND o.custom_started_at IS NOT NULL",
					   "'paid, but custom_started_at is set'") ", "
				   BAD("o.state" EQ "ANY (" BEFORE_SHIPMENT ") AND o.shipped_at IS NOT NULL",
					   "pg_catalog.format('%s, but shipped_at is set', o.state)") ", "
				   BAD("o.state" EQ "ANY (" BEFORE_SHIPMENT ") AND o.tracking_no IS NOT NULL",
					   "pg_catalog.format('%s, but tracking_no is set', o.state)") ", "
				   BAD("(o.state" EQ "ANY (" BEFORE_SHIPMENT ") OR o.state" EQ "'shipped') "
					   "AND o.signed_at IS NOT NULL",
					   "pg_catalog.format('%s, but signed_at is set', o.state)") ", "
				   BAD("o.state" NE "ALL (" CLOSED_ORDER ") AND o.closed_at IS NOT NULL",
					   "pg_catalog.format('%s, but closed_at is set', o.state)") ", "
				   BAD("NOT o.is_custom AND o.state" EQ "ANY (" CUSTOM_ONLY ")",
					   "pg_catalog.format('an ordinary order in state %s', o.state)") ", "
				   BAD("NOT o.is_custom AND o.custom_started_at IS NOT NULL",
					   "'an ordinary order with custom_started_at set'") ", "
				   BAD("o.is_custom AND o.state" EQ "ANY (" STARTED ") AND o.custom_started_at IS NULL",
					   "pg_catalog.format('%s, but custom_started_at is null', o.state)") ", "
				   BAD("o.custom_started_at" LT "(o.paid_at" PLUS "o.start_lock)",
					   "pg_catalog.format('custom_started_at %s is before paid_at + start_lock, %s', "
					   "o.custom_started_at, o.paid_at" PLUS "o.start_lock)") ", "
				   BAD("o.state" EQ "ANY ('{shipped,signed}'::customorder.order_state[]) "
					   "AND o.shipped_at IS NULL",
					   "pg_catalog.format('%s, but shipped_at is null', o.state)") ", "
				   BAD("o.state" EQ "ANY ('{shipped,signed}'::customorder.order_state[]) "
					   "AND o.tracking_no IS NULL",
					   "pg_catalog.format('%s, but tracking_no is null', o.state)") ", "
				   BAD("o.state" EQ "'signed' AND o.signed_at IS NULL",
					   "'signed, but signed_at is null'") ", "
				   BAD("o.state" EQ "ANY (" CLOSED_ORDER ") AND o.closed_at IS NULL",
					   "pg_catalog.format('%s, but closed_at is null', o.state)") ", "
				   BAD("o.state" EQ "ANY (" CLOSED_ORDER ") AND o.refunded_amount" NE "o.amount",
					   "pg_catalog.format('%s, but refunded_amount %s is not the amount %s', "
					   "o.state, o.refunded_amount, o.amount)") ", "
				   BAD("o.state" NE "ALL (" CLOSED_ORDER ") AND o.refunded_amount" GE "o.amount",
					   "pg_catalog.format('%s, but refunded_amount %s is all of the amount %s', "
					   "o.state, o.refunded_amount, o.amount)"))
		"WHERE c.bad AND" ORDER_OF("o")
	},

	/*
	 * H2: an order's stamps follow its life: paid_at <= custom_started_at
	 * <= shipped_at <= signed_at (a stamp never goes backwards, whatever the
	 * clock said or how long a transaction stayed open).
	 */
	{"order_stamps",
		"SELECT o.order_id, c.detail FROM customorder.orders o "
		VIOLATIONS(
				   BAD("o.custom_started_at" LT "o.paid_at",
					   "pg_catalog.format('custom_started_at %s is before paid_at %s', "
					   "o.custom_started_at, o.paid_at)") ", "
				   BAD("o.shipped_at" LT "COALESCE(o.custom_started_at, o.paid_at)",
					   "pg_catalog.format('shipped_at %s is before %s %s', o.shipped_at, "
					   "CASE WHEN o.custom_started_at IS NULL THEN 'paid_at' ELSE 'custom_started_at' END, "
					   "COALESCE(o.custom_started_at, o.paid_at))") ", "
				   BAD("o.signed_at" LT "o.shipped_at",
					   "pg_catalog.format('signed_at %s is before shipped_at %s', "
					   "o.signed_at, o.shipped_at)"))
		"WHERE c.bad AND" ORDER_OF("o")
	},

	/*
	 * H2: a case is requested after its order was paid, and its
	 * communications, its proof bundles and its closing are not before its
	 * request.
	 */
	{"case_stamps",
		"SELECT a.order_id, pg_catalog.format('case %s %s', a.aftersale_id, c.detail) "
		"FROM customorder.aftersales a "
		"JOIN customorder.orders o ON o.order_id" EQ "a.order_id "
		"CROSS JOIN LATERAL (SELECT pg_catalog.min(m.sent_at) AS first "
		" FROM customorder.communications m "
		" WHERE m.order_id" EQ "a.order_id AND m.aftersale_id" EQ "a.aftersale_id "
		" AND" ORDER_OF("m") ") m "
		"CROSS JOIN LATERAL (SELECT pg_catalog.min(LEAST(b.submitted_at, b.reviewed_at)) AS first "
		" FROM customorder.evidence_bundles b "
		" WHERE b.order_id" EQ "a.order_id AND b.aftersale_id" EQ "a.aftersale_id "
		" AND" ORDER_OF("b") ") b "
		VIOLATIONS(
				   BAD("a.requested_at" LT "o.paid_at",
					   "pg_catalog.format('was requested at %s, before the order was paid at %s', "
					   "a.requested_at, o.paid_at)") ", "
				   BAD("a.communicated_at" LT "a.requested_at",
					   "pg_catalog.format('communicated at %s, before its request at %s', "
					   "a.communicated_at, a.requested_at)") ", "
				   BAD("a.closed_at" LT "a.requested_at",
					   "pg_catalog.format('closed at %s, before its request at %s', "
					   "a.closed_at, a.requested_at)") ", "
				   BAD("m.first" LT "a.requested_at",
					   "pg_catalog.format('has a communication sent before its request at %s', "
					   "a.requested_at)") ", "
				   BAD("b.first" LT "a.requested_at",
					   "pg_catalog.format('has a proof bundle stamped before its request at %s', "
					   "a.requested_at)"))
		"WHERE c.bad AND" ORDER_OF("a") "AND" ORDER_OF("o")
	},

	/*
	 * H7: a custom product carries a valid label (L1): deleting the approval
	 * or disabling the category leaves it unorderable until it is valid
	 * again.  Not an order's: order_id is null (on Citus, reference tables).
	 */
	{"product_label",
		"SELECT NULL::pg_catalog.int8, pg_catalog.format('custom product %s (shop %s, category %s) "
		"has no valid approval: %s', p.product_id, p.shop_id, p.category_id, "
		" CASE WHEN NOT c.custom_enabled THEN 'its category is not custom-enabled' "
		" ELSE 'the shop is not approved for its category' END) "
		"FROM customorder.products p "
		"JOIN customorder.categories c ON c.category_id" EQ "p.category_id "
		"WHERE p.is_custom AND NOT " CO_LABEL_VALID_SQL(""),
		false, true
	},

	/* L2: ship_by is paid_at + the promised ship time the order snapshotted */
	{"order_ship_by",
		"SELECT o.order_id, pg_catalog.format('ship_by %s, but paid_at + promised_ship is %s', "
		" COALESCE(o.ship_by::pg_catalog.text, 'null'), "
		" COALESCE((o.paid_at" PLUS "o.promised_ship)::pg_catalog.text, 'null')) "
		"FROM customorder.orders o "
		"WHERE (o.ship_by" EQ "(o.paid_at" PLUS "o.promised_ship)) IS NOT TRUE "
		"AND NOT (o.ship_by IS NULL AND o.promised_ship IS NULL) AND" ORDER_OF("o")
	},

	/* S5: the platform reviews a submitted production bundle of the order */
	{"order_review_bundle",
		"SELECT o.order_id, pg_catalog.format('evidence_review names %s: %s', "
		" CASE WHEN o.evidence_bundle_id IS NULL THEN 'no bundle' "
		"  ELSE pg_catalog.format('bundle %s', o.evidence_bundle_id) END, "
		" CASE WHEN b.bundle_id IS NULL THEN 'not a bundle of this order' "
		"  WHEN b.submitted_at IS NULL THEN 'it was never submitted' "
		"  WHEN b.purpose" NE "'production' THEN pg_catalog.format('its purpose is %s', b.purpose) "
		"  ELSE pg_catalog.format('it is already %s', b.review_state) END) "
		"FROM customorder.orders o "
		"LEFT JOIN customorder.evidence_bundles b "
		" ON b.order_id" EQ "o.order_id AND b.bundle_id" EQ "o.evidence_bundle_id "
		" AND" ORDER_OF("b")
		"WHERE o.state" EQ "'evidence_review' "
		"AND (b.bundle_id IS NULL OR b.submitted_at IS NULL "
		" OR b.purpose" NE "'production' OR b.review_state IS NOT NULL) AND" ORDER_OF("o")
	},

	/*
	 * S5: an order that left paid by the low-score path (it names an evidence
	 * bundle) reached production on qualified evidence: submitted,
	 * production, approved when its category required review, never rejected.
	 */
	{"order_production_evidence",
		"SELECT o.order_id, pg_catalog.format('%s on bundle %s: %s', o.state, o.evidence_bundle_id, "
		" CASE WHEN b.bundle_id IS NULL THEN 'not a bundle of this order' "
		"  WHEN b.submitted_at IS NULL THEN 'it was never submitted' "
		"  WHEN b.purpose" NE "'production' THEN pg_catalog.format('its purpose is %s', b.purpose) "
		"  WHEN b.review_state" EQ "'rejected' THEN 'the platform rejected it' "
		"  WHEN o.evidence_review THEN 'the platform has not approved it' "
		"  ELSE pg_catalog.format('it is %s, but the category needs no review', b.review_state) END) "
		"FROM customorder.orders o "
		"LEFT JOIN customorder.evidence_bundles b "
		" ON b.order_id" EQ "o.order_id AND b.bundle_id" EQ "o.evidence_bundle_id "
		" AND" ORDER_OF("b")
		"WHERE o.is_custom AND o.evidence_bundle_id IS NOT NULL "
		"AND o.state" EQ "ANY ('{in_production,shipped,signed,refunded}'::customorder.order_state[]) "
		"AND (b.bundle_id IS NULL OR b.submitted_at IS NULL OR b.purpose" NE "'production' "
		" OR (o.evidence_review AND (b.review_state" EQ "'approved') IS NOT TRUE) "
		" OR (NOT o.evidence_review AND b.review_state IS NOT NULL)) AND" ORDER_OF("o")
	},

	/*
	 * E1, E4: a bundle's items within the limits, its counters equal to its
	 * items; a submitted bundle is not empty and a rejection proof (A1.2)
	 * holds a photo.
	 */
	{"bundle_counts",
		"SELECT b.order_id, c.detail FROM customorder.evidence_bundles b "
		"CROSS JOIN LATERAL (SELECT "
		" pg_catalog.count(*) FILTER (WHERE i.type" EQ "'image') AS images, "
		" pg_catalog.count(*) FILTER (WHERE i.type" EQ "'video') AS videos, "
		" pg_catalog.count(*) AS items "
		" FROM customorder.evidence_items i "
		" WHERE i.order_id" EQ "b.order_id AND i.bundle_id" EQ "b.bundle_id "
		" AND" ORDER_OF("i") ") n "
		VIOLATIONS(
				   BAD("n.images" GT "$1",
					   "pg_catalog.format('bundle %s holds %s images; at most %s', "
					   "b.bundle_id, n.images, $1)") ", "
				   BAD("n.videos" GT "$2",
					   "pg_catalog.format('bundle %s holds %s videos; at most %s', "
					   "b.bundle_id, n.videos, $2)") ", "
				   BAD("b.image_count" NE "n.images OR b.video_count" NE "n.videos",
					   "pg_catalog.format('bundle %s counts images %s, videos %s; "
					   "its items are images %s, videos %s', "
					   "b.bundle_id, b.image_count, b.video_count, n.images, n.videos)") ", "
				   BAD("b.submitted_at IS NOT NULL AND n.items" EQ "0",
					   "pg_catalog.format('submitted bundle %s holds no item', b.bundle_id)") ", "
				   BAD("b.submitted_at IS NOT NULL AND b.purpose" EQ "'rejection_proof' "
					   "AND n.items" GT "0 AND n.images" EQ "0",
					   "pg_catalog.format('submitted rejection proof bundle %s holds no image', "
					   "b.bundle_id)"))
		"WHERE c.bad AND" ORDER_OF("b")
	},

	/* E1, E2: each item's own fields, and no file twice in one bundle */
	{"bundle_items",
		"SELECT i.order_id, pg_catalog.format('bundle %s item %s: %s', i.bundle_id, i.item_no, c.detail) "
		"FROM customorder.evidence_items i "
		VIOLATIONS(
				   BAD("i.type" NE "ALL ('{image,video}'::pg_catalog.text[])",
					   "pg_catalog.format('type %s is neither image nor video', i.type)") ", "
				   BAD("i.bytes" LE "0",
					   "pg_catalog.format('%s bytes', i.bytes)") ", "
				   BAD("i.type" EQ "'image' AND i.bytes" GT "$3",
					   "pg_catalog.format('an image of %s bytes; at most %s', i.bytes, $3)") ", "
				   BAD("i.type" EQ "'video' AND i.bytes" GT "$4",
					   "pg_catalog.format('a video of %s bytes; at most %s', i.bytes, $4)") ", "
				   BAD("i.type" EQ "ANY ('{image,video}'::pg_catalog.text[]) "
					   "AND NOT i.mime OPERATOR(pg_catalog.~~) pg_catalog.format('%s/_%%', i.type)",
					   "pg_catalog.format('mime %s does not match type %s', i.mime, i.type)") ", "
				   BAD("pg_catalog.char_length(i.uri)" EQ "0 OR pg_catalog.char_length(i.uri)" GT "$5",
					   "pg_catalog.format('uri of %s characters; 1 to %s', "
					   "pg_catalog.char_length(i.uri), $5)") ", "
				   BAD("i.sha256 OPERATOR(pg_catalog.!~) '^[0-9a-f]{64}$'",
					   "pg_catalog.format('sha256 %s is not 64 lowercase hex digits', i.sha256)"))
		"WHERE c.bad AND" ORDER_OF("i")
		"UNION ALL "
		"SELECT i.order_id, pg_catalog.format('bundle %s holds uri %s %s times', "
		" i.bundle_id, i.uri, pg_catalog.count(*)) "
		"FROM customorder.evidence_items i WHERE" ORDER_OF("i")
		"GROUP BY i.order_id, i.bundle_id, i.uri "
		"HAVING pg_catalog.count(*)" GT "1 "
		"UNION ALL "
		"SELECT i.order_id, pg_catalog.format('bundle %s holds sha256 %s %s times', "
		" i.bundle_id, i.sha256, pg_catalog.count(*)) "
		"FROM customorder.evidence_items i WHERE i.sha256 IS NOT NULL AND" ORDER_OF("i")
		"GROUP BY i.order_id, i.bundle_id, i.sha256 HAVING pg_catalog.count(*)" GT "1"
	},

	/* F7: refunded money never exceeds what was paid, a positive amount */
	{"refund_bounds",
		"SELECT o.order_id, pg_catalog.format('refunded_amount %s is outside 0 to the amount %s', "
		" o.refunded_amount, o.amount) "
		"FROM customorder.orders o "
		"WHERE (o.refunded_amount" LT "0 OR o.refunded_amount" GT "o.amount) AND" ORDER_OF("o")
		"UNION ALL "
		"SELECT o.order_id, pg_catalog.format('amount %s is not positive', o.amount) "
		"FROM customorder.orders o WHERE o.amount" LE "0 AND" ORDER_OF("o")
	},

	/* Money moves only through cases: the order's total is their sum */
	{"refund_sum",
		"SELECT o.order_id, pg_catalog.format('refunded_amount %s, but its refunded cases sum to %s', "
		" o.refunded_amount, s.total) "
		"FROM customorder.orders o "
		"CROSS JOIN LATERAL (SELECT COALESCE(pg_catalog.sum(a.refund_amount), 0.00) AS total "
		" FROM customorder.aftersales a "
		" WHERE a.order_id" EQ "o.order_id AND a.state" EQ "ANY (" REFUNDED_CASE ") "
		" AND" ORDER_OF("a") ") s "
		"WHERE o.refunded_amount" NE "s.total AND" ORDER_OF("o")
	},

	/* F7: at most one open case per order */
	{"case_one_open",
		"SELECT a.order_id, pg_catalog.format('%s open cases: %s', pg_catalog.count(*), "
		" pg_catalog.string_agg(pg_catalog.format('case %s %s', a.aftersale_id, a.state), ', ' "
		"  ORDER BY a.aftersale_id)) "
		"FROM customorder.aftersales a WHERE " OPEN_CASE_A " AND" ORDER_OF("a")
		"GROUP BY a.order_id HAVING pg_catalog.count(*)" GT "1"
	},

	/* The order's open-case marker, which the buttons read, names its case */
	{"case_open_marker",
		"SELECT o.order_id, pg_catalog.format('open_aftersale_id names %s; open: %s', "
		" CASE WHEN o.open_aftersale_id IS NULL THEN 'no case' "
		"  ELSE pg_catalog.format('case %s', o.open_aftersale_id) END, "
		" COALESCE(m.open_cases, 'no case')) "
		"FROM customorder.orders o "
		"CROSS JOIN LATERAL (SELECT "
		" pg_catalog.string_agg(pg_catalog.format('case %s', a.aftersale_id), ', ' "
		"  ORDER BY a.aftersale_id) AS open_cases, "
		" pg_catalog.bool_or(a.aftersale_id" EQ "o.open_aftersale_id) AS named "
		" FROM customorder.aftersales a "
		" WHERE a.order_id" EQ "o.order_id AND " OPEN_CASE_A " AND" ORDER_OF("a") ") m "
		"WHERE ((o.open_aftersale_id IS NULL AND m.open_cases IS NOT NULL) "
		"OR (o.open_aftersale_id IS NOT NULL AND m.named IS NOT TRUE)) AND" ORDER_OF("o")
	},

	/*
	 * F2, F3: a case stays open only once customization is in effect or the
	 * goods have shipped; a refund closes it.
	 */
	{"case_open_order",
		"SELECT a.order_id, pg_catalog.format('case %s is %s, but the order is %s', "
		" a.aftersale_id, a.state, o.state) "
		"FROM customorder.aftersales a "
		"JOIN customorder.orders o ON o.order_id" EQ "a.order_id "
		"WHERE " OPEN_CASE_A " "
		"AND o.state" NE "ALL ('{in_production,shipped,signed}'::customorder.order_state[]) "
		"AND" ORDER_OF("a") "AND" ORDER_OF("o")
	},

	/* F2: an instant refund returns everything and cancels the order */
	{"case_instant_refund",
		"SELECT a.order_id, pg_catalog.format('case %s is instant_refunded, but the order is %s', "
		" a.aftersale_id, o.state) "
		"FROM customorder.aftersales a "
		"JOIN customorder.orders o ON o.order_id" EQ "a.order_id "
		"WHERE a.state" EQ "'instant_refunded' AND o.state" NE "'cancelled' "
		"AND" ORDER_OF("a") "AND" ORDER_OF("o")
	},

	/* The case trigger stamps closed_at exactly when a case closes */
	{"case_closed_at",
		"SELECT a.order_id, pg_catalog.format(CASE WHEN a.closed_at IS NULL "
		"  THEN 'case %s is %s, but closed_at is null' "
		"  ELSE 'case %s is %s, but closed_at is set' END, a.aftersale_id, a.state) "
		"FROM customorder.aftersales a "
		"WHERE " OPEN_CASE_A EQ "(a.closed_at IS NOT NULL) AND" ORDER_OF("a")
	},

	/*
	 * A1.2, A2.3, F5: a rejection came after communicating, with a submitted
	 * proof bundle of the case (production photos before shipment, when the
	 * reason is null; logistics proof after it), and signed_no_reason only
	 * rejects a no_reason request.  R4: a refused return (not_received,
	 * wrong_item, damaged) with a return proof.
	 */
	{"case_rejected",
		"SELECT a.order_id, pg_catalog.format('case %s %s', a.aftersale_id, c.detail) "
		"FROM customorder.aftersales a "
		"LEFT JOIN customorder.evidence_bundles b "
		" ON b.order_id" EQ "a.order_id AND b.bundle_id" EQ "a.proof_bundle_id "
		" AND b.aftersale_id" EQ "a.aftersale_id AND" ORDER_OF("b")
		/* R4: a refused return needs no communication, a return proof */
		"CROSS JOIN LATERAL (SELECT COALESCE(a.reject_reason" EQ "ANY ("
		" '{not_received,wrong_item,damaged}'::pg_catalog.text[]), false) AS ret) r "
		"CROSS JOIN LATERAL (SELECT pg_catalog.count(*)" GT "0 AS sent "
		" FROM customorder.communications m "
		" WHERE m.order_id" EQ "a.order_id AND m.aftersale_id" EQ "a.aftersale_id "
		" AND m.sent_at" LE "a.closed_at AND" ORDER_OF("m") ") m "
		VIOLATIONS(
				   BAD("a.communicated_at IS NULL AND NOT r.ret",
					   "'was rejected, but communicated_at is null'") ", "
				   BAD("NOT r.ret AND NOT m.sent",
					   "'was rejected, but no script was sent to the buyer before it closed'") ", "
				   BAD("b.bundle_id IS NULL",
					   "pg_catalog.format('was rejected with proof %s, not a bundle of the case', "
					   "CASE WHEN a.proof_bundle_id IS NULL THEN 'null' "
					   "ELSE pg_catalog.format('bundle %s', a.proof_bundle_id) END)") ", "
				   BAD("b.submitted_at IS NULL AND b.bundle_id IS NOT NULL",
					   "pg_catalog.format('was rejected with proof bundle %s, never submitted', "
					   "b.bundle_id)") ", "
				   BAD("b.purpose" NE "CASE WHEN r.ret THEN 'return_proof' "
					   "WHEN a.reject_reason IS NULL THEN 'rejection_proof' "
					   "ELSE 'logistics_proof' END",
					   "pg_catalog.format('was rejected with reason %s and a %s bundle %s', "
					   "COALESCE(a.reject_reason, 'null'), b.purpose, b.bundle_id)") ", "
				   BAD("a.reject_reason" NE "ALL ('{in_transit,signed_no_reason,not_received,"
					   "wrong_item,damaged}'::pg_catalog.text[])",
					   "pg_catalog.format('was rejected with unknown reason %s', a.reject_reason)") ", "
				   BAD("a.reject_reason" EQ "'signed_no_reason' AND a.reason" NE "'no_reason'",
					   "pg_catalog.format('was rejected signed_no_reason, but asks for reason %s', "
					   "a.reason)"))
		"WHERE a.state" EQ "'rejected' AND c.bad AND" ORDER_OF("a")
	},

	/* A1.3: insist_ship shipped the order with the case's tracking number */
	{"case_shipment",
		"SELECT a.order_id, pg_catalog.format('case %s closed by shipment %s, but the %s order has "
		"tracking_no %s and shipped_at %s', a.aftersale_id, COALESCE(a.tracking_no, 'null'), "
		" o.state, COALESCE(o.tracking_no, 'null'), COALESCE(o.shipped_at::pg_catalog.text, 'null')) "
		"FROM customorder.aftersales a "
		"JOIN customorder.orders o ON o.order_id" EQ "a.order_id "
		"WHERE a.state" EQ "'closed_by_shipment' "
		"AND (o.shipped_at IS NULL OR (o.tracking_no" EQ "a.tracking_no) IS NOT TRUE) "
		"AND" ORDER_OF("a") "AND" ORDER_OF("o")
	},

	/* Only a refunded case carries money, and a positive amount */
	{"case_refund_amount",
		"SELECT a.order_id, pg_catalog.format('case %s is %s with refund_amount %s', "
		" a.aftersale_id, a.state, COALESCE(a.refund_amount::pg_catalog.text, 'null')) "
		"FROM customorder.aftersales a "
		"WHERE CASE WHEN a.state" EQ "ANY (" REFUNDED_CASE ") "
		" THEN (a.refund_amount" GT "0) IS NOT TRUE "
		" ELSE a.refund_amount IS NOT NULL END AND" ORDER_OF("a")
		"UNION ALL "
		"SELECT a.order_id, pg_catalog.format('case %s proposes %s', "
		" a.aftersale_id, a.proposed_amount) "
		"FROM customorder.aftersales a WHERE a.proposed_amount" LE "0 AND" ORDER_OF("a")
	},

	/*
	 * A1.2, A2.2: the states after communicating record the script sent.
	 * (Rejected cases are case_rejected's.)
	 */
	{"case_communicated",
		"SELECT a.order_id, pg_catalog.format('case %s is %s, but %s', a.aftersale_id, a.state, "
		" CASE WHEN a.communicated_at IS NULL THEN 'communicated_at is null' "
		"  ELSE 'no script was sent to the buyer' END) "
		"FROM customorder.aftersales a "
		"WHERE a.state" EQ "ANY ('{communicating,negotiating,awaiting_buyer_evidence,"
		"closed_by_shipment}'::customorder.aftersale_state[]) "
		"AND (a.communicated_at IS NULL OR NOT EXISTS (SELECT 1 "
		" FROM customorder.communications m "
		" WHERE m.order_id" EQ "a.order_id AND m.aftersale_id" EQ "a.aftersale_id "
		" AND" ORDER_OF("m") ")) AND" ORDER_OF("a")
	},

	/*
	 * R2, P1: a shipped return has its tracking number and stamp; a case in
	 * or after arbitration was escalated; neither stamp precedes the request.
	 */
	{"case_return_arbitration",
		"SELECT a.order_id, pg_catalog.format('case %s is %s with return_shipped_at %s, "
		"return_tracking_no %s, escalated_at %s', a.aftersale_id, a.state, "
		" COALESCE(a.return_shipped_at::pg_catalog.text, 'null'), "
		" COALESCE(a.return_tracking_no, 'null'), COALESCE(a.escalated_at::pg_catalog.text, 'null')) "
		"FROM customorder.aftersales a "
		"WHERE ((a.state" EQ "'return_shipped' AND (a.return_shipped_at IS NULL OR a.return_tracking_no IS NULL)) "
		"OR (a.state" EQ "ANY ('{arbitration,upheld}'::customorder.aftersale_state[]) AND a.escalated_at IS NULL) "
		"OR a.return_shipped_at" LT "a.requested_at OR a.escalated_at" LT "a.requested_at) "
		"AND" ORDER_OF("a"),
		true
	},

	/*
	 * T1: a case waiting on a party has a deadline, not before its request;
	 * a closed case has none, except a rejected one's escalation window.
	 * late_at is stamped once ship_by passed on an unshipped order.
	 */
	{"deadlines",
		"SELECT a.order_id, pg_catalog.format('case %s is %s, but %s', a.aftersale_id, a.state, "
		" CASE WHEN a.due_at IS NULL THEN 'no deadline runs (due_at is null)' "
		"  WHEN a.due_at" LT "a.requested_at THEN pg_catalog.format("
		"   'its due_at %s is before its request', a.due_at) "
		"  ELSE pg_catalog.format('a deadline runs (due_at %s)', a.due_at) END) "
		"FROM customorder.aftersales a "
		"WHERE CASE WHEN a.state" EQ "'arbitration' THEN a.due_at IS NOT NULL "
		" WHEN " OPEN_CASE_A " "
		" THEN a.due_at IS NULL OR a.due_at" LT "a.requested_at "
		" WHEN a.state" EQ "'rejected' THEN a.due_at" LT "a.requested_at "
		" ELSE a.due_at IS NOT NULL END AND" ORDER_OF("a")
		"UNION ALL "
		"SELECT o.order_id, pg_catalog.format('late_at %s, but ship_by %s, shipped_at %s', "
		" o.late_at, COALESCE(o.ship_by::pg_catalog.text, 'null'), "
		" COALESCE(o.shipped_at::pg_catalog.text, 'null')) "
		"FROM customorder.orders o WHERE o.late_at IS NOT NULL "
		"AND (o.ship_by IS NULL OR o.late_at" LT "o.ship_by OR o.shipped_at" LT "o.late_at) "
		"AND" ORDER_OF("o"),
		true
	},

	/*
	 * V4: every money decision is one refund: a refunded case has exactly
	 * one refund of its amount and every refund names a case of its order,
	 * so with refund_sum the order's refunded_amount is the sum of its
	 * refunds (a failed refund still counts: the money is owed).
	 */
	{"refund_rows",
		"SELECT a.order_id, pg_catalog.format('case %s is %s with refund_amount %s, but has %s refunds of %s', "
		" a.aftersale_id, a.state, COALESCE(a.refund_amount::pg_catalog.text, 'null'), s.n, "
		" COALESCE(s.total::pg_catalog.text, 'nothing')) "
		"FROM customorder.aftersales a "
		"CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n, pg_catalog.sum(r.amount) AS total "
		" FROM customorder.refunds r WHERE r.order_id" EQ "a.order_id "
		" AND r.aftersale_id" EQ "a.aftersale_id AND" ORDER_OF("r") ") s "
		"WHERE CASE WHEN a.state" EQ "ANY (" REFUNDED_CASE ") AND a.refund_amount IS NOT NULL "
		" THEN s.n" NE "1 OR s.total" NE "a.refund_amount ELSE s.n" NE "0 END "
		"AND" ORDER_OF("a")
		"UNION ALL "
		"SELECT r.order_id, pg_catalog.format('refund %s names case %s, not a case of its order', "
		" r.refund_no, r.aftersale_id) "
		"FROM customorder.refunds r WHERE NOT EXISTS (SELECT 1 FROM customorder.aftersales a "
		" WHERE a.order_id" EQ "r.order_id AND a.aftersale_id" EQ "r.aftersale_id "
		" AND" ORDER_OF("a") ") AND" ORDER_OF("r"),
		true
	},

	/*
	 * V4: a refund's state agrees with its columns, and its refund_no is
	 * the trigger's CO<order_id>-<refund_id> (unique across orders, as the
	 * refunds' key is, and the order id the payment service's reports are
	 * routed by)
	 */
	{"refund_state",
		"SELECT r.order_id, pg_catalog.format('refund %s is %s, but %s', r.refund_no, r.state, c.detail) "
		"FROM customorder.refunds r "
		VIOLATIONS(
				   BAD("r.refund_no" NE "pg_catalog.format('CO%s-%s', r.order_id, r.refund_id)",
					   "pg_catalog.format('its refund_no is not CO%s-%s', r.order_id, r.refund_id)") ", "
				   BAD("r.state" NE "ALL ('{pending,succeeded,failed}'::pg_catalog.text[])",
					   "'that is not a refund state'") ", "
				   BAD("r.amount" LE "0",
					   "pg_catalog.format('its amount %s is not positive', r.amount)") ", "
				   BAD("r.state" EQ "'succeeded' AND (r.payment_ref IS NULL OR r.settled_at IS NULL)",
					   "'its payment_ref or settled_at is null'") ", "
				   BAD("r.state" EQ "'failed' AND (r.error IS NULL OR r.settled_at IS NULL)",
					   "'its error or settled_at is null'") ", "
				   BAD("r.state" EQ "'pending' AND r.settled_at IS NOT NULL",
					   "'settled_at is set'") ", "
				   BAD("r.settled_at" LT "r.created_at",
					   "pg_catalog.format('it settled at %s, before it was created at %s', "
					   "r.settled_at, r.created_at)"))
		"WHERE c.bad AND" ORDER_OF("r"),
		true
	},

	/*
	 * A case's order is in case_orders, where the after-sale buttons look it
	 * up by the case's id: request_refund writes the row; a case inserted by
	 * raw SQL has none until it is added (its buttons then scan aftersales
	 * by aftersale_id, on Citus every shard).
	 */
	LOOKUP_CHECK("case_orders", CASE_ORDERS_CHECK, "case_orders", "c",
				 "c.aftersale_id, c.order_id", false, LOOKUP_EACH_CASE,
				 "c.aftersale_id" EQ "$7", " AND a.aftersale_id" EQ "$7"),

	/* ... and every case_orders row is a case's */
	LOOKUP_CHECK("case_orders", CASE_ORDERS_CASE_CHECK, "aftersales", "a",
				 "a.aftersale_id", true, LOOKUP_NONE, "false", ""),

	/*
	 * H3: an order's pay_no is claimed in payments for that order (place_order
	 * writes both) ...
	 */
	LOOKUP_CHECK("payments", PAYMENTS_CHECK, "payments", "p",
				 "p.pay_no, p.order_id", false, LOOKUP_PAY_NO,
				 "p.pay_no" EQ "$8", ""),

	/* ... and every payment is the pay_no of its order */
	LOOKUP_CHECK("payments", PAYMENTS_ORDER_CHECK, "orders", "o",
				 "o.order_id, o.pay_no", true, LOOKUP_NONE, "false", ""),

	/* V1, H2: an order's events never go back in time */
	{"event_order",
		"SELECT e.order_id, pg_catalog.format('event %s at %s is before the event before it, at %s', "
		" e.event_id, e.at, e.prev) "
		"FROM (SELECT l.order_id, l.event_id, l.at, "
		" pg_catalog.lag(l.at) OVER (PARTITION BY l.order_id ORDER BY l.event_id) AS prev "
		" FROM customorder.events l WHERE" ORDER_OF("l") ") e "
		"WHERE e.at" LT "e.prev",
		true
	},

	/*
	 * H2: an order's last_stamp_at is the latest of its stamps and events,
	 * the time its next event starts from
	 */
	{"last_stamp",
		"SELECT o.order_id, pg_catalog.format('event %s at %s is after the order''s last_stamp_at %s', "
		" e.event_id, e.at, o.last_stamp_at) "
		"FROM customorder.orders o "
		"JOIN customorder.events e ON e.order_id" EQ "o.order_id "
		"WHERE e.at" GT "o.last_stamp_at AND" ORDER_OF("o"),
		true
	},
};

/*
 * The text of a check as verify() (one false) or verify(order_id) runs it:
 * each ORDER_OF mark becomes "true", or its alias's order_id = $6.
 */
static char *
check_text(const char *sql, bool one)
{
	StringInfoData buf;
	const char *p = sql;
	const char *mark;

	initStringInfo(&buf);
	while ((mark = strstr(p, "$(")) != NULL)
	{
		const char *alias = mark + 2;
		const char *end = strchr(alias, ')');

		if (end == NULL)
			elog(ERROR, "verify: unclosed ORDER_OF mark in \"%s\"", sql);
		appendBinaryStringInfo(&buf, p, mark - p);
		if (one)
			appendStringInfo(&buf, "%.*s.order_id" EQ "$6",
							 (int) (end - alias), alias);
		else
			appendStringInfoString(&buf, "true");
		p = end + 1;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/* Name the check whose query failed (a plan Citus refuses, say) */
static void
verify_error_context(void *arg)
{
	errcontext("verify: check %s", ((const VerifyCheck *) arg)->invariant);
}

/* Run one check's plan and add its violations to the result */
static void
run_check(SPIPlanPtr plan, Datum *args, const VerifyCheck *check,
		  ReturnSetInfo *rsinfo)
{
	Datum		invariant = CStringGetTextDatum(check->invariant);
	uint64		r;

	co_execute(plan, args, NULL, true, 0);
	for (r = 0; r < SPI_processed; r++)
	{
		Datum		values[3];
		bool		nulls[3];

		values[0] = invariant;
		nulls[0] = false;
		values[1] = SPI_getbinval(SPI_tuptable->vals[r],
								  SPI_tuptable->tupdesc, 1, &nulls[1]);
		values[2] = SPI_getbinval(SPI_tuptable->vals[r],
								  SPI_tuptable->tupdesc, 2, &nulls[2]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	SPI_freetuptable(SPI_tuptable);
}

/* The ids of the cases of order "order_id" (one router query on Citus) */
static List *
order_case_ids(Datum order_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	List	   *ids = NIL;
	uint64		r;
	bool		isnull;

	co_execute(co_prepare(&plan,
						  "SELECT a.aftersale_id FROM customorder.aftersales a "
						  "WHERE a.order_id" EQ "$1 ORDER BY a.aftersale_id",
						  1, argtypes),
			   &order_id, NULL, true, 0);
	for (r = 0; r < SPI_processed; r++)
	{
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
										  SPI_tuptable->tupdesc, 1, &isnull));
		ids = lappend(ids, id);
	}
	SPI_freetuptable(SPI_tuptable);
	return ids;
}

/*
 * verify(): run every check under the caller's snapshot (read-only SPI, so
 * all of them see the same database) and tag each violation with its
 * invariant.  verify(order_id) (V5): each check restricted to the order on
 * every table it reads, so its time does not grow with the tables; on
 * Citus each a router query, the lookup checks one per key the order names.
 */
Datum
co_verify(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plans[2][2][lengthof(checks)];
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[VERIFY_NARGS] = {INT4OID, INT4OID, INT8OID, INT8OID,
	INT4OID, INT8OID, INT8OID, TEXTOID};
	Datum		args[VERIFY_NARGS];
	bool		one = PG_NARGS() == 1;
	bool		distributed;
	OrderRow	order;
	List	   *case_ids = NIL;
	ListCell   *lc;
	ErrorContextCallback errcallback;
	int			i;

	args[0] = Int32GetDatum(CO_MAX_IMAGES);
	args[1] = Int32GetDatum(CO_MAX_VIDEOS);
	args[2] = Int64GetDatum(CO_MAX_IMAGE_BYTES);
	args[3] = Int64GetDatum(CO_MAX_VIDEO_BYTES);
	args[4] = Int32GetDatum(CO_MAX_URI_CHARS);
	args[5] = Int64GetDatum(0);
	args[6] = Int64GetDatum(0);
	args[7] = CStringGetTextDatum("");
	if (one)
	{
		co_require_arg(fcinfo, 0, "verify", "order_id");
		args[5] = PG_GETARG_DATUM(0);
		co_authorize("verify", CO_WHO_PLATFORM, 0, 0);
		co_order_fetch(DatumGetInt64(args[5]), "verify", false, &order);
	}

	InitMaterializedSRF(fcinfo, 0);
	distributed = co_distributed();
	co_connect();
	if (one && distributed)
		case_ids = order_case_ids(args[5]);
	errcallback.callback = verify_error_context;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	for (i = 0; i < lengthof(checks); i++)
	{
		const char *sql;
		SPIPlanPtr *plan;

		if (checks[i].v11 && !co_row_has(&co_cases_table, CC_DUE_AT))
			continue;
		if (one && checks[i].whole_only)
			continue;
		sql = checks[i].sql;
		if (distributed && checks[i].distributed_sql)
			sql = one ? checks[i].distributed_order_sql :
				checks[i].distributed_sql;

		errcallback.arg = (void *) &checks[i];
		plan = &plans[sql != checks[i].sql][one][i];
		if (*plan == NULL)
			co_prepare(plan, check_text(sql, one), VERIFY_NARGS, argtypes);
		if (!one || !distributed || checks[i].lookup == LOOKUP_NONE)
			run_check(*plan, args, &checks[i], rsinfo);
		else if (checks[i].lookup == LOOKUP_EACH_CASE)
		{
			foreach(lc, case_ids)
			{
				args[6] = Int64GetDatum(*(int64 *) lfirst(lc));
				run_check(*plan, args, &checks[i], rsinfo);
			}
		}
		else if (!order.isnull[OC_PAY_NO])
		{
			args[7] = order.v[OC_PAY_NO];
			run_check(*plan, args, &checks[i], rsinfo);
		}
	}
	error_context_stack = errcallback.previous;
	co_finish();
	return (Datum) 0;
}
