--
-- hardening_H: time, money and identity that cannot be gamed (SPEC §6)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2027-03-01 09:00:00+00';

--
-- H3: the platform records a payment; 0 < amount <= the product's price
--
SELECT err(format('SELECT place_order(%s, 9101, 9800.01)', prod('wardrobe-high'))) AS above_price;
SELECT err_full(format('SELECT place_order(%s, 9101, 200)', prod('wok')));
SELECT err(format('SELECT place_order(%s, 9101, 0)', prod('wok'))) AS zero;
-- a coupon may lower it
SELECT place_order(prod('wok'), 9101, 150.00) > 0 AS coupon_lowers;
-- a raw INSERT is judged by the same trigger
SELECT err(format('INSERT INTO orders (product_id, buyer_id, amount) VALUES (%s, 9101, 199.01)', prod('wok'))) AS raw_above_price;
-- pay_no: the same order back for the same payment
SELECT place_order(prod('wok'), 9102, 199.00, 'PAY-H3-1') AS o_pay \gset
SELECT place_order(prod('wok'), 9102, 199.00, 'PAY-H3-1') = :o_pay AS same_order,
       place_order(prod('wok'), 9102, 199, 'PAY-H3-1') = :o_pay AS same_amount_written_otherwise;
SELECT count(*) AS orders_of_payment FROM orders WHERE pay_no = 'PAY-H3-1';
-- ... and 22023 when product, buyer or amount differ
SELECT err_full(format('SELECT place_order(%s, 9102, 198.00, %L)', prod('wok'), 'PAY-H3-1'));
SELECT err(format('SELECT place_order(%s, 9103, 199.00, %L)', prod('wok'), 'PAY-H3-1')) AS other_buyer;
SELECT err(format('SELECT place_order(%s, 9102, 450.00, %L)', prod('shelf-stock'), 'PAY-H3-1')) AS other_product;
SELECT err(format('SELECT place_order(%s, 9102, 199.00, NULL)', prod('wok'))) AS null_pay_no;
SELECT err(format('SELECT place_order(%s, 9102, 199.00, %L)', prod('wok'), '')) AS empty_pay_no;
-- the payment of an order cannot be changed
SELECT err(format('UPDATE orders SET pay_no = %L WHERE order_id = %s', 'PAY-H3-2', :o_pay)) AS raw_pay_no;

--
-- H1, H2: stamps never go backwards within an order and its cases
--
SELECT place_order(prod('wardrobe-high'), 9104, 9800.00) AS o_back \gset
SET customorder.clock = '2027-03-01 12:00:00+00';
SELECT start_customization(:o_back);
-- the clock is set back: the shipment is stamped no earlier than the start
SET customorder.clock = '2027-02-01 00:00:00+00';
SELECT ship(:o_back, 'SF-H2-1');
SELECT paid_at, custom_started_at, shipped_at, last_stamp_at FROM orders WHERE order_id = :o_back;
SELECT request_refund(:o_back, 'refund_only', 'quality') AS c_back \gset
SELECT insist_reject(:c_back);
SELECT communicate(:c_back, 'in_transit') IS NOT NULL AS sent;
SELECT requested_at, communicated_at FROM aftersales WHERE aftersale_id = :c_back;
SELECT sent_at FROM communications WHERE aftersale_id = :c_back;
-- time moves on for real: stamps follow the clock again
SET customorder.clock = '2027-03-02 08:00:00+00';
SELECT withdraw_refund(:c_back);
SELECT mark_signed(:o_back);
SELECT closed_at FROM aftersales WHERE aftersale_id = :c_back;
SELECT shipped_at, signed_at, last_stamp_at FROM orders WHERE order_id = :o_back;
-- last_stamp_at is the triggers' own
SELECT err(format('UPDATE orders SET last_stamp_at = %L WHERE order_id = %s', '2000-01-01', :o_back)) AS raw_last_stamp;
SELECT count(*) AS violations FROM verify() WHERE order_id IN (:o_back, :o_pay);
RESET customorder.clock;
