--
-- labels_L: the custom label and products (rules L1-L4)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-05-06 09:00:00-07';

--
-- L1: the custom label needs a custom-enabled category and the approval
--
-- not custom-enabled (kitchenware), even with a valid promise
SELECT err_full($$INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
                  VALUES (shop('high'), cat('kitchenware'), 'custom wok', 99, true, '7 days')$$);
-- custom-enabled, but edge is not approved for glasses
SELECT err_full($$INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
                  VALUES (shop('edge'), cat('glasses'), 'lenses-edge', 680, true, '48 hours')$$);
-- the same refusals by raw UPDATE: label an ordinary product ...
SELECT err($$UPDATE products SET is_custom = true, promised_ship = '7 days' WHERE title = 'wok'$$);
-- ... or move a custom product to a category the shop is not approved for
SELECT err($$UPDATE products SET category_id = cat('glasses'), promised_ship = '48 hours'
             WHERE title = 'wardrobe-edge'$$);
-- ... or to another shop that is not approved
SELECT err($$UPDATE products SET shop_id = shop('edge') WHERE title = 'lenses-high'$$);
-- an approved shop may label its product in a custom-enabled category
BEGIN;
UPDATE products SET is_custom = true, promised_ship = '48 hours'
WHERE title = 'shelf-stock' RETURNING title, is_custom, promised_ship;
ROLLBACK;
-- an update that does not touch the label's inputs is not re-judged
UPDATE products SET price = 9900.00 WHERE title = 'wardrobe-edge'
RETURNING title, price, is_custom;
-- ordinary products need no approval, in any category
SELECT err($$INSERT INTO products (shop_id, category_id, title, price)
             VALUES (shop('edge'), cat('glasses'), 'lens cloth', 9.90)$$);
-- once approved, edge may publish custom glasses
BEGIN;
SELECT approve_custom_category(shop('edge'), cat('glasses'));
SELECT err($$INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
             VALUES (shop('edge'), cat('glasses'), 'lenses-edge', 680, true, '48 hours')$$);
ROLLBACK;

-- approve_custom_category refusals
SELECT err_full('SELECT approve_custom_category(999, cat(''glasses''))');
SELECT err('SELECT approve_custom_category(shop(''edge''), 999)');
SELECT err_full('SELECT approve_custom_category(shop(''edge''), cat(''kitchenware''))');
SELECT err('SELECT approve_custom_category(NULL, cat(''glasses''))');
SELECT err('SELECT approve_custom_category(shop(''edge''), NULL)');
SELECT count(*) AS approvals FROM custom_approvals;

--
-- L2: a promised ship time from the category's options
--
SELECT err_full($$INSERT INTO products (shop_id, category_id, title, price, is_custom)
                  VALUES (shop('high'), cat('whole-house'), 'no promise', 100, true)$$);
SELECT err_full($$INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
                  VALUES (shop('high'), cat('whole-house'), 'odd promise', 100, true, '3 days')$$);
-- 15 days is offered by whole-house but not by glasses
SELECT err($$INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
             VALUES (shop('high'), cat('glasses'), 'slow lenses', 100, true, '15 days')$$);
SELECT err($$UPDATE products SET promised_ship = NULL WHERE title = 'lenses-high'$$);
SELECT err($$UPDATE products SET promised_ship = '15 days' WHERE title = 'lenses-high'$$);
SELECT err($$UPDATE products SET promised_ship = '7 days' WHERE title = 'lenses-high'$$);
UPDATE products SET promised_ship = '48 hours' WHERE title = 'lenses-high';

-- ship_by = paid_at + promised ship time
SELECT place_order(prod('wardrobe-high'), 1001, 9800.00) AS o_wardrobe \gset
SET customorder.clock = '2024-05-06 09:30:00-07';
SELECT place_order(prod('lenses-high'), 1002, 680.00) AS o_lenses \gset
SELECT place_order(prod('wok'), 1003, 199.00) AS o_wok \gset
SELECT order_id, product_id, shop_id, is_custom, state, paid_at, promised_ship,
       ship_by, ship_by - paid_at AS ship_within
FROM orders WHERE order_id IN (:o_wardrobe, :o_lenses, :o_wok) ORDER BY order_id;

--
-- L3: the 7-day no-reason return badge shows on ordinary products only
--
SELECT title, is_custom, product_badges(product_id)
FROM products ORDER BY product_id;
SELECT err_full('SELECT product_badges(999)');
SELECT err('SELECT product_badges(NULL)');

--
-- L4: an order snapshots the label, the promise and the category rules
--
CREATE TEMP TABLE snap AS
SELECT order_id, is_custom, promised_ship, ship_by, category_id, start_lock,
       high_score_threshold, evidence_review
FROM orders WHERE order_id = :o_lenses;
BEGIN;
UPDATE categories SET start_lock = '3 hours', high_score_threshold = 4.99,
                      evidence_review = true,
                      ship_promise_options = '{48 hours,7 days,20 days}'
WHERE name = 'glasses';
UPDATE products SET promised_ship = '7 days' WHERE title = 'lenses-high';
-- the order keeps its snapshot
SELECT o.order_id, o.is_custom, o.promised_ship, o.ship_by, o.start_lock,
       o.high_score_threshold, o.evidence_review,
       (o.order_id, o.is_custom, o.promised_ship, o.ship_by, o.category_id,
        o.start_lock, o.high_score_threshold, o.evidence_review)
       = (s.order_id, s.is_custom, s.promised_ship, s.ship_by, s.category_id,
          s.start_lock, s.high_score_threshold, s.evidence_review) AS unchanged
FROM orders o JOIN snap s USING (order_id);
-- and its rules: Start turns blue after the snapshotted 2 hours, and the
-- high shop (4.95) is judged against the snapshotted threshold 4.80
SET customorder.clock = '2024-05-06 11:30:00-07';
SELECT start_customization(:o_lenses);
-- a new order takes the category and product as they are now
SELECT place_order(prod('lenses-high'), 1004, 680.00) AS o_lenses2 \gset
SELECT order_id, promised_ship, ship_by - paid_at AS ship_within, start_lock,
       high_score_threshold, evidence_review
FROM orders WHERE order_id = :o_lenses2;
SELECT err_full('SELECT start_customization(' || :o_lenses2 || ')');
-- the label itself: removing it from the product does not change the order
UPDATE products SET is_custom = false, promised_ship = NULL WHERE title = 'wardrobe-high';
SELECT order_id, is_custom, promised_ship FROM orders WHERE order_id = :o_wardrobe;
ROLLBACK;
SET customorder.clock = '2024-05-06 09:30:00-07';

-- raw UPDATE of an order's snapshot and payment columns is refused (new
-- values are constants, and the raw INSERT below is read back by a SELECT:
-- Citus refuses a STABLE function of a column in an UPDATE and one in
-- RETURNING, and test/citus/run runs this file on a cluster)
SELECT err_full('UPDATE orders SET is_custom = false WHERE order_id = ' || :o_lenses);
SELECT c AS "column",
       err(format('UPDATE orders SET %I = %s WHERE order_id = %s', c, v, :o_lenses))
FROM (VALUES ('promised_ship', '''7 days'''),
             ('ship_by', '''2030-01-01 00:00:00+00'''),
             ('category_id', 'category_id + 1'),
             ('start_lock', '''0'''),
             ('high_score_threshold', '0'),
             ('evidence_review', 'NOT evidence_review'),
             ('paid_at', '''2000-01-01 00:00:00+00'''),
             ('amount', 'amount + 1'),
             ('product_id', 'product_id + 1'),
             ('shop_id', 'shop_id + 1'),
             ('buyer_id', 'buyer_id + 1'),
             ('order_id', 'order_id + 1000')) AS t(c, v);
SELECT err('DELETE FROM orders WHERE order_id = ' || :o_wok);

-- raw INSERT into orders: it starts paid, the trigger fills the snapshot
-- and paid_at from customorder.now(), whatever the INSERT said
INSERT INTO orders (product_id, buyer_id, amount, paid_at, is_custom, shop_id,
                    start_lock, high_score_threshold, evidence_review,
                    promised_ship, ship_by, custom_started_at, refunded_amount,
                    category_id)
VALUES (prod('lenses-high'), 1005, 680.00, '2000-01-01 00:00:00+00', false,
        shop('low'), '0', 0, true, '15 days', '2000-01-02 00:00:00+00',
        '2000-01-01 00:00:00+00', 0, cat('kitchenware'))
RETURNING order_id AS o_raw_insert \gset
SELECT shop('high') AS shop_high, cat('glasses') AS cat_glasses \gset
SELECT order_id, shop_id = :shop_high AS shop_of_product, is_custom, state,
       paid_at, paid_at = customorder.now() AS paid_now, ship_by, start_lock,
       high_score_threshold, evidence_review, promised_ship,
       custom_started_at, refunded_amount, category_id = :cat_glasses AS category_of_product
FROM orders WHERE order_id = :o_raw_insert;
SELECT err_full($$INSERT INTO orders (product_id, buyer_id, amount, state)
                  VALUES (prod('wok'), 1006, 199.00, 'shipped')$$);
SELECT err($$INSERT INTO orders (product_id, buyer_id, amount, state)
             VALUES (prod('wardrobe-high'), 1006, 9800.00, 'in_production')$$);
SELECT err($$INSERT INTO orders (product_id, buyer_id, amount)
             VALUES (999, 1006, 10.00)$$);
SELECT err($$INSERT INTO orders (product_id, buyer_id, amount)
             VALUES (prod('wok'), 1006, 0)$$);
SELECT err('SELECT place_order(999, 1006, 10.00)');
SELECT err('SELECT place_order(prod(''wok''), 1006, -1)');
