/*-------------------------------------------------------------------------
 *
 * engine.h
 *	  The one transition engine every state machine runs on.
 *
 *	  A machine is a static table of transitions: from, action, to, guard,
 *	  the columns the action may write, the stamp it sets, its deadline
 *	  effect and its rule ids.  The engine chooses a row by action (a
 *	  button's intent, order_buttons' probe) or by (from, to) (a raw
 *	  UPDATE), runs its guard once, and publishes every table through
 *	  customorder.transitions().
 *
 *	  A button expresses intent: it declares its action for one row (the
 *	  "press") and writes that row; the row's trigger then chooses by action
 *	  and decides, once.  A raw UPDATE carries no press and is judged by
 *	  (from, to).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CUSTOMORDER_ENGINE_H
#define CUSTOMORDER_ENGINE_H

#include "rows.h"

#include "commands/trigger.h"

/*
 * A row of a machine's table as the rules see it: the rule columns (the
 * table's enum order) and what is decoded from them.
 */
typedef struct CoRow
{
	Datum		v[CO_MAX_COLS];
	bool		isnull[CO_MAX_COLS];
	int			state;			/* OrderState or CaseState */
	int			kind;			/* cases: CaseKind; -1 unknown, -2 null */
	int			reason;			/* cases: CaseReason; -1 unknown, -2 null */
} CoRow;

/*
 * What a guard sees.  "probe" is set when order_buttons asks whether a
 * button would be blue: checks of the button's own arguments are skipped.
 */
typedef struct CoGuardCtx
{
	const CoRow *old;			/* the row as it was; NULL when it is created */
	const CoRow *new;			/* the row as written (and filled) */
	const CoRow *order;			/* its order, locked (== old for orders) */
	bool		probe;
	int			who;			/* the press's kinds of actor; 0: the system,
								 * a raw write or a trigger's follow-up, which
								 * no deadline binds (T2) */
} CoGuardCtx;

typedef CoRefusal *(*CoGuardFn) (const CoGuardCtx *ctx);

/* Computed columns a transition fills on a button's press (e.g. money) */
typedef void (*CoFillFn) (const CoGuardCtx *ctx, CoRow *row);

/* What a transition does to the deadline of its row (SPEC §7) */
typedef enum CoClock
{
	CLOCK_KEEPS = 0,			/* the running deadline, if any, runs on */
	CLOCK_STARTS,				/* starts CoTransition.deadline afresh */
	CLOCK_STOPS
} CoClock;

/* The deadlines of SPEC §7 T1 (deadlines.c describes each) */
typedef enum CoDeadline
{
	DL_NONE = 0,
	DL_MERCHANT_RESPONSE,
	DL_BUYER_RESPONSE,
	DL_BUYER_EVIDENCE,
	DL_BUYER_RETURN,
	DL_MERCHANT_RECEIPT,
	DL_ESCALATION_WINDOW,
	DL_SHIP_BY,
	DL_COUNT
} CoDeadline;

/* Each deadline's categories column (ship_by: the order's own column) */
extern const char *const co_deadline_names[DL_COUNT];

#define CO_NO_STAMP (-1)
#define CO_BIT(col) (((uint32) 1) << (col))

typedef struct CoTransition
{
	int			from;
	CoAction	action;
	int			to;
	CoGuardFn	guard;
	const char *guard_name;
	uint32		may_change;		/* CO_BIT(col) of the columns it writes */
	int			stamp;			/* column stamped from customorder.now() */
	CoFillFn	fill;			/* NULL, or columns computed on a press */
	CoClock		clock;
	const char *rule;			/* SPEC rule ids and what the guard checks */
	CoDeadline	deadline;		/* the deadline it starts (CLOCK_STARTS) or
								 * applies on expiry (the system's rows) */
} CoTransition;

typedef struct CoMachine
{
	const char *name;			/* as transitions() publishes it */
	CoTable    *table;
	const char *const *state_names;
	int			none_state;		/* from-state of rows that create the row */
	const CoTransition *rows;
	int			nrows;

	/* refusals whose wording is the machine's own */
	CoRefusal  *(*no_row) (const CoGuardCtx *ctx, int from, CoAction action,
						   int to);
	CoRefusal  *(*bad_column) (const CoGuardCtx *ctx,
							   const CoTransition *t, int col);

	/* T2: a press of the party whose deadline passed; NULL: none binds */
	CoRefusal  *(*overdue) (const CoGuardCtx *ctx, CoAction action);
} CoMachine;

extern const CoMachine co_order_machine;
extern const CoMachine co_case_machine;
extern const CoMachine co_bundle_machine;
extern const CoMachine co_refund_machine;

/* Choose a row: action < 0 matches any action, to < 0 any to-state */
extern const CoTransition *co_choose(const CoMachine *m, CoGuardCtx *ctx,
									 int action, int to, uint32 changed,
									 CoRow *proposed, CoRefusal **refusal);
extern bool co_action_offered(const CoMachine *m, int from, CoAction action);

/*
 * A press: the intent a button declares for the one row it writes.  "who"
 * is the kinds of actor that may press it (0: the system, or a trigger's
 * follow-up); the button has authorized its caller before its statement
 * (H6), and the deadline of the party "who" names binds the press (T2).
 */
typedef struct CoPress
{
	const CoMachine *machine;	/* NULL: no press pending */
	CoAction	action;
	const char *button;
	int			who;
	int64		order_id;
	int64		id;				/* the row's own id (the order's for orders) */
	const char *role;			/* the calling role, when it pressed on
								 * another node (citus.c); NULL: this
								 * backend's */
} CoPress;

extern const CoPress *co_press_for(const CoMachine *m, int64 order_id,
								   int64 id);
extern const CoPress *co_press_current(void);
extern int	co_press_execute(const CoPress *press, SPIPlanPtr plan,
							 const Datum *values, const char *nulls);
extern const CoMachine *co_machine_by_name(const char *name);

/* citus.c (SPEC §12): a press sent to the worker that holds its order */
extern bool co_distributed(void);

/* citus_settings.c (C5): the session's settings carried to the workers */
extern void co_install_settings_hook(void);
extern bool co_serving_citus(void);
extern void co_define_settings_gucs(void);
extern void co_notice_record(int64 order_id);
extern void co_notice_button(int64 order_id);
extern Oid	co_local_placement(Oid logical, int64 key);
extern int	co_shard_of(Oid logical, int64 key);

/* A kept plan of a reference table's query, or of this node's placement */
typedef struct CoReferencePlan
{
	SPIPlanPtr	table;			/* over customorder.<table> */
	SPIPlanPtr	placement;		/* over this node's placement of it */
	Oid			placement_relid;
} CoReferencePlan;

extern SPIPlanPtr co_prepare_reference(CoReferencePlan *p, const char *table,
									   const char *sql, int nargs,
									   const Oid *argtypes);
extern void co_event_notify(int64 order_id);
extern Oid	co_identity_sequence(const char *table, const char *column);
extern void co_press_send(const CoPress *press);
extern void co_upload_send(int64 order_id, const char *button);
extern const char *co_upload_button(void);
extern const CoPress *co_press_remote(const CoMachine *m, int64 order_id,
									  int64 id);
extern const CoPress *co_press_remote_current(void);

/* The trigger protocol every entry point checks (cf. ri_CheckTrigger) */
#define CO_TRIGGER_BEFORE	0x01
#define CO_TRIGGER_AFTER	0x02
#define CO_TRIGGER_ROW		0x04
#define CO_TRIGGER_STMT		0x08
extern TriggerData *co_check_trigger(FunctionCallInfo fcinfo,
									 const char *funcname, int kind);

/*
 * events.c (V1): one event per chosen transition, appended by the trigger
 * that chose it.  "detail" is a JSON object's text, or NULL for {}.
 */
extern void co_event_transition(const CoMachine *m, const CoTransition *t,
								int64 order_id, int64 aftersale_id,
								TimestampTz at, const char *detail);
extern void co_event_append(int64 order_id, int64 aftersale_id,
							const char *machine, const char *action,
							const char *from, const char *to,
							TimestampTz at, const char *detail);
extern char *co_event_detail(CoTable *table, Relation rel, const CoRow *row,
							 uint32 cols, const char *extra);
extern bool co_table_exists(const char *relname);

#endif							/* CUSTOMORDER_ENGINE_H */
