/*-------------------------------------------------------------------------
 *
 * aftersale.h
 *	  The after-sale case as the case trigger and the case buttons see it,
 *	  and the case machine's table rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_AFTERSALE_H
#define CUSTOMORDER_AFTERSALE_H

#include "customorder.h"

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
	CC_COUNT
} CaseCol;

extern const char *const co_case_col_names[CC_COUNT];

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

extern const char *const co_comm_reason_names[COMM_COUNT];
extern const char *const co_kind_names[KIND_COUNT];
extern const char *const co_reason_names[REASON_COUNT];

typedef struct CaseRow
{
	Datum		v[CC_COUNT];
	bool		isnull[CC_COUNT];
	CaseState	state;
	int			kind;			/* CaseKind; -1 unknown, -2 null */
	int			reason;			/* CaseReason; -1 unknown, -2 null */
} CaseRow;

typedef struct CaseGuardCtx
{
	const CaseRow *old;			/* NULL when the case is being opened */
	const CaseRow *new;
	const OrderRow *order;		/* locked */
	bool		probe;
} CaseGuardCtx;

typedef CoRefusal *(*CaseGuardFn) (const CaseGuardCtx *ctx);

typedef struct CaseTransition
{
	CaseState	from;
	CoAction	action;
	CaseState	to;
	CaseGuardFn guard;
	const char *guard_name;
	uint32		may_change;		/* bits (1 << CaseCol) the action writes */
	const char *rule;
} CaseTransition;

#define CASE_BIT(col) (((uint32) 1) << (col))

extern const CaseTransition co_case_transitions[];
extern const int co_case_transition_count;

extern bool co_case_is_open(CaseState state);
extern void co_case_fetch(int64 aftersale_id, const char *button, bool lock,
						  CaseRow *row, OrderRow *order);
extern const CaseTransition *co_case_choose(const CaseRow *old,
											const OrderRow *order,
											CoAction action,
											CaseRow *proposed, bool probe,
											CoRefusal **refusal);
extern void co_case_write(const CaseRow *proposed);
extern bool co_no_reason_return_covered(const OrderRow *row,
										TimestampTz asked_at);
extern Datum co_order_remaining(const OrderRow *row);

#endif							/* CUSTOMORDER_AFTERSALE_H */
