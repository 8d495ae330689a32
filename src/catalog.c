/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The custom label (L1-L3): the products trigger, the platform's
 *	  category approval, product badges, and placing an order.
 *
 *-------------------------------------------------------------------------
 */
#include "machines.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(co_product_trigger);
PG_FUNCTION_INFO_V1(co_approve_custom_category);
PG_FUNCTION_INFO_V1(co_product_badges);
PG_FUNCTION_INFO_V1(co_place_order);

/*
 * L1 and L2 on every INSERT or UPDATE of a product that carries the custom
 * label: the category is custom-enabled, the shop is approved for it, and
 * the promised ship time is one of the category's options.
 */
Datum
co_product_trigger(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	bool		isnull;
	bool		promised_null;
	Datum		shop_id;
	Datum		category_id;
	Datum		promised;
	Oid			argtypes[3] = {INT8OID, INT8OID, INTERVALOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			colnos[4];
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "co_product_trigger: must be fired before insert or update, for each row");

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	newtuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;

	colnos[0] = SPI_fnumber(tupdesc, "is_custom");
	colnos[1] = SPI_fnumber(tupdesc, "shop_id");
	colnos[2] = SPI_fnumber(tupdesc, "category_id");
	colnos[3] = SPI_fnumber(tupdesc, "promised_ship");
	for (i = 0; i < 4; i++)
		if (colnos[i] <= 0)
			elog(ERROR, "customorder.products lacks a rule column");

	if (!DatumGetBool(heap_getattr(newtuple, colnos[0], tupdesc, &isnull)) || isnull)
		return PointerGetDatum(newtuple);

	/* An update that touches none of the label's inputs needs no check */
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		bool		same = true;

		for (i = 0; i < 4 && same; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, colnos[i] - 1);
			bool		n1,
						n2;
			Datum		d1 = heap_getattr(trigdata->tg_trigtuple, colnos[i], tupdesc, &n1);
			Datum		d2 = heap_getattr(newtuple, colnos[i], tupdesc, &n2);

			same = (n1 == n2) && (n1 || datumIsEqual(d1, d2, att->attbyval, att->attlen));
		}
		if (same)
			return PointerGetDatum(newtuple);
	}

	shop_id = heap_getattr(newtuple, colnos[1], tupdesc, &isnull);
	if (isnull)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("a product needs a shop_id"),
						errhint("Pass the shop that sells it.")));
	category_id = heap_getattr(newtuple, colnos[2], tupdesc, &isnull);
	if (isnull)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("a product needs a category_id"),
						errhint("Pass the product's category.")));
	promised = heap_getattr(newtuple, colnos[3], tupdesc, &promised_null);
	if (promised_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a custom product needs a promised ship time (rule L2)"),
				 errdetail("Product for shop " INT64_FORMAT " in category " INT64_FORMAT " has is_custom = true and promised_ship = NULL.",
						   DatumGetInt64(shop_id), DatumGetInt64(category_id)),
				 errhint("Choose promised_ship from the category's ship_promise_options.")));

	co_connect();
	plan = co_prepare(&plan,
					  "SELECT c.custom_enabled, "
					  "EXISTS (SELECT 1 FROM customorder.custom_approvals a "
					  "        WHERE a.shop_id OPERATOR(pg_catalog.=) $1 "
					  "        AND a.category_id OPERATOR(pg_catalog.=) $2), "
					  "$3 OPERATOR(pg_catalog.=) ANY (c.ship_promise_options), "
					  "c.name, c.ship_promise_options::pg_catalog.text "
					  "FROM customorder.categories c "
					  "WHERE c.category_id OPERATOR(pg_catalog.=) $2",
					  3, argtypes);
	values[0] = shop_id;
	values[1] = category_id;
	values[2] = promised;
	co_execute(plan, values, nulls, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("category " INT64_FORMAT " does not exist",
						DatumGetInt64(category_id)),
				 errhint("Create the category in customorder.categories first.")));
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		enabled = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		bool		approved = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		bool		offered = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		char	   *catname = SPI_getvalue(tup, desc, 4);
		char	   *options = SPI_getvalue(tup, desc, 5);

		if (!enabled)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the custom label needs a custom-enabled category (rule L1)"),
					 errdetail("Category " INT64_FORMAT " (%s) is not custom-enabled.",
							   DatumGetInt64(category_id), catname),
					 errhint("Publish it as an ordinary product, or choose a custom category such as whole-house custom or glasses.")));
		if (!approved)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the custom label needs the platform's approval of the shop for the category (rule L1)"),
					 errdetail("Shop " INT64_FORMAT " is not approved for custom goods in category " INT64_FORMAT " (%s).",
							   DatumGetInt64(shop_id), DatumGetInt64(category_id), catname),
					 errhint("Apply through merchant recruitment; the platform calls customorder.approve_custom_category(shop_id, category_id).")));
		if (isnull || !offered)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the promised ship time is not one the category offers (rule L2)"),
					 errdetail("promised_ship %s; category %s offers %s.",
							   co_interval_str(promised), catname, options),
					 errhint("Choose one of the category's ship_promise_options.")));
	}
	co_finish();
	return PointerGetDatum(newtuple);
}

/*
 * approve_custom_category(shop_id, category_id): the platform approves a
 * shop's application for custom goods in a custom-enabled category (L1).
 */
Datum
co_approve_custom_category(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_check = NULL;
	static SPIPlanPtr plan_insert = NULL;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	bool		isnull;

	co_require_arg(fcinfo, 0, "approve_custom_category", "shop_id");
	co_require_arg(fcinfo, 1, "approve_custom_category", "category_id");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	co_authorize("approve_custom_category", CO_WHO_PLATFORM, 0, 0);

	co_connect();
	plan_check = co_prepare(&plan_check,
							"SELECT (SELECT true FROM customorder.shops s "
							"        WHERE s.shop_id OPERATOR(pg_catalog.=) $1), "
							"       (SELECT c.custom_enabled FROM customorder.categories c "
							"        WHERE c.category_id OPERATOR(pg_catalog.=) $2 FOR SHARE)",
							2, argtypes);
	co_execute(plan_check, values, NULL, false, 1);
	SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("approve_custom_category: shop " INT64_FORMAT " does not exist",
						DatumGetInt64(values[0])),
				 errhint("Create the shop in customorder.shops first.")));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
	{
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("approve_custom_category: category " INT64_FORMAT " does not exist",
							DatumGetInt64(values[1])),
					 errhint("Create the category in customorder.categories first.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("approve_custom_category: the category is not custom-enabled (rule L1)"),
				 errdetail("Category " INT64_FORMAT " has custom_enabled = false.",
						   DatumGetInt64(values[1])),
				 errhint("Enable custom goods for the category first.")));
	}
	plan_insert = co_prepare(&plan_insert,
							 "INSERT INTO customorder.custom_approvals (shop_id, category_id) "
							 "VALUES ($1, $2) ON CONFLICT DO NOTHING",
							 2, argtypes);
	co_execute(plan_insert, values, NULL, false, 0);
	co_finish();
	PG_RETURN_VOID();
}

/*
 * product_badges(product_id): L3, the 7-day no-reason return badge shows on
 * ordinary products only; custom products show the custom label.
 */
Datum
co_product_badges(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	bool		is_custom;
	Datum		badge;

	co_require_arg(fcinfo, 0, "product_badges", "product_id");
	values[0] = PG_GETARG_DATUM(0);
	co_connect();
	plan = co_prepare(&plan,
					  "SELECT p.is_custom FROM customorder.products p "
					  "WHERE p.product_id OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
	co_execute(plan, values, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("product_badges: product " INT64_FORMAT " does not exist",
						DatumGetInt64(values[0])),
				 errhint("Check the product_id.")));
	is_custom = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	co_finish();

	badge = CStringGetTextDatum(is_custom ? "custom" : "seven_day_return");
	PG_RETURN_ARRAYTYPE_P(construct_array(&badge, 1, TEXTOID, -1, false,
										  TYPALIGN_INT));
}

/*
 * place_order(product_id, buyer_id, amount) -> order_id.  Payment happened
 * outside; the trigger snapshots the product and category (L4).
 */
Datum
co_place_order(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT8OID, NUMERICOID};
	Datum		values[3];
	bool		isnull;
	int64		order_id;

	co_require_arg(fcinfo, 0, "place_order", "product_id");
	co_require_arg(fcinfo, 1, "place_order", "buyer_id");
	co_require_arg(fcinfo, 2, "place_order", "amount");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	co_check_money(values[2], "place_order", "amount", true);
	/* the platform's order service, or the buyer for themself */
	co_authorize("place_order", CO_WHO_PLATFORM | CO_WHO_BUYER, 0,
				 PG_GETARG_INT64(1));

	co_connect();
	plan = co_prepare(&plan,
					  "INSERT INTO customorder.orders (product_id, buyer_id, amount) "
					  "VALUES ($1, $2, $3) RETURNING order_id",
					  3, argtypes);
	co_execute(plan, values, NULL, false, 0);
	order_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	co_finish();
	PG_RETURN_INT64(order_id);
}
