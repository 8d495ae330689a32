-- test/demo.sql: a narrated walk through one custom order, from payment to
-- signing, then the two after-sale paths of a shipped order: a return
-- (退货退款, SPEC section 8) and a platform arbitration (平台介入, section 9),
-- on a throwaway cluster (run by test/demo).  Every step prints the button
-- pressed, the new state, and the merchant backend's buttons
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
\echo '=== 9. A return (退货退款, SPEC section 8): the glasses do not fit, the buyer sends them back ==='
SET customorder.clock = '2030-03-08 10:00:00+08';
\echo '>>> buyer presses 申请退款: request_refund(order, return_refund, quality) -- a case the merchant decides'
SELECT customorder.request_refund(:order_id, 'return_refund', 'quality') AS return_case \gset
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);
\echo '>>> merchant presses 同意退款: agree_refund(case) -- after shipment a return waits for the goods: no money yet (R1)'
SELECT customorder.agree_refund(:return_case) AS new_state;
SELECT aftersale_id, kind, reason, state, refund_amount, due_at
    FROM customorder.aftersales WHERE aftersale_id = :return_case;
SELECT state, refunded_amount FROM customorder.orders WHERE order_id = :order_id;
\echo 'running deadlines (the buyer has 7 days to ship the goods back, or the case lapses):'
SELECT * FROM customorder.deadlines(:order_id);
\echo 'buttons (the merchant cannot answer a return that has not shipped):'
SELECT * FROM customorder.order_buttons(:order_id);

SET customorder.clock = '2030-03-09 09:00:00+08';
\echo '>>> buyer presses 退货寄回: ship_return(case, YT9876543210) (R2)'
SELECT customorder.ship_return(:return_case, 'YT9876543210') AS new_state;
SELECT state, return_tracking_no, return_shipped_at, due_at
    FROM customorder.aftersales WHERE aftersale_id = :return_case;
\echo 'running deadlines (the merchant has 10 days to confirm receipt, or the system refunds):'
SELECT * FROM customorder.deadlines(:order_id);
\echo 'buttons:'
SELECT * FROM customorder.order_buttons(:order_id);

SET customorder.clock = '2030-03-11 15:00:00+08';
\echo '>>> merchant presses 确认收货并退款: confirm_return(case) -- all that is still refundable (R3)'
SELECT customorder.confirm_return(:return_case) AS new_state;
SELECT aftersale_id, state, refund_amount, closed_at
    FROM customorder.aftersales WHERE aftersale_id = :return_case;
SELECT state, refunded_amount FROM customorder.orders WHERE order_id = :order_id;
\echo 'the refund the payment service now executes (V4):'
SELECT * FROM customorder.refund_status(:order_id);

\echo
\echo '=== 10. Platform arbitration (平台介入, SPEC section 9): a third order, rejected in transit ==='
SET customorder.clock = '2030-03-12 10:00:00+08';
\echo '>>> place_order(product, buyer 8003, 680.00); 60 minutes later 开始定制 and 提交定制凭证; shipped 2030-03-14'
SELECT customorder.place_order(:product_id, 8003, 680.00) AS order3_id \gset
SET customorder.clock = '2030-03-12 11:00:00+08';
SELECT customorder.start_customization(:order3_id) AS started,
       customorder.submit_custom_evidence(:order3_id, '[
  {"type":"image","mime":"image/jpeg","bytes":2200000,"uri":"https://img.example/o3-lens-blank.jpg"}
]'::jsonb) AS evidence;
SET customorder.clock = '2030-03-14 09:00:00+08';
SELECT customorder.ship(:order3_id, 'SF2233445566') AS shipped;

SET customorder.clock = '2030-03-15 10:00:00+08';
\echo '>>> buyer presses 申请退款: request_refund(order 3, refund_only, not_as_agreed) while the parcel travels'
SELECT customorder.request_refund(:order3_id, 'refund_only', 'not_as_agreed') AS arb_case \gset
\echo '>>> merchant presses 坚持驳回: insist_reject(case)'
SELECT customorder.insist_reject(:arb_case) AS new_state;
\echo '>>> merchant presses 定制商品物流在途，与消费者协商 + 提交: communicate(case, in_transit) -- the default script is sent'
SELECT customorder.communicate(:arb_case, 'in_transit') AS script_sent;
\echo '>>> merchant presses 继续驳回: continue_reject(case, in_transit, logistics proof)'
SELECT customorder.continue_reject(:arb_case, 'in_transit', '[
  {"type":"image","mime":"image/png","bytes":800000,"uri":"https://img.example/o3-tracking.png"}
]'::jsonb) AS new_state;
SELECT aftersale_id, state, comm_reason, reject_reason, closed_at, due_at
    FROM customorder.aftersales WHERE aftersale_id = :arb_case;
\echo 'running deadlines (the buyer may escalate for 7 days):'
SELECT * FROM customorder.deadlines(:order3_id);

SET customorder.clock = '2030-03-16 09:00:00+08';
\echo '>>> buyer presses 平台介入: escalate(case, note) -- inside the window, once (P1); the case is open again'
SELECT customorder.escalate(:arb_case, '镜片度数与处方不符 the lenses do not match my prescription') AS new_state;
SELECT aftersale_id, state, escalated_at, escalation_note, closed_at
    FROM customorder.aftersales WHERE aftersale_id = :arb_case;
SELECT state, open_aftersale_id FROM customorder.orders WHERE order_id = :order3_id;
\echo 'buttons (the ruling, arbitrate, is the platform''s; the merchant may still concede):'
SELECT * FROM customorder.order_buttons(:order3_id);
\echo '>>> logistics presses 签收: mark_signed(order 3) -- arbitration does not stop the parcel (P4)'
SELECT customorder.mark_signed(:order3_id) AS new_state;

SET customorder.clock = '2030-03-16 20:00:00+08';
\echo '>>> buyer presses 补充仲裁凭证: submit_arbitration_evidence(case, 2 images) (P2)'
SELECT customorder.submit_arbitration_evidence(:arb_case, '[
  {"type":"image","mime":"image/jpeg","bytes":1500000,"uri":"https://img.example/o3-prescription.jpg"},
  {"type":"image","mime":"image/jpeg","bytes":1800000,"uri":"https://img.example/o3-lensmeter.jpg"}
]'::jsonb) AS buyer_bundle;
\echo '>>> merchant presses 补充仲裁凭证: submit_arbitration_evidence(case, 1 video) (the session acts for the shop)'
SET customorder.shop_id = :shop_id;
SELECT customorder.submit_arbitration_evidence(:arb_case, '[
  {"type":"video","mime":"video/mp4","bytes":40000000,"uri":"https://img.example/o3-lens-check.mp4"}
]'::jsonb) AS merchant_bundle;
RESET customorder.shop_id;
SELECT bundle_id, purpose, submitted_at, item_no, type, uri
    FROM customorder.view_custom_evidence(:order3_id);

SET customorder.clock = '2030-03-18 11:00:00+08';
\echo '>>> platform presses 平台裁决: arbitrate(case, 340.00, note) -- a partial refund (P3)'
SELECT customorder.arbitrate(:arb_case, 340.00,
    '镜片度数偏差，退一半 the lenses are off: half refunded') AS new_state;
SELECT aftersale_id, state, refund_amount, arbitration_note, closed_at
    FROM customorder.aftersales WHERE aftersale_id = :arb_case;
\echo 'a partial refund keeps the order signed:'
SELECT state, refunded_amount, open_aftersale_id FROM customorder.orders WHERE order_id = :order3_id;
SELECT * FROM customorder.refund_status(:order3_id);
\echo 'the case in the order history (customorder.history, V2):'
SELECT event_id, machine, action, from_state, to_state, actor, at
    FROM customorder.history(:order3_id) WHERE machine = 'case';

\echo
\echo '=== All orders at the end ==='
SELECT order_id, buyer_id, amount, state, refunded_amount, custom_started_at, signed_at
    FROM customorder.orders ORDER BY order_id;
SELECT aftersale_id, order_id, kind, reason, state, refund_amount
    FROM customorder.aftersales ORDER BY aftersale_id;
\echo 'invariants violated (customorder.verify()):'
SELECT * FROM customorder.verify();
\echo 'demo finished'
