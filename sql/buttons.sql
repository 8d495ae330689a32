--
-- buttons: what the merchant backend shows across an order's life, and the
-- transition table behind it
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-05-20 09:00:00-07';

SELECT place_order(prod('wardrobe-low'), 5001, 9800.00) AS o_low \gset
SELECT place_order(prod('suit-low'), 5002, 3200.00) AS o_suit \gset
SELECT place_order(prod('lenses-high'), 5003, 680.00) AS o_lenses \gset
SELECT place_order(prod('wok'), 5004, 199.00) AS o_wok \gset

-- the order-level buttons (an open case adds its own); the helpers of
-- these files are PL/pgSQL, which Citus plans (test/citus/run)
CREATE FUNCTION pg_temp.buttons(id bigint)
RETURNS TABLE (state customorder.order_state, button text, label text,
               enabled boolean, why_disabled text)
LANGUAGE plpgsql AS $$
DECLARE
    order_state customorder.order_state;
BEGIN
    SELECT o.state INTO order_state FROM customorder.orders o WHERE o.order_id = id;
    RETURN QUERY
    SELECT order_state, b.button, b.label, b.enabled, b.why_disabled
    FROM customorder.order_buttons(id) b
    WHERE b.button IN ('start_customization', 'submit_custom_evidence',
                       'ship', 'view_custom_evidence');
END $$;

--
-- A custom order of a shop below the threshold
--
-- paid, grey Start: why_disabled says when it turns blue
SET customorder.clock = '2024-05-20 09:30:00-07';
SELECT * FROM pg_temp.buttons(:o_low);
-- blue Start
SET customorder.clock = '2024-05-20 10:00:00-07';
SELECT * FROM pg_temp.buttons(:o_low);
SELECT start_customization(:o_low);
-- awaiting_evidence: submit evidence
SELECT * FROM pg_temp.buttons(:o_low);
SELECT submit_custom_evidence(:o_low, items(1, 1, 'btn'));
-- in_production: ship and view evidence (S6)
SELECT * FROM pg_temp.buttons(:o_low);
SELECT ship(:o_low, 'SF-5001');
SELECT * FROM pg_temp.buttons(:o_low);
SELECT mark_signed(:o_low);
SELECT * FROM pg_temp.buttons(:o_low);

--
-- A category with platform review, and one with a 2-hour lock
--
SELECT start_customization(:o_suit);
SELECT submit_custom_evidence(:o_suit, items(1, 0, 'btn-suit'));
SELECT * FROM pg_temp.buttons(:o_suit);
SELECT review_evidence(:o_suit, false, 'blurred');
SELECT * FROM pg_temp.buttons(:o_suit);
SELECT * FROM pg_temp.buttons(:o_lenses);
SET customorder.clock = '2024-05-20 11:00:00-07';
SELECT * FROM pg_temp.buttons(:o_lenses);
SELECT start_customization(:o_lenses);
SELECT * FROM pg_temp.buttons(:o_lenses);
-- an open case greys out ship
SELECT request_refund(:o_lenses, 'refund_only', 'quality') IS NOT NULL AS requested;
SELECT * FROM pg_temp.buttons(:o_lenses);
-- a cancelled order has no buttons
SELECT request_refund(:o_suit, 'refund_only', 'no_reason') IS NOT NULL AS requested;
SELECT count(*) AS buttons FROM order_buttons(:o_suit);

--
-- An ordinary order: no Start, no evidence, ship at once
--
SELECT * FROM pg_temp.buttons(:o_wok);
SELECT ship(:o_wok, 'SF-5004');
SELECT count(*) AS buttons FROM order_buttons(:o_wok);

--
-- The order machine's transition table, and how a case opens
--
SELECT from_state, action, to_state, guard, rule
FROM transitions() WHERE machine = 'order';
SELECT from_state, action, to_state, guard
FROM transitions() WHERE machine = 'aftersale' AND from_state = '(none)';
-- the actions of the order machine
SELECT DISTINCT action FROM transitions() WHERE machine = 'order' ORDER BY action;
