-- test/demo.sql: a narrated walk through one custom order, from payment to
-- signing, on a throwaway cluster (run by test/demo).  Every step prints the
-- button pressed, the new state, and the merchant backend's buttons
-- (customorder.order_buttons: enabled = blue, not enabled = grey).
--
-- Time is moved with the superuser-only GUC customorder.clock.

\set ON_ERROR_STOP 1
\set VERBOSITY default
\set SHOW_CONTEXT never
\pset footer off
SET client_min_messages = warning;
SET TimeZone = 'Asia/Shanghai';

\echo
\echo '=== 0. Platform set-up ==='
CREATE EXTENSION IF NOT EXISTS customorder;

\echo '--- category 眼镜 (glasses): custom-enabled, Start unlocks 1 hour after payment, high-score threshold 4.80'
INSERT INTO customorder.categories (name, custom_enabled)
    VALUES ('眼镜 glasses', true)
    RETURNING category_id, name, custom_enabled, start_lock, high_score_threshold,
              ship_promise_options \gset
\echo '--- shop 明视眼镜店 with service score 4.50 (below the threshold), approved for custom goods in the category'
INSERT INTO customorder.shops (name, service_score) VALUES ('明视眼镜店', 4.50)
    RETURNING shop_id \gset
SELECT customorder.approve_custom_category(:shop_id, :category_id) AS approved \gset
\echo '--- a custom product: prescription glasses, promised ship time 7 days'
INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
    VALUES (:shop_id, :category_id, '定制处方眼镜 prescription glasses', 680.00, true, '7 days')
    RETURNING product_id \gset
SELECT customorder.product_badges(:product_id) AS badges;

\echo
\echo '=== 1. The buyer pays (customorder.clock = 2030-03-01 10:00) ==='
SET customorder.clock = '2030-03-01 10:00:00+08';
\echo '>>> place_order(product, buyer 8001, 680.00)'
SELECT customorder.place_order(:product_id, 8001, 680.00) AS order_id \gset
SELECT order_id, is_custom, state, paid_at, ship_by
    FROM customorder.orders WHERE order_id = :order_id;
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);

\echo
\echo '=== 2. 30 minutes after payment: the Start button (开始定制) is grey ==='
SET customorder.clock = '2030-03-01 10:30:00+08';
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo '>>> merchant presses 开始定制: start_customization(order) -- refused, the button is grey'
\set ON_ERROR_STOP 0
SELECT customorder.start_customization(:order_id) AS new_state;
\set ON_ERROR_STOP 1
\echo 'SQLSTATE of the refusal:' :LAST_ERROR_SQLSTATE
SELECT state FROM customorder.orders WHERE order_id = :order_id;

\echo
\echo '=== 2b. Meanwhile a second order by another buyer, refunded in the grey window ==='
SET customorder.clock = '2030-03-01 10:20:00+08';
\echo '>>> place_order(product, buyer 8002, 680.00) at 10:20'
SELECT customorder.place_order(:product_id, 8002, 680.00) AS order2_id \gset
SET customorder.clock = '2030-03-01 10:35:00+08';
\echo 'refund eligibility of the second order 15 minutes after payment:'
SELECT * FROM customorder.refund_eligibility(:order2_id);
\echo '>>> buyer presses 申请退款: request_refund(order 2, refund_only, no_reason) -- instant refund (极速退款), no merchant action'
SELECT customorder.request_refund(:order2_id, 'refund_only', 'no_reason') AS aftersale_id \gset
SELECT state, refunded_amount FROM customorder.orders WHERE order_id = :order2_id;
SELECT aftersale_id, kind, reason, state, refund_amount
    FROM customorder.aftersales WHERE order_id = :order2_id;
\echo 'buttons of the second order:'
SELECT * FROM customorder.order_buttons(:order2_id);

\echo
\echo '=== 3. 60 minutes after payment: the Start button turns blue ==='
SET customorder.clock = '2030-03-01 11:00:00+08';
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo '>>> merchant presses 开始定制: start_customization(order) -- score 4.50 < 4.80, so evidence is required'
SELECT customorder.start_customization(:order_id) AS new_state;
SELECT state, custom_started_at FROM customorder.orders WHERE order_id = :order_id;
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo 'refund eligibility (customization not yet in effect: still instant):'
SELECT * FROM customorder.refund_eligibility(:order_id);

\echo
\echo '=== 4. The merchant submits production-start evidence (定制凭证) ==='
SET customorder.clock = '2030-03-01 15:00:00+08';
\echo '>>> merchant presses 提交定制凭证: submit_custom_evidence(order, 2 images + 1 video)'
SELECT customorder.submit_custom_evidence(:order_id, '[
  {"type":"image","mime":"image/jpeg","bytes":2400000,"uri":"https://img.example/lens-mould.jpg"},
  {"type":"image","mime":"image/png","bytes":3100000,"uri":"https://img.example/frame-blank.png",
   "sha256":"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
  {"type":"video","mime":"video/mp4","bytes":52000000,"uri":"https://img.example/grinding.mp4"}
]'::jsonb) AS new_state;
SELECT state FROM customorder.orders WHERE order_id = :order_id;
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo 'refund eligibility (customization in effect: the merchant decides):'
SELECT * FROM customorder.refund_eligibility(:order_id);

\echo
\echo '=== 5. Merchant or buyer presses 查看定制凭证: view_custom_evidence(order) ==='
SELECT bundle_id, purpose, submitted_at, item_no, type, mime, bytes, uri, sha256
    FROM customorder.view_custom_evidence(:order_id);

\echo
\echo '=== 6. Shipping (2030-03-05) ==='
SET customorder.clock = '2030-03-05 09:00:00+08';
\echo '>>> merchant presses 发货: ship(order, SF1234567890)'
SELECT customorder.ship(:order_id, 'SF1234567890') AS new_state;
SELECT state, tracking_no, shipped_at, ship_by FROM customorder.orders WHERE order_id = :order_id;
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);

\echo
\echo '=== 7. Logistics reports the parcel signed (2030-03-07) ==='
SET customorder.clock = '2030-03-07 14:00:00+08';
\echo '>>> logistics presses 签收: mark_signed(order)'
SELECT customorder.mark_signed(:order_id) AS new_state;
SELECT state, signed_at FROM customorder.orders WHERE order_id = :order_id;
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo 'refund eligibility (custom goods: no 7-day no-reason return):'
SELECT * FROM customorder.refund_eligibility(:order_id);

\echo
\echo '=== 8. A raw UPDATE is judged like a button: try to put the signed order back to paid ==='
\set ON_ERROR_STOP 0
UPDATE customorder.orders SET state = 'paid' WHERE order_id = :order_id;
\set ON_ERROR_STOP 1
\echo 'SQLSTATE of the refusal:' :LAST_ERROR_SQLSTATE

\echo
\echo '=== Both orders at the end ==='
SELECT order_id, buyer_id, amount, state, refunded_amount, custom_started_at, signed_at
    FROM customorder.orders ORDER BY order_id;
\echo 'demo finished'
