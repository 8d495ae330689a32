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
 *	  claim per order (claim_distributed, below).
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

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

/*
 * claim_events on Citus: the heads that the one statement of
 * co_claim_events claims, claimed in two kinds of statements, as Citus
 * refuses FOR UPDATE in a query of several shards.
 *
 * 1. Candidates: the consumer's heads whose lease is null or expired, in
 *    event_id order, from every shard at once, without locks.  Citus
 *    pushes the whole query down to each shard (the NOT EXISTS is
 *    correlated on order_id, the distribution column) and merges the
 *    shards' first rows.  A candidate may be claimed by another claimer
 *    before step 2 reaches it, so more than are wanted are asked for.
 * 2. Claims: for each candidate, in event_id order, until "max" are
 *    claimed, one statement that names the order in every table reference,
 *    so that Citus routes it to the order's shard, where FOR UPDATE SKIP
 *    LOCKED is allowed.  It locks the delivery, rechecks on the newest
 *    version that it is still the order's head and its lease still null or
 *    expired (another claimer may have claimed or acked it since step 1),
 *    leases it and returns its event, so that the claim and the read are
 *    one round trip.  A delivery that another claimer holds locked is
 *    skipped, never waited for, as on one server.
 * 3. When fewer than "max" were claimed and step 1 was cut short by its
 *    LIMIT, step 1 again for the heads after the last candidate (event_id
 *    greater than it): the candidates skipped are held by others, like the
 *    rows SKIP LOCKED passes over on one server.
 *
 * The events are put out in the order they were claimed, event_id order.
 * Deliveries of orders made on different nodes have ids from different
 * ranges (C4), so event_id order across orders is no longer the order of
 * their making; within an order it is (V3 needs no more).
 */
static void
claim_distributed(FunctionCallInfo fcinfo, Datum consumer, int32 max,
				  TimestampTz now, TimestampTz until)
{
	static SPIPlanPtr candidates_plan = NULL;
	static SPIPlanPtr claim_plan = NULL;
	Oid			candidates_types[4] = {TEXTOID, INT8OID, TIMESTAMPTZOID, INT4OID};
	Oid			claim_types[5] = {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[5];
	int64		after = PG_INT64_MIN;
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
	co_prepare(&claim_plan,
			   "WITH head AS ("
			   " SELECT d.event_id FROM customorder.deliveries d "
			   " WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND d.order_id OPERATOR(pg_catalog.=) $2 "
			   " AND d.event_id OPERATOR(pg_catalog.=) $3 "
			   " AND (d.lease_until IS NULL OR d.lease_until OPERATOR(pg_catalog.<=) $4) "
			   " AND NOT EXISTS (SELECT 1 FROM customorder.deliveries p "
			   "  WHERE p.consumer OPERATOR(pg_catalog.=) $1 "
			   "  AND p.order_id OPERATOR(pg_catalog.=) $2 "
			   "  AND p.event_id OPERATOR(pg_catalog.<) $3) "
			   " FOR UPDATE OF d SKIP LOCKED), "
			   "leased AS ("
			   " UPDATE customorder.deliveries d SET lease_until = $5, "
			   "  claims = d.claims OPERATOR(pg_catalog.+) 1 "
			   " FROM head h WHERE d.consumer OPERATOR(pg_catalog.=) $1 "
			   " AND d.order_id OPERATOR(pg_catalog.=) $2 "
			   " AND d.event_id OPERATOR(pg_catalog.=) $3 "
			   " AND h.event_id OPERATOR(pg_catalog.=) $3 "
			   " RETURNING d.order_id, d.event_id) "
			   "SELECT e.* FROM customorder.events e "
			   "JOIN leased l ON l.order_id OPERATOR(pg_catalog.=) e.order_id "
			   "AND l.event_id OPERATOR(pg_catalog.=) e.event_id "
			   "WHERE e.order_id OPERATOR(pg_catalog.=) $2 "
			   "AND e.event_id OPERATOR(pg_catalog.=) $3",
			   5, claim_types);
	for (;;)
	{
		int32		wanted = 2 * (max - claimed);
		uint64		ncandidates;
		int64	   *order_ids;
		int64	   *event_ids;
		uint64		i;

		values[0] = consumer;
		values[1] = Int64GetDatum(after);
		values[2] = TimestampTzGetDatum(now);
		values[3] = Int32GetDatum(wanted);
		co_execute(candidates_plan, values, NULL, false, 0);
		ncandidates = SPI_processed;
		if (ncandidates == 0)
			break;
		order_ids = palloc(ncandidates * sizeof(int64));
		event_ids = palloc(ncandidates * sizeof(int64));
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

		values[3] = TimestampTzGetDatum(now);
		values[4] = TimestampTzGetDatum(until);
		for (i = 0; i < ncandidates && claimed < max; i++)
		{
			values[1] = Int64GetDatum(order_ids[i]);
			values[2] = Int64GetDatum(event_ids[i]);
			co_execute(claim_plan, values, NULL, false, 0);
			claimed += (int32) SPI_processed;
			co_spi_to_srf(fcinfo);
			SPI_freetuptable(SPI_tuptable);
		}
		after = event_ids[ncandidates - 1];
		pfree(order_ids);
		pfree(event_ids);
		if (claimed >= max || ncandidates < (uint64) wanted)
			break;
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
