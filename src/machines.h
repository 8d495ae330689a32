/*-------------------------------------------------------------------------
 *
 * machines.h
 *	  The order and after-sale case machines as the triggers, buttons and
 *	  queries see them: their rule columns, their rows, the predicates of
 *	  refund eligibility both use (F1-F7), and fetch by id.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_MACHINES_H
#define CUSTOMORDER_MACHINES_H

#include "engine.h"

/* The rule columns of customorder.orders, in co_orders_table's order */
typedef enum OrderCol
{
	OC_ORDER_ID,
	OC_SHOP_ID,
	OC_PRODUCT_ID,
	OC_BUYER_ID,
	OC_AMOUNT,
	OC_IS_CUSTOM,
	OC_PAID_AT,
	OC_SHIP_BY,
	OC_STATE,
	OC_CUSTOM_STARTED_AT,
	OC_TRACKING_NO,
	OC_SHIPPED_AT,
	OC_SIGNED_AT,
	OC_REFUNDED_AMOUNT,
	OC_CATEGORY_ID,
	OC_START_LOCK,
	OC_HIGH_SCORE_THRESHOLD,
	OC_EVIDENCE_REVIEW,
	OC_PROMISED_SHIP,
	OC_EVIDENCE_BUNDLE_ID,
	OC_OPEN_AFTERSALE_ID,
	OC_CLOSED_AT,
	/* 1.1 (a 1.0 database not yet updated lacks them: they read NULL) */
	OC_PAY_NO,
	OC_LAST_STAMP_AT,			/* the latest stamp of the order and its cases */
	OC_LATE_AT,					/* 1.1 (T1): the first optional column */
	OC_LATE_REFUND_INSTANT,
	OC_COUNT
} OrderCol;

/* The rule columns of customorder.aftersales, in co_cases_table's order */
typedef enum CaseCol
{
	CC_ORDER_ID,
	CC_AFTERSALE_ID,
	CC_KIND,
	CC_REASON,
	CC_STATE,
	CC_REQUESTED_AT,
	CC_REFUND_AMOUNT,
	CC_PROPOSED_AMOUNT,
	CC_COMM_REASON,
	CC_COMMUNICATED_AT,
	CC_REJECT_REASON,
	CC_PROOF_BUNDLE_ID,
	CC_TRACKING_NO,
	CC_BUYER_BUNDLE_ID,
	CC_CLOSED_AT,
	CC_DUE_AT,					/* 1.1 (T1): the first optional column */
	CC_RETURN_TRACKING_NO,		/* 1.1 (R2): the buyer's return shipment */
	CC_RETURN_SHIPPED_AT,
	CC_ESCALATED_AT,			/* 1.1 (P1, P3): platform arbitration */
	CC_ESCALATION_NOTE,
	CC_ARBITRATION_NOTE,
	CC_COUNT
} CaseCol;

typedef CoRow OrderRow;
typedef CoRow CaseRow;

#define ORD_ID(r)			DatumGetInt64((r)->v[OC_ORDER_ID])
#define ORD_IS_CUSTOM(r)	DatumGetBool((r)->v[OC_IS_CUSTOM])
#define ORD_PAID_AT(r)		DatumGetTimestampTz((r)->v[OC_PAID_AT])
#define CASE_ID(r)			DatumGetInt64((r)->v[CC_AFTERSALE_ID])

typedef enum CaseKind
{
	KIND_REFUND_ONLY,
	KIND_RETURN_REFUND,
	KIND_COUNT
} CaseKind;

typedef enum CaseReason
{
	REASON_NO_REASON,
	REASON_QUALITY,
	REASON_WRONG_QUANTITY,
	REASON_NOT_RECEIVED,
	REASON_NOT_AS_AGREED,
	REASON_COUNT
} CaseReason;

/* The five scenario-2 communication reasons (A2.2) */
typedef enum CommReason
{
	COMM_IN_TRANSIT,
	COMM_NEGOTIATE_AMOUNT,
	COMM_INVITE_EVIDENCE,
	COMM_AGREEMENT_REACHED,
	COMM_SIGNED_NOT_RECEIVED,
	COMM_COUNT
} CommReason;

extern const char *const co_order_col_names[OC_COUNT];
extern const char *const co_case_col_names[CC_COUNT];
extern const char *const co_comm_reason_names[COMM_COUNT];
extern const char *const co_kind_names[KIND_COUNT];
extern const char *const co_reason_names[REASON_COUNT];

/* eligibility.c: the predicates of F1-F7 */
extern bool co_order_in_effect(OrderState state);
extern bool co_order_before_shipment(OrderState state);
extern bool co_order_shipped(const OrderRow *order);
extern bool co_order_instant_refund_applies(const OrderRow *order);
extern bool co_no_reason_return_covered(const OrderRow *order,
										TimestampTz asked_at);
extern Datum co_order_remaining(const OrderRow *order);
extern bool co_case_is_open(CaseState state);
extern bool co_case_return_needed(const CaseRow *c, const OrderRow *order);

/* deadlines.c: SPEC §7's deadlines as data */
typedef struct CoDeadlineDef
{
	int			party;			/* CO_WHO_MERCHANT or CO_WHO_BUYER */
	uint32		runs_in;		/* bits (1 << CaseState) of the states it runs in */
	int			proposal;		/* -1 either; 0 no proposal pending; 1 pending */
	CoAction	on_expiry;		/* what the system presses when it passes */
	const char *on_expiry_text;
} CoDeadlineDef;

extern const CoDeadlineDef co_deadline_defs[DL_COUNT];
extern CoDeadline co_case_deadline(const CaseRow *c);
extern TimestampTz co_deadline_start(CoDeadline dl, const OrderRow *order,
									 TimestampTz now);
extern CoRefusal *co_case_overdue(const CoGuardCtx *ctx, CoAction action);
extern CoRefusal *co_guard_deadline_passed(const CoGuardCtx *ctx);

/* fetch.c: rows by id, locked or not; a missing one is P0002 */
extern void co_order_fetch(int64 order_id, const char *button, bool lock,
						   OrderRow *row);
extern void co_case_fetch(int64 aftersale_id, const char *button, bool lock,
						  CaseRow *row, OrderRow *order);
extern void co_case_fetch_in_order(int64 order_id, int64 aftersale_id,
								   const char *button, bool lock,
								   CaseRow *row, OrderRow *order);
extern bool co_case_order_id(int64 aftersale_id, int64 *order_id);
extern void co_case_decode_request(CaseRow *row);
extern void co_case_check_request(const CaseRow *row);
extern void co_authorize_order(const char *button, int who,
							   const OrderRow *order);

/* H2: a stamp for this order or its cases, never before its latest */
extern TimestampTz co_order_stamp(const OrderRow *order);
extern bool co_order_behind(const OrderRow *order, TimestampTz at);
extern void co_order_restamp(const OrderRow *order, TimestampTz at);

/* order_trigger.c / case_trigger.c: what a press of each machine writes */
extern OrderState co_order_press(int64 order_id, CoAction action,
								 const char *button, int who,
								 OrderCol col, Datum value, bool isnull);

extern void co_case_press(int64 order_id, int64 aftersale_id, CoAction action,
						  const char *button, int who, SPIPlanPtr plan,
						  const Datum *values, const char *nulls);

/*
 * refunds.c (V4): record a money decision (the case trigger, where money
 * moves; a confirmed return and an arbitration reach it as refunded cases)
 */
extern void co_refund_decide(int64 order_id, int64 aftersale_id, Datum amount,
							 Datum stamp);

/* events.c: one order's rows as a query function's result (H6 checked) */
extern void co_order_rows(FunctionCallInfo fcinfo, const char *button,
						  SPIPlanPtr *plan, const char *sql);

/* evidence: store a bundle of items for an order (and case) */
extern int64 co_evidence_store(int64 order_id, const char *purpose,
							   Datum aftersale_id, bool aftersale_isnull,
							   Jsonb *items, const char *button);

#endif							/* CUSTOMORDER_MACHINES_H */
