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
#define CO_MAX_NOTE_CHARS		500	/* H8: free text (a review note) */

/*
 * L1, H7: a custom product's label is valid while its category is
 * custom-enabled and its shop holds an approval for that category.  An SQL
 * condition on products p joined with categories c; "lock" is a locking
 * clause for the approval ("FOR SHARE" when an order is judged on it, H9)
 * or "".  place_order, product_badges and verify() read this one text.
 */
#define CO_LABEL_VALID_SQL(lock) \
	CO_LABEL_VALID_SQL_IN("customorder.custom_approvals", lock)
/* ... with the approvals read from the relation "approvals" */
#define CO_LABEL_VALID_SQL_IN(approvals, lock) \
	"(c.custom_enabled AND EXISTS (" \
	"  SELECT 1 FROM " approvals " a " \
	"  WHERE a.shop_id OPERATOR(pg_catalog.=) p.shop_id " \
	"  AND a.category_id OPERATOR(pg_catalog.=) p.category_id " lock "))"

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
	CS_AWAITING_RETURN,			/* 1.1 (R1-R3): inserted before refunded, so */
	CS_RETURN_SHIPPED,			/* the open states stay one range of the */
	CS_ARBITRATION,				/* enum (P1; see aftersales_one_open_case) */
	CS_REFUNDED,
	CS_REJECTED,
	CS_CLOSED_BY_SHIPMENT,
	CS_WITHDRAWN,
	CS_LAPSED,
	CS_UPHELD,					/* 1.1 (P3) */
	CS_COUNT,
	CS_NONE = CS_COUNT
} CaseState;

extern const char *const co_order_state_names[OS_COUNT];
extern const char *const co_case_state_names[CS_COUNT + 1];

/*
 * Actions: the names of the buttons (and the logistics and platform events)
 * that change an order or a case, and the steps of storing an evidence
 * bundle.
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
	ACT_OPEN_BUNDLE,
	ACT_ADD_ITEM,
	ACT_SUBMIT_BUNDLE,
	ACT_LAPSE,					/* deadlines (T3): the system's own steps */
	ACT_MAKE_FINAL,
	ACT_MARK_LATE,
	ACT_DECIDE_REFUND,			/* refund execution (V4): the refund machine */
	ACT_REFUND_SUCCEEDED,
	ACT_REFUND_FAILED,
	ACT_RETRY_REFUND,
	ACT_SHIP_RETURN,			/* returns (R2-R4) */
	ACT_CONFIRM_RETURN,
	ACT_REFUSE_RETURN,
	ACT_ESCALATE,				/* platform arbitration (P1-P3) */
	ACT_ARBITRATION_EVIDENCE,
	ACT_ARBITRATE,
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
 * Internal permits: a trigger that changes another row of the same order
 * (the case trigger applying a refund to its order, the item trigger
 * counting into its bundle) says so here, for that order only.
 */
typedef enum CoPermitKind
{
	PERMIT_NONE = 0,
	PERMIT_BUNDLE_COUNT,		/* item trigger maintains bundle counters */
	PERMIT_ORDER_CASE,			/* case trigger applies money / open case */
	PERMIT_ORDER_STAMP,			/* an event of a bundle or refund moves the
								 * order's latest stamp (H2) */
	PERMIT_REFUND				/* case trigger records a money decision (V4) */
} CoPermitKind;

typedef struct CoPermit
{
	CoPermitKind kind;
	int64		order_id;
} CoPermit;

extern CoPermit co_permit;

/* worker.c: the deadline worker (T4) */
extern void co_define_worker_gucs(void);
extern void co_register_worker(void);

/* clock.c */
extern TimestampTz co_now(void);
extern const char *co_clock_setting(void);
extern void co_define_clock_guc(void);

/* actors.c: who may press a button */
#define CO_WHO_PLATFORM		0x01
#define CO_WHO_MERCHANT		0x02
#define CO_WHO_BUYER		0x04
#define CO_WHO_SUPERUSER	0x08	/* reported by the lookup only */
#define CO_WHO_ANYONE		(CO_WHO_PLATFORM | CO_WHO_MERCHANT | CO_WHO_BUYER)
extern void co_define_actor_gucs(void);
extern int64 co_acting_shop_id(void);
extern int64 co_acting_buyer_id(void);
extern void co_authorize_order_id(const char *button, int who, int64 order_id);
extern void co_authorize(const char *button, int who, int64 shop_id,
						 int64 buyer_id);
extern bool co_caller_is_platform(void);
extern const char *co_caller_actor_kind(void);

/* outbox.c: customorder.claim_lease (V3) */
extern void co_define_outbox_gucs(void);

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
extern void co_spi_to_srf(FunctionCallInfo fcinfo);
extern void co_check_money(Datum amount, const char *button,
						   const char *argname, bool must_fit_column);

#endif							/* CUSTOMORDER_H */
