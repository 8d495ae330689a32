--
-- aftersale_A1: after-sale scenario 1, a custom order not yet shipped
-- (rules A1.1-A1.3, F4, F7; SPEC section 5 on reasons before shipment)
--
-- Uses err(), err_full() and items() from setup.sql; its own category, shop and
-- product.  Ids are made deterministic (they appear in DETAIL lines) by
-- starting this file's orders, cases and bundles at 10001.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SELECT setval(pg_get_serial_sequence('customorder.orders', 'order_id'), 10000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.aftersales', 'aftersale_id'), 10000) IS NOT NULL AS ok,
       setval(pg_get_serial_sequence('customorder.evidence_bundles', 'bundle_id'), 10000) IS NOT NULL AS ok;


-- Fixtures: a custom category, a high-score approved shop, a custom product
INSERT INTO categories (name, custom_enabled) VALUES ('a1-furniture', true);
INSERT INTO shops (name, service_score) VALUES ('a1-shop', 4.90);
SELECT approve_custom_category(
    (SELECT shop_id FROM shops WHERE name = 'a1-shop'),
    (SELECT category_id FROM categories WHERE name = 'a1-furniture'));
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, 'a1-cabinet', 5000.00, true, '15 days'
FROM shops s, categories c WHERE s.name = 'a1-shop' AND c.name = 'a1-furniture';
SELECT product_id AS a1_prod FROM products WHERE title = 'a1-cabinet' \gset

-- Three orders paid at 10:00, started at 11:00: in production (F1)
SET customorder.clock = '2024-06-03 10:00:00-07';
SELECT place_order(:a1_prod, 5101, 5000.00) AS o_agree \gset
SELECT place_order(:a1_prod, 5102, 5000.00) AS o_reject \gset
SELECT place_order(:a1_prod, 5103, 5000.00) AS o_ship \gset
SET customorder.clock = '2024-06-03 11:00:00-07';
SELECT start_customization(:o_agree), start_customization(:o_reject),
       start_customization(:o_ship);
SELECT order_id, state, paid_at, custom_started_at, ship_by, refunded_amount
FROM orders WHERE order_id IN (:o_agree, :o_reject, :o_ship) ORDER BY order_id;

--
-- F3/F4: in production a request opens a case the merchant decides
--
SET customorder.clock = '2024-06-04 09:00:00-07';
SELECT * FROM refund_eligibility(:o_agree);
-- before shipment the kind is refund_only (section 5)
SELECT err_full(format('SELECT request_refund(%s, %L, %L)', :o_agree, 'return_refund', 'no_reason'));
SELECT request_refund(:o_agree, 'refund_only', 'no_reason') AS c_agree \gset
SELECT aftersale_id = :c_agree AS is_case, kind, reason, state, requested_at,
       refund_amount, closed_at
FROM aftersales WHERE order_id = :o_agree;
SELECT state, open_aftersale_id = :c_agree AS open_is_case, refunded_amount
FROM orders WHERE order_id = :o_agree;
SELECT * FROM refund_eligibility(:o_agree);
-- F7: a second request while one is open
SELECT err_full(format('SELECT request_refund(%s, %L, %L)', :o_agree, 'refund_only', 'quality'));
-- the merchant's buttons for a requested case
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_agree);

--
-- A1.1: agree refund, the full amount; the order is refunded
--
SELECT agree_refund(:c_agree);
SELECT state, refund_amount, closed_at FROM aftersales WHERE aftersale_id = :c_agree;
SELECT state, amount, refunded_amount, refunded_amount = amount AS all_back,
       open_aftersale_id
FROM orders WHERE order_id = :o_agree;
SELECT button, enabled FROM order_buttons(:o_agree);
-- a closed case cannot be pressed again; a refunded order takes no request
SELECT err(format('SELECT agree_refund(%s)', :c_agree));
SELECT err(format('SELECT insist_reject(%s)', :c_agree));
SELECT err(format('SELECT withdraw_refund(%s)', :c_agree));
SELECT err_full(format('SELECT request_refund(%s, %L, %L)', :o_agree, 'refund_only', 'no_reason'));

--
-- A1.2: insist reject, communicate first, then continue reject with photos
--
SELECT request_refund(:o_reject, 'refund_only', 'no_reason') AS c_reject \gset
-- communicate comes after insist_reject
SELECT err(format('SELECT communicate(%s, NULL)', :c_reject));
-- ship() while a case is open is refused (section 5)
SELECT ship(:o_reject, 'SF-A1-0001');
SELECT insist_reject(:c_reject);
SELECT state, comm_reason, communicated_at FROM aftersales WHERE aftersale_id = :c_reject;
-- continue_reject is shown grey until the merchant has communicated
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_reject);
-- pressed anyway: refused, nothing stored
SELECT continue_reject(:c_reject, NULL, items(2, 0, 'early'));
SELECT err(format('SELECT continue_reject(%s, NULL, %L)', :c_reject, items(2, 0, 'early')));
SELECT count(*) AS proof_bundles FROM evidence_bundles WHERE aftersale_id = :c_reject;
-- insist_ship likewise needs communication first
SELECT err(format('SELECT insist_ship(%s, %L)', :c_reject, 'SF-A1-0002'));
-- insist_reject twice
SELECT err(format('SELECT insist_reject(%s)', :c_reject));
-- communicate: a scenario-2 reason before shipment is refused; unknown reasons
SELECT err_full(format('SELECT communicate(%s, %L)', :c_reject, 'in_transit'));
SELECT err(format('SELECT communicate(%s, %L)', :c_reject, 'negotiate_amount'));
SELECT err(format('SELECT communicate(%s, %L)', :c_reject, 'agreement_reached'));
SELECT err_full(format('SELECT communicate(%s, %L)', :c_reject, 'please_pay'));
SELECT count(*) AS communications FROM communications WHERE aftersale_id = :c_reject;
-- 先沟通 + 提交: the scenario-1 default script is sent and recorded
SET customorder.clock = '2024-06-04 10:00:00-07';
SELECT communicate(:c_reject, NULL);
SELECT comm_no, reason, sent_at, script = (SELECT script FROM scripts WHERE situation = 'not_shipped') AS default_script
FROM communications WHERE aftersale_id = :c_reject ORDER BY comm_no;
SELECT state, comm_reason, communicated_at FROM aftersales WHERE aftersale_id = :c_reject;
-- continue_reject is blue now; insist_ship too (goods not shipped)
SELECT button, label, enabled, why_disabled FROM order_buttons(:o_reject);
-- communicating again is allowed (section 5); the same situation again
-- sends nothing new and returns the script already sent
SET customorder.clock = '2024-06-04 10:30:00-07';
SELECT communicate(:c_reject, NULL) = (SELECT script FROM scripts WHERE situation = 'not_shipped') AS same_script;
SELECT comm_no, reason, sent_at FROM communications WHERE aftersale_id = :c_reject ORDER BY comm_no;
-- the proof: a scenario-2 reason before shipment (section 5)
SELECT continue_reject(:c_reject, 'in_transit', items(2, 0, 'transit'));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_reject, 'signed_no_reason', items(2, 0, 'signed')));
SELECT err(format('SELECT continue_reject(%s, %L, %L)', :c_reject, 'because', items(2, 0, 'because')));
-- videos alone are not photos (section 5)
SELECT err_full(format('SELECT continue_reject(%s, NULL, %L)', :c_reject, items(0, 2, 'videos')));
-- E1 holds for proof: 11 images, an empty bundle, no items at all
SELECT err(format('SELECT continue_reject(%s, NULL, %L)', :c_reject, items(11, 0, 'many')));
SELECT err(format('SELECT continue_reject(%s, NULL, %L)', :c_reject, '[]'));
SELECT err(format('SELECT continue_reject(%s, NULL, NULL)', :c_reject));
-- nothing of the refused attempts was kept
SELECT count(*) AS proof_bundles FROM evidence_bundles WHERE aftersale_id = :c_reject;
SELECT state, reject_reason, proof_bundle_id FROM aftersales WHERE aftersale_id = :c_reject;
-- photos and a video of the goods in production: the case ends rejected
SET customorder.clock = '2024-06-04 11:00:00-07';
SELECT continue_reject(:c_reject, NULL, items(3, 1, 'proof'));
SELECT state, reject_reason, proof_bundle_id IS NOT NULL AS has_proof, closed_at
FROM aftersales WHERE aftersale_id = :c_reject;
-- the order continues in production; its open case is cleared
SELECT state, refunded_amount, open_aftersale_id, tracking_no
FROM orders WHERE order_id = :o_reject;
-- the proof is a rejection_proof bundle of the case, shown with the evidence
SELECT bundle_id = (SELECT proof_bundle_id FROM aftersales WHERE aftersale_id = :c_reject) AS is_proof,
       purpose, aftersale_id = :c_reject AS of_case, submitted_at, review_state,
       item_no, type, mime, bytes, uri
FROM view_custom_evidence(:o_reject) ORDER BY bundle_id, item_no;
-- a rejected case is closed; the merchant's buttons are the order's again
SELECT err(format('SELECT withdraw_refund(%s)', :c_reject));
SELECT button, enabled FROM order_buttons(:o_reject);
-- F7: a closed case does not block a new request, which the buyer withdraws
SET customorder.clock = '2024-06-05 09:00:00-07';
SELECT request_refund(:o_reject, 'refund_only', 'not_as_agreed') AS c_again \gset
SELECT :c_again > :c_reject AS new_case, state FROM aftersales WHERE aftersale_id = :c_again;
SELECT withdraw_refund(:c_again);
SELECT aftersale_id = :c_reject AS first_case, reason, state
FROM aftersales WHERE order_id = :o_reject ORDER BY aftersale_id;
-- and the order ships normally
SELECT ship(:o_reject, 'SF-A1-0003');

--
-- A1.3: insist ship, after communicating, with a tracking number
--
SET customorder.clock = '2024-06-06 09:00:00-07';
SELECT request_refund(:o_ship, 'refund_only', 'no_reason') AS c_ship \gset
SELECT insist_reject(:c_ship);
SELECT insist_ship(:c_ship, 'SF-A1-0004');
SELECT communicate(:c_ship, NULL) = (SELECT script FROM scripts WHERE situation = 'not_shipped') AS scenario1_script;
-- ship() still refused: the case is open and the merchant answers it
SELECT err_full(format('SELECT ship(%s, %L)', :o_ship, 'SF-A1-0005'));
-- a tracking number is required
SELECT insist_ship(:c_ship, NULL);
SELECT err(format('SELECT insist_ship(%s, %L)', :c_ship, ''));
SELECT state, tracking_no, shipped_at FROM orders WHERE order_id = :o_ship;
SET customorder.clock = '2024-06-06 15:00:00-07';
SELECT insist_ship(:c_ship, 'SF-A1-0006');
SELECT state, tracking_no, closed_at FROM aftersales WHERE aftersale_id = :c_ship;
SELECT state, tracking_no, shipped_at, open_aftersale_id, refunded_amount
FROM orders WHERE order_id = :o_ship;
-- shipped: the order's buttons no longer show insist_ship or ship
SELECT button, enabled FROM order_buttons(:o_ship);
SELECT err(format('SELECT insist_ship(%s, %L)', :c_ship, 'SF-A1-0007'));

--
-- Missing things: P0002 and 22004
--
SELECT err(format('SELECT agree_refund(%s)', 999999));
SELECT err('SELECT agree_refund(NULL)');
SELECT err('SELECT insist_reject(NULL)');
SELECT err('SELECT communicate(NULL, NULL)');
SELECT err(format('SELECT continue_reject(NULL, NULL, %L)', items(1, 0, 'null')));
SELECT err('SELECT insist_ship(NULL, ''SF'')');
SELECT err('SELECT withdraw_refund(NULL)');

-- Every case of this file, for the record
SELECT o.order_id, a.aftersale_id, a.kind, a.reason, a.state, a.refund_amount,
       a.comm_reason, a.reject_reason, a.tracking_no, a.requested_at, a.closed_at
FROM aftersales a JOIN orders o USING (order_id)
WHERE o.product_id = :a1_prod ORDER BY a.aftersale_id;
RESET customorder.clock;
