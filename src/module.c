/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Module start-up: the library's magic block and _PG_init, which
 *	  defines the GUCs (customorder.clock, the acting shop and buyer, the
 *	  deadline worker's) and registers the deadline worker when preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* before co_define_clock_guc() reserves the prefix */
	co_define_worker_gucs();
	co_define_actor_gucs();
	co_define_outbox_gucs();
	co_define_clock_guc();
	co_register_worker();
}
