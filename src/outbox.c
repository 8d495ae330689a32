/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  SPEC §10 V3: the outbox.  register_consumer(name) makes every event
 *	  appended from then on a delivery of that consumer
 *	  (customorder.deliveries, keyed (consumer, order_id, event_id), written
 *	  with the event by the trigger that appends it, events.c).  claim_events
 *	  leases undelivered events; ack_events deletes their deliveries.
 *
 *	  Per-order order: only the head of an order's deliveries (the one with
 *	  no earlier delivery of that order for the consumer) can be claimed,
 *	  so an order's next event is never handed out while an earlier one is
 *	  claimed and unacknowledged: the earlier delivery still exists.  One
 *	  claimer at a time: a head is claimed FOR UPDATE SKIP LOCKED and its
 *	  lease (customorder.claim_lease) written; another claimer skips it
 *	  while it is locked and, once committed, while its lease runs (READ
 *	  COMMITTED rechecks the lease on the newest version of a row it
 *	  waited for or skipped).  A lease that expired is claimable again: an
 *	  unacknowledged event is delivered again, at least once in all.
 *
 *	  Distributed (SPEC §12), deliveries are split into shards by order_id
 *	  and Citus refuses FOR UPDATE in a query of several shards, so the one
 *	  statement becomes a multi-shard search without locks and a router
 *	  claim per shard (claim_distributed, below).
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(co_register_consumer);
PG_FUNCTION_INFO_V1(co_claim_events);
PG_FUNCTION_INFO_V1(co_ack_events);

/* customorder.claim_lease, in milliseconds */
static int	claim_lease_ms = 60000;

void
co_define_outbox_gucs(void)
{
	DefineCustomIntVariable("customorder.claim_lease",
							"How long a claimed event stays with its claimer before it is delivered again.",
							"claim_events() leases each event it returns for this long; ack_events() ends the lease.",
							&claim_lease_ms,
							60000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* A consumer's name: not null, and registered (P0002 when not) */
static Datum
consumer_arg(FunctionCallInfo fcinfo, const char *button)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		name;

	co_require_arg(fcinfo, 0, button, "consumer");
	name = PG_GETARG_DATUM(0);
	co_authorize(button, CO_WHO_PLATFORM, 0, 0);
	co_connect();
	co_prepare(&plan,
			   "SELECT 1 FROM customorder.consumers c "
			   "WHERE c.consumer OPERATOR(pg_catalog.=) $1",
			   1, argtypes);
	co_execute(plan, &name, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s: consumer \"%s\" is not registered", button,
						TextDatumGetCString(name)),
				 errhint("Register it once with customorder.register_consumer(name): it receives every event appended from then on.")));
	co_finish();
	return name;
}

/*
 * register_consumer(name) -> boolean (platform): true when registered now,
 * false when it already was.
 */
Datum
co_register_consumer(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		name;
	int			len;
	bool		added;

	co_require_arg(fcinfo, 0, "register_consumer", "name");
	name = PG_GETARG_DATUM(0);
	len = VARSIZE_ANY_EXHDR(DatumGetPointer(name));
	if (len == 0 || len > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("register_consumer: name must have 1 to 63 bytes"),
				 errdetail("The name has %d bytes.", len),
				 errhint("Name the service that consumes the events.")));
	co_authorize("register_consumer", CO_WHO_PLATFORM, 0, 0);
	co_connect();
	co_prepare(&plan,
			   "INSERT INTO customorder.consumers (consumer, registered_at) "
			   "VALUES ($1, pg_catalog.clock_timestamp()) ON CONFLICT DO NOTHING",
			   1, argtypes);
	co_execute(plan, &name, NULL, false, 0);
	added = SPI_processed == 1;
	co_finish();
	PG_RETURN_BOOL(added);
}

/* A bigint[] of n values, a statement's parameter */
static Datum
int8_array(const int64 *v, int n)
{
	Datum	   *elems = palloc(n * sizeof(Datum));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * claim_events on Citus: the heads that the one statement of
 * co_claim_events claims, claimed in statements that Citus accepts, as it
 * refuses FOR UPDATE in a query of several shards.
 *
 * 1. Candidates: the consumer's heads whose lease is null or expired, in
 *    event_id order, from every shard at once, without locks.  Citus
 *    pushes the whole query down to each shard (the NOT EXISTS is
 *    correlated on order_id, the distribution column) and merges the
 *    shards' first rows.  A candidate may be claimed by another claimer
 *    before step 2 reaches it, so more than are wanted are asked for.
 * 2. Claims: the first candidates, as many as are still wanted, grouped by
 *    shard, one statement per shard that names only that shard's orders
 *    (order_id = ANY) in every table reference, so that Citus routes it to
 *    the shard, where FOR UPDATE SKIP LOCKED is allowed.  It locks the
 *    deliveries, rechecks on their newest versions that each is still its
 *    order's head and its lease still null or expired (another claimer may
 *    have claimed or acked it since step 1), and leases them.  A delivery
 *    that another claimer holds locked is skipped, never waited for, as on
 *    one server.  (A statement per candidate was a round trip per event:
 *    about 80 ms for 100 events on the test cluster.)  While fewer than
 *    "max" are claimed, the next candidates; when step 1 was cut short by
 *    its LIMIT and they ran out, step 1 again for the heads after the last
 *    one (event_id greater than it): the candidates skipped are held by
 *    others, like the rows SKIP LOCKED passes over on one server.
 * 3. The claimed events, read by their keys from the shards that hold
 *    them (order_id = ANY prunes the others), in event_id order.
 *
 * Events of orders made on different nodes have ids from different ranges
 * (C4), so event_id order across orders is not the order of their making;
 * within an order it is, which is what V3 asks.
 */
static void
claim_distributed(FunctionCallInfo fcinfo, Datum consumer, int32 max,
				  TimestampTz now, TimestampTz until)
{
	static SPIPlanPtr candidates_plan = NULL;
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr events_plan = NULL;
	Oid			candidates_types[4] = {TEXTOID, INT8OID, TIMESTAMPTZOID, INT4OID};
	Oid			claim_types[5] = {TEXTOID, INT8ARRAYOID, INT8ARRAYOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			events_types[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Oid			deliveries = get_relname_relid("deliveries",
											   get_namespace_oid(CO_SCHEMA, false));
	Datum		values[5];
	int64		after = PG_INT64_MIN;
	int64	   *claimed_orders = palloc(max * sizeof(int64));
	int64	   *claimed_events = palloc(max * sizeof(int64));
	int32		claimed = 0;

	co_connect();
	co_prepare(&candidates_plan,
			   "SELECT d.order_id, d.event_id FROM customorder.deliveries d "
			   "WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   "AND d.event_id OPERATOR(pg_catalog.>) $2 "
			   "AND (d.lease_until IS NULL OR d.lease_until OPERATOR(pg_catalog.<=) $3) "
			   "AND NOT EXISTS (SELECT 1 FROM customorder.deliveries p "
			   " WHERE p.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND p.order_id OPERATOR(pg_catalog.=) d.order_id "
			   " AND p.event_id OPERATOR(pg_catalog.<) d.event_id) "
			   "ORDER BY d.event_id LIMIT $4",
			   4, candidates_types);

	/*
	 * $2, $3: the orders and events of one shard's candidates.  Event ids
	 * are unique (C4) and each candidate is another order's head, so the two
	 * lists name exactly the candidates' deliveries.
	 */
	co_prepare(&claim_plan,
			   "WITH heads AS ("
			   " SELECT d.order_id, d.event_id FROM customorder.deliveries d "
			   " WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND d.order_id OPERATOR(pg_catalog.=) ANY ($2) "
			   " AND d.event_id OPERATOR(pg_catalog.=) ANY ($3) "
			   " AND (d.lease_until IS NULL OR d.lease_until OPERATOR(pg_catalog.<=) $4) "
			   " AND NOT EXISTS (SELECT 1 FROM customorder.deliveries p "
			   "  WHERE p.consumer OPERATOR(pg_catalog.=) $1 "
			   "  AND p.order_id OPERATOR(pg_catalog.=) ANY ($2) "
			   "  AND p.order_id OPERATOR(pg_catalog.=) d.order_id "
			   "  AND p.event_id OPERATOR(pg_catalog.<) d.event_id) "
			   " FOR UPDATE OF d SKIP LOCKED) "
			   "UPDATE customorder.deliveries d SET lease_until = $5, "
			   " claims = d.claims OPERATOR(pg_catalog.+) 1 "
			   "FROM heads h WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   "AND d.order_id OPERATOR(pg_catalog.=) ANY ($2) "
			   "AND d.order_id OPERATOR(pg_catalog.=) h.order_id "
			   "AND d.event_id OPERATOR(pg_catalog.=) h.event_id "
			   "RETURNING d.order_id, d.event_id",
			   5, claim_types);
	co_prepare(&events_plan,
			   "SELECT e.* FROM customorder.events e "
			   "WHERE e.order_id OPERATOR(pg_catalog.=) ANY ($1) "
			   "AND e.event_id OPERATOR(pg_catalog.=) ANY ($2) "
			   "ORDER BY e.event_id",
			   2, events_types);
	for (;;)
	{
		int32		wanted = 2 * (max - claimed);
		int			ncandidates;
		int64	   *order_ids;
		int64	   *event_ids;
		int		   *shards;
		bool	   *tried;
		int64	   *batch_orders;
		int64	   *batch_events;
		int			next;
		int			i;

		values[0] = consumer;
		values[1] = Int64GetDatum(after);
		values[2] = TimestampTzGetDatum(now);
		values[3] = Int32GetDatum(wanted);
		co_execute(candidates_plan, values, NULL, false, 0);
		ncandidates = (int) SPI_processed;
		if (ncandidates == 0)
			break;
		order_ids = palloc(ncandidates * sizeof(int64));
		event_ids = palloc(ncandidates * sizeof(int64));
		shards = palloc(ncandidates * sizeof(int));
		tried = palloc0(ncandidates * sizeof(bool));
		batch_orders = palloc(ncandidates * sizeof(int64));
		batch_events = palloc(ncandidates * sizeof(int64));
		for (i = 0; i < ncandidates; i++)
		{
			bool		isnull;

			order_ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
			event_ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   2, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
		for (i = 0; i < ncandidates; i++)
			shards[i] = co_shard_of(deliveries, order_ids[i]);

		values[3] = TimestampTzGetDatum(now);
		values[4] = TimestampTzGetDatum(until);
		next = 0;
		while (next < ncandidates && claimed < max)
		{
			/* the next candidates, as many as are still wanted */
			int			end = Min(ncandidates, next + (max - claimed));

			for (i = next; i < end; i++)
			{
				int			n = 0;
				int			j;
				uint64		r;

				if (tried[i])
					continue;

				/* i's shard's among them (a shard not found: i alone) */
				for (j = i; j < end; j++)
					if (!tried[j] &&
						(j == i || (shards[i] >= 0 && shards[j] == shards[i])))
					{
						batch_orders[n] = order_ids[j];
						batch_events[n++] = event_ids[j];
						tried[j] = true;
					}
				values[1] = int8_array(batch_orders, n);
				values[2] = int8_array(batch_events, n);
				co_execute(claim_plan, values, NULL, false, 0);
				for (r = 0; r < SPI_processed; r++)
				{
					bool		isnull;

					claimed_orders[claimed] =
						DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
													SPI_tuptable->tupdesc,
													1, &isnull));
					claimed_events[claimed++] =
						DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
													SPI_tuptable->tupdesc,
													2, &isnull));
				}
				SPI_freetuptable(SPI_tuptable);
			}
			next = end;
		}
		after = event_ids[ncandidates - 1];
		if (claimed >= max || ncandidates < wanted)
			break;
	}

	if (claimed > 0)
	{
		values[0] = int8_array(claimed_orders, claimed);
		values[1] = int8_array(claimed_events, claimed);
		co_execute(events_plan, values, NULL, false, 0);
		co_spi_to_srf(fcinfo);
	}
	co_finish();
}

/*
 * claim_events(consumer, max DEFAULT 100) -> setof events: up to "max"
 * heads of orders' undelivered events, leased for customorder.claim_lease,
 * in event_id order.
 */
Datum
co_claim_events(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[4] = {TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	TimestampTz now;
	int32		max;

	values[0] = consumer_arg(fcinfo, "claim_events");
	co_require_arg(fcinfo, 1, "claim_events", "max");
	max = PG_GETARG_INT32(1);
	if (max < 1 || max > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claim_events: max must be between 1 and 10000"),
				 errdetail("max %d.", max),
				 errhint("Claim again for more.")));
	now = co_now();
	values[1] = Int32GetDatum(max);
	values[2] = TimestampTzGetDatum(now);
	values[3] = TimestampTzGetDatum(now + (TimestampTz) claim_lease_ms * 1000);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (co_distributed())
	{
		claim_distributed(fcinfo, values[0], max, now,
						  DatumGetTimestampTz(values[3]));
		return (Datum) 0;
	}
	co_connect();
	co_prepare(&plan,
			   "WITH heads AS ("
			   " SELECT d.order_id, d.event_id FROM customorder.deliveries d "
			   " WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND (d.lease_until IS NULL OR d.lease_until OPERATOR(pg_catalog.<=) $3) "
			   " AND NOT EXISTS (SELECT 1 FROM customorder.deliveries p "
			   "  WHERE p.consumer OPERATOR(pg_catalog.=) $1 "
			   "  AND p.order_id OPERATOR(pg_catalog.=) d.order_id "
			   "  AND p.event_id OPERATOR(pg_catalog.<) d.event_id) "
			   " ORDER BY d.event_id LIMIT $2 FOR UPDATE OF d SKIP LOCKED), "
			   "leased AS ("
			   " UPDATE customorder.deliveries d SET lease_until = $4, "
			   "  claims = d.claims OPERATOR(pg_catalog.+) 1 "
			   " FROM heads h WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND d.order_id OPERATOR(pg_catalog.=) h.order_id "
			   " AND d.event_id OPERATOR(pg_catalog.=) h.event_id "
			   " RETURNING d.order_id, d.event_id) "
			   "SELECT e.* FROM customorder.events e "
			   "JOIN leased l ON l.order_id OPERATOR(pg_catalog.=) e.order_id "
			   "AND l.event_id OPERATOR(pg_catalog.=) e.event_id "
			   "ORDER BY e.event_id",
			   4, argtypes);
	co_execute(plan, values, NULL, false, 0);
	co_spi_to_srf(fcinfo);
	co_finish();
	return (Datum) 0;
}

/*
 * ack_events(consumer, event_ids) -> integer: the events delivered, how
 * many of them were still undelivered.
 */
Datum
co_ack_events(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, INT8ARRAYOID};
	Datum		values[2];
	int32		acked;

	values[0] = consumer_arg(fcinfo, "ack_events");
	co_require_arg(fcinfo, 1, "ack_events", "event_ids");
	values[1] = PG_GETARG_DATUM(1);
	co_connect();
	co_prepare(&plan,
			   "DELETE FROM customorder.deliveries d "
			   "WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   "AND d.event_id OPERATOR(pg_catalog.=) ANY ($2)",
			   2, argtypes);
	co_execute(plan, values, NULL, false, 0);
	acked = (int32) SPI_processed;
	co_finish();
	PG_RETURN_INT32(acked);
}
