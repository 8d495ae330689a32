/*-------------------------------------------------------------------------
 *
 * evidence.h
 *	  What evidence_items.c and evidence_bundles.c share: the two evidence
 *	  tables as the rules see them (rows.h), and the items parser and
 *	  inserter that co_evidence_store runs between creating a bundle and
 *	  submitting it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_EVIDENCE_H
#define CUSTOMORDER_EVIDENCE_H

#include "engine.h"

#include "nodes/pg_list.h"

/* The rule columns of customorder.evidence_bundles, in co_bundles_table's order */
typedef enum BundleCol
{
	BC_ORDER_ID,
	BC_BUNDLE_ID,
	BC_PURPOSE,
	BC_AFTERSALE_ID,
	BC_CREATED_AT,
	BC_SUBMITTED_AT,
	BC_IMAGE_COUNT,
	BC_VIDEO_COUNT,
	BC_REVIEW_STATE,
	BC_REVIEW_NOTE,
	BC_REVIEWED_AT,
	BC_COUNT
} BundleCol;

/* The rule columns of customorder.evidence_items, in co_items_table's order */
typedef enum ItemCol
{
	IC_ORDER_ID,
	IC_BUNDLE_ID,
	IC_ITEM_NO,
	IC_TYPE,
	IC_MIME,
	IC_BYTES,
	IC_URI,
	IC_SHA256,
	IC_COUNT
} ItemCol;

/* A bundle's states, read from submitted_at and review_state */
typedef enum BundleState
{
	BS_OPEN,
	BS_SUBMITTED,
	BS_APPROVED,
	BS_REJECTED,
	BS_COUNT,
	BS_NONE = BS_COUNT
} BundleState;

extern const char *const co_bundle_state_names[BS_COUNT + 1];

/* evidence_machine.c */
extern BundleState co_bundle_state(const CoRow *row);
extern CoRefusal *co_bundle_sealed(const CoRow *row, const char *what);

extern CoTable co_bundles_table;	/* evidence_bundles.c */
extern CoTable co_items_table;	/* evidence_items.c */

/* evidence_items.c: an items array as submitted, checked for shape (E2) */
extern List *co_evidence_parse_items(Jsonb *items, const char *button);
extern void co_evidence_insert_items(int64 order_id, int64 bundle_id,
									 List *parsed, const char *button);

#endif							/* CUSTOMORDER_EVIDENCE_H */
