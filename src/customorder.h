/*-------------------------------------------------------------------------
 *
 * customorder.h
 *	  What the C files of customorder share: states, actions, the order row
 *	  as the triggers and buttons see it, the state machines' table rows,
 *	  the clock and the SPI helpers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_H
#define CUSTOMORDER_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define CO_SCHEMA "customorder"

/* Evidence limits (rule E1) */
#define CO_MAX_IMAGES			10
#define CO_MAX_IMAGE_BYTES		INT64CONST(10485760)	/* 10 MiB */
#define CO_MAX_VIDEOS			3
#define CO_MAX_VIDEO_BYTES		INT64CONST(157286400)	/* 150 MiB */
#define CO_MAX_URI_CHARS		2048

/* Rule F6: the ordinary order's no-reason return window, from signing */
#define CO_SEVEN_DAYS_USEC		(INT64CONST(7) * USECS_PER_DAY)

/*
 * Order states (customorder.order_state), in the enum's declaration order.
 */
typedef enum OrderState
{
	OS_PAID,
	OS_AWAITING_EVIDENCE,
	OS_EVIDENCE_REVIEW,
	OS_IN_PRODUCTION,
	OS_SHIPPED,
	OS_SIGNED,
	OS_CANCELLED,
	OS_REFUNDED,
	OS_COUNT
} OrderState;

/*
 * After-sale case states (customorder.aftersale_state).  CS_NONE stands for
 * "no case yet": the from-state of the rows that open a case.
 */
typedef enum CaseState
{
	CS_INSTANT_REFUNDED,
	CS_REQUESTED,
	CS_REJECTING,
	CS_COMMUNICATING,
	CS_NEGOTIATING,
	CS_AWAITING_BUYER_EVIDENCE,
	CS_REFUNDED,
	CS_REJECTED,
	CS_CLOSED_BY_SHIPMENT,
	CS_WITHDRAWN,
	CS_COUNT,
	CS_NONE = CS_COUNT
} CaseState;

extern const char *const co_order_state_names[OS_COUNT];
extern const char *const co_case_state_names[CS_COUNT + 1];

/*
 * The columns of customorder.orders the rules read, in one fixed order.
 * Triggers map them onto the table's attribute numbers; buttons select them
 * in this order.
 */
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
	OC_COUNT
} OrderCol;

extern const char *const co_order_col_names[OC_COUNT];

typedef struct OrderRow
{
	Datum		v[OC_COUNT];
	bool		isnull[OC_COUNT];
	OrderState	state;
} OrderRow;

/* Convenience accessors */
#define ORD_ID(r)			DatumGetInt64((r)->v[OC_ORDER_ID])
#define ORD_IS_CUSTOM(r)	DatumGetBool((r)->v[OC_IS_CUSTOM])
#define ORD_PAID_AT(r)		DatumGetTimestampTz((r)->v[OC_PAID_AT])

/*
 * Actions: the names of the buttons (and the logistics and platform events)
 * that change an order or a case.
 */
typedef enum CoAction
{
	ACT_PLACE_ORDER,
	ACT_START,
	ACT_SUBMIT_EVIDENCE,
	ACT_REVIEW_APPROVE,
	ACT_REVIEW_REJECT,
	ACT_SHIP,
	ACT_MARK_SIGNED,
	ACT_REQUEST_REFUND,
	ACT_WITHDRAW,
	ACT_AGREE_REFUND,
	ACT_INSIST_REJECT,
	ACT_COMMUNICATE,
	ACT_CONTINUE_REJECT,
	ACT_INSIST_SHIP,
	ACT_PROPOSE_AMOUNT,
	ACT_ACCEPT_AMOUNT,
	ACT_DECLINE_AMOUNT,
	ACT_SUPPLEMENT_EVIDENCE,
	ACT_COUNT
} CoAction;

extern const char *const co_action_names[ACT_COUNT];

/*
 * A guard's refusal: everything ereport needs.  NULL means the guard passed.
 */
typedef struct CoRefusal
{
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
} CoRefusal;

/*
 * What an order guard sees.  "probe" is set when order_buttons asks whether a
 * button would be blue: checks of the button's own arguments are skipped.
 */
typedef struct OrderGuardCtx
{
	const OrderRow *old;
	const OrderRow *new;
	bool		probe;
} OrderGuardCtx;

typedef CoRefusal *(*OrderGuardFn) (const OrderGuardCtx *ctx);

typedef struct OrderTransition
{
	OrderState	from;
	CoAction	action;
	OrderState	to;
	OrderGuardFn guard;
	const char *guard_name;
	const char *rule;
} OrderTransition;

extern const OrderTransition co_order_transitions[];
extern const int co_order_transition_count;

/*
 * Internal permits: a trigger that changes another row of the same order
 * (the case trigger applying a refund to its order, the item trigger
 * counting into its bundle) says so here, for that order only.
 */
typedef enum CoPermitKind
{
	PERMIT_NONE = 0,
	PERMIT_BUNDLE_COUNT,		/* item trigger maintains bundle counters */
	PERMIT_ORDER_CASE			/* case trigger applies money / open case */
} CoPermitKind;

typedef struct CoPermit
{
	CoPermitKind kind;
	int64		order_id;
} CoPermit;

extern CoPermit co_permit;

/* clock.c */
extern TimestampTz co_now(void);
extern void co_define_gucs(void);
extern int64 co_acting_shop_id(void);
extern int64 co_acting_buyer_id(void);

/* actors.c: who may press a button */
#define CO_WHO_PLATFORM		0x01
#define CO_WHO_MERCHANT		0x02
#define CO_WHO_BUYER		0x04
#define CO_WHO_SUPERUSER	0x08	/* reported by the lookup only */
#define CO_WHO_ANYONE		(CO_WHO_PLATFORM | CO_WHO_MERCHANT | CO_WHO_BUYER)
extern void co_authorize(const char *button, int who, int64 shop_id,
						 int64 buyer_id);
extern void co_authorize_order(const char *button, int who,
							   const OrderRow *order);

/* util.c */
extern SPIPlanPtr co_prepare(SPIPlanPtr *cache, const char *sql,
							 int nargs, const Oid *argtypes);
extern int	co_execute(SPIPlanPtr plan, const Datum *values, const char *nulls,
					   bool read_only, long count);
extern int	co_execute_permitted(CoPermitKind kind, int64 order_id,
								 SPIPlanPtr plan, const Datum *values,
								 const char *nulls, long count);
extern void co_connect(void);
extern void co_finish(void);
extern Oid	co_order_state_type(void);
extern Oid	co_case_state_type(void);
extern Datum co_order_state_datum(OrderState state);
extern OrderState co_order_state_from_datum(Datum d);
extern Datum co_case_state_datum(CaseState state);
extern CaseState co_case_state_from_datum(Datum d);
extern int	co_lookup_label(const char *const *labels, int nlabels,
							const char *value);
extern char *co_timestamptz_str(TimestampTz t);
extern char *co_interval_str(Datum interval);
extern char *co_numeric_str(Datum num);
extern void co_require_arg(FunctionCallInfo fcinfo, int argno,
						   const char *button, const char *argname);
extern void co_raise(CoRefusal *refusal) pg_attribute_noreturn();
extern CoRefusal *co_refusal(int sqlerrcode, const char *message,
							 const char *detail, const char *hint);
extern CoRefusal *co_tracking_refusal(const char *button, const char *rule,
									  bool isnull, Datum tracking_no,
									  const char *detail_if_missing,
									  const char *detail_if_empty);
extern char *co_text_arg(FunctionCallInfo fcinfo, int argno);
extern void co_check_money(Datum amount, const char *button,
						   const char *argname, bool must_fit_column);

/* order.c */
extern void co_order_fetch(int64 order_id, const char *button, bool lock,
						   OrderRow *row);
extern void co_order_row_from_tuple(HeapTuple tuple, TupleDesc tupdesc,
									OrderRow *row);
extern const OrderTransition *co_order_choose(const OrderRow *old,
											  CoAction action,
											  OrderRow *proposed,
											  bool probe,
											  CoRefusal **refusal);
extern OrderState co_order_apply(const OrderRow *old, CoAction action,
								 OrderRow *proposed);
extern bool co_order_in_effect(OrderState state);
extern bool co_order_before_shipment(OrderState state);

/* evidence.c */
extern int64 co_evidence_store(int64 order_id, const char *purpose,
							   Datum aftersale_id, bool aftersale_isnull,
							   Jsonb *items, const char *button);

/* refunds.c */
extern bool co_order_instant_refund_applies(const OrderRow *row);

#endif							/* CUSTOMORDER_H */
