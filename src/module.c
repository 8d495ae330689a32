/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Module start-up: the library's magic block and _PG_init, which
 *	  defines the GUCs (customorder.clock, the acting shop and buyer, the
 *	  deadline worker's), registers the deadline worker when preloaded and
 *	  installs the executor hook that carries the session's settings to
 *	  Citus's workers (citus_settings.c).
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"
#include "engine.h"

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
	co_define_settings_gucs();
	co_define_clock_guc();
	co_register_worker();
	co_install_settings_hook();
}
