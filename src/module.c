/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Module start-up: the library's magic block and _PG_init, which
 *	  defines the GUCs (customorder.clock and the acting shop and buyer).
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
	co_define_actor_gucs();
	co_define_clock_guc();
}
