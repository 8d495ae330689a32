/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The custom label (L1-L3): the products trigger, the platform's
 *	  category approval, product badges, and placing an order.
 *
 *-------------------------------------------------------------------------
 */
#include "customorder.h"
#include "machines.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(co_product_trigger);
PG_FUNCTION_INFO_V1(co_approve_custom_category);

/*
 * The rule columns of customorder.products: the key, then the inputs of the
 * custom label (L1, L2).
 */
typedef enum ProductCol
{
	PC_PRODUCT_ID,
	PC_IS_CUSTOM,
	PC_SHOP_ID,
	PC_CATEGORY_ID,
	PC_PROMISED_SHIP,
	PC_COUNT
} ProductCol;

static const char *const product_cols[PC_COUNT] = {
	[PC_PRODUCT_ID] = "product_id",
	[PC_IS_CUSTOM] = "is_custom",
	[PC_SHOP_ID] = "shop_id",
	[PC_CATEGORY_ID] = "category_id",
	[PC_PROMISED_SHIP] = "promised_ship",
};

static CoTable co_products_table = {
	.relname = "products",
	.cols = product_cols,
	.ncols = PC_COUNT,
	.nkeys = 1,
	.what = "product",
};

/*
 * L1 and L2 against the category: custom-enabled, the shop approved for it,
 * and the promised ship time one of its options.
 */
static void
check_label_in_category(Datum shop_id, Datum category_id, Datum promised)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[3] = {INT8OID, INT8OID, INTERVALOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		enabled;
	bool		approved;
	bool		offered;
	char	   *catname;
	char	   *options;

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
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	enabled = DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
	approved = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
	/* "offered" is null when ship_promise_options is null */
	offered = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	catname = SPI_getvalue(tup, desc, 4);
	options = SPI_getvalue(tup, desc, 5);

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
	co_finish();
}

/*
 * An UPDATE that touches none of the label's inputs (a title or price edit)
 * needs no check, so it goes through even if the category's rules have
 * changed since the product was published.
 */
static bool
label_inputs_changed(const CoRowData *oldrow, const CoRowData *newrow)
{
	static const ProductCol inputs[] = {PC_IS_CUSTOM, PC_SHOP_ID,
	PC_CATEGORY_ID, PC_PROMISED_SHIP};
	int			i;

	for (i = 0; i < lengthof(inputs); i++)
		if (co_row_changed(&co_products_table, inputs[i],
						   oldrow->v, oldrow->isnull,
						   newrow->v, newrow->isnull))
			return true;
	return false;
}

/*
 * L1 and L2 on every INSERT or UPDATE of a product that carries the custom
 * label: the category is custom-enabled, the shop is approved for it, and
 * the promised ship time is one of the category's options.
 */
Datum
co_product_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = co_check_trigger(fcinfo, "co_product_trigger",
											 CO_TRIGGER_BEFORE | CO_TRIGGER_ROW);
	Relation	rel = trigdata->tg_relation;
	bool		is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	HeapTuple	newtuple;
	CoRowData	newrow;
	CoRowData	oldrow;

	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && !is_update)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for INSERT or UPDATE",
						"co_product_trigger")));
	newtuple = is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	co_row_read(&co_products_table, rel, newtuple, newrow.v, newrow.isnull);
	if (newrow.isnull[PC_IS_CUSTOM] || !DatumGetBool(newrow.v[PC_IS_CUSTOM]))
		return PointerGetDatum(newtuple);
	if (is_update)
	{
		co_row_read(&co_products_table, rel, trigdata->tg_trigtuple,
					oldrow.v, oldrow.isnull);
		if (!label_inputs_changed(&oldrow, &newrow))
			return PointerGetDatum(newtuple);
	}

	if (newrow.isnull[PC_SHOP_ID])
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("a product needs a shop_id"),
						errhint("Pass the shop that sells it.")));
	if (newrow.isnull[PC_CATEGORY_ID])
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("a product needs a category_id"),
						errhint("Pass the product's category.")));
	if (newrow.isnull[PC_PROMISED_SHIP])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a custom product needs a promised ship time (rule L2)"),
				 errdetail("Product for shop " INT64_FORMAT " in category " INT64_FORMAT " has is_custom = true and promised_ship = NULL.",
						   DatumGetInt64(newrow.v[PC_SHOP_ID]),
						   DatumGetInt64(newrow.v[PC_CATEGORY_ID])),
				 errhint("Choose promised_ship from the category's ship_promise_options.")));

	check_label_in_category(newrow.v[PC_SHOP_ID], newrow.v[PC_CATEGORY_ID],
							newrow.v[PC_PROMISED_SHIP]);
	return PointerGetDatum(newtuple);
}

/*
 * The platform's set-up button of the L rules
 */

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
