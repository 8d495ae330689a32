--
-- verify: customorder.verify() finds nothing wrong in a data set built
-- through the buttons, and names each invariant that a corruption breaks.
--
-- Corruptions are written with the rule triggers off (SET LOCAL
-- session_replication_role = replica, which also lets us drop a safety-net
-- index or check) inside a transaction that is rolled back, so each starts
-- from the healthy data set.  Orders appear by name and the ids of cases and
-- bundles as #, so the output does not depend on the tests run before.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;

-- ev(images, videos, prefix): a valid evidence bundle
CREATE FUNCTION pg_temp.ev(images int, videos int, prefix text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(i ORDER BY n), '[]')
    FROM (SELECT g AS n,
                 jsonb_build_object('type', 'image', 'mime', 'image/jpeg',
                                    'bytes', 300000 + g,
                                    'uri', 'https://vf.example/' || prefix || '/' || g || '.jpg') AS i
          FROM generate_series(1, images) g
          UNION ALL
          SELECT 100 + g,
                 jsonb_build_object('type', 'video', 'mime', 'video/mp4',
                                    'bytes', 8000000 + g,
                                    'uri', 'https://vf.example/' || prefix || '/' || g || '.mp4')
          FROM generate_series(1, videos) g) s
$$;

-- Fixtures: custom furniture (no review), custom tailoring (platform
-- review), ordinary kitchenware; a high-score and a low-score shop
INSERT INTO categories (name, custom_enabled) VALUES ('vf-furniture', true);
INSERT INTO categories (name, custom_enabled, evidence_review) VALUES ('vf-tailoring', true, true);
INSERT INTO categories (name) VALUES ('vf-kitchen');
INSERT INTO shops (name, service_score) VALUES ('vf-high', 4.95), ('vf-low', 4.10);
SELECT count(approve_custom_category(s.shop_id, c.category_id)) AS approvals
FROM shops s, categories c
WHERE s.name IN ('vf-high', 'vf-low') AND c.name IN ('vf-furniture', 'vf-tailoring');
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, p.title, p.price, true, p.promised::interval
FROM (VALUES ('vf-sofa-high', 'vf-high', 'vf-furniture', 6000.00, '7 days'),
             ('vf-sofa-low', 'vf-low', 'vf-furniture', 6000.00, '7 days'),
             ('vf-suit-low', 'vf-low', 'vf-tailoring', 2500.00, '15 days'))
     p(title, shop, category, price, promised)
JOIN shops s ON s.name = p.shop JOIN categories c ON c.name = p.category;
INSERT INTO products (shop_id, category_id, title, price)
SELECT s.shop_id, c.category_id, 'vf-pan', 99.00
FROM shops s, categories c WHERE s.name = 'vf-high' AND c.name = 'vf-kitchen';
SELECT product_id AS sofa_high FROM products WHERE title = 'vf-sofa-high' \gset
SELECT product_id AS sofa_low FROM products WHERE title = 'vf-sofa-low' \gset
SELECT product_id AS suit_low FROM products WHERE title = 'vf-suit-low' \gset
SELECT product_id AS pan FROM products WHERE title = 'vf-pan' \gset

--
-- The healthy data set, every row written by the buttons
--
SET customorder.clock = '2024-07-01 09:00:00-07';
SELECT place_order(:sofa_low, 7001, 6000.00) AS o_evidence \gset
SELECT place_order(:suit_low, 7002, 2500.00) AS o_review \gset
SELECT place_order(:sofa_high, 7003, 6000.00) AS o_rejected \gset
SELECT place_order(:sofa_high, 7004, 6000.00) AS o_insist_ship \gset
SELECT place_order(:sofa_high, 7005, 6000.00) AS o_partial \gset
SELECT place_order(:sofa_high, 7006, 6000.00) AS o_open \gset
SELECT place_order(:pan, 7007, 99.00) AS o_cancelled \gset
-- Start is grey for an hour; two hours later it is blue
SET customorder.clock = '2024-07-01 11:00:00-07';
SELECT start_customization(:o_evidence) AS evidence,
       start_customization(:o_review) AS review,
       start_customization(:o_rejected) AS rejected,
       start_customization(:o_insist_ship) AS insist_ship,
       start_customization(:o_partial) AS partial,
       start_customization(:o_open) AS open;
-- F2: the ordinary order is cancelled and refunded at once
SELECT request_refund(:o_cancelled, 'refund_only', 'no_reason') IS NOT NULL AS cancelled;

-- low-score shops submit production evidence (S4, S5)
SET customorder.clock = '2024-07-02 10:00:00-07';
SELECT submit_custom_evidence(:o_evidence, pg_temp.ev(2, 1, 'evidence'));
SELECT submit_custom_evidence(:o_review, pg_temp.ev(3, 0, 'review'));
-- A1.2: reject a request on a custom order in production, with photos
SELECT request_refund(:o_rejected, 'refund_only', 'quality') AS c_rejected \gset
SELECT insist_reject(:c_rejected);
SELECT communicate(:c_rejected, NULL) IS NOT NULL AS sent;
SELECT continue_reject(:c_rejected, NULL, pg_temp.ev(2, 0, 'proof'));
-- A1.3: insist on shipping
SELECT request_refund(:o_insist_ship, 'refund_only', 'no_reason') AS c_insist_ship \gset
SELECT insist_reject(:c_insist_ship);
SELECT communicate(:c_insist_ship, NULL) IS NOT NULL AS sent;
SELECT insist_ship(:c_insist_ship, 'VF-SHIP-1');
-- an open case, left open
SELECT request_refund(:o_open, 'refund_only', 'no_reason') AS c_open \gset
-- ship and sign the evidence order and the one to be partially refunded
SELECT ship(:o_evidence, 'VF-SHIP-2'), ship(:o_partial, 'VF-SHIP-3');
SET customorder.clock = '2024-07-04 15:00:00-07';
SELECT mark_signed(:o_evidence), mark_signed(:o_partial);
-- A2.2: a partial refund negotiated after signing
SET customorder.clock = '2024-07-05 10:00:00-07';
SELECT request_refund(:o_partial, 'return_refund', 'quality') AS c_partial \gset
SELECT insist_reject(:c_partial);
SELECT communicate(:c_partial, 'negotiate_amount') IS NOT NULL AS sent;
SELECT propose_refund_amount(:c_partial, 600.00);
SELECT accept_refund_amount(:c_partial, 600.00);

-- Name the orders
CREATE TEMP TABLE vf_orders (name text, order_id bigint);
INSERT INTO vf_orders VALUES
    ('evidence', :o_evidence), ('review', :o_review), ('rejected', :o_rejected),
    ('insist_ship', :o_insist_ship), ('partial', :o_partial), ('open', :o_open),
    ('cancelled', :o_cancelled);
SELECT n.name, o.is_custom, o.state, o.refunded_amount,
       o.open_aftersale_id IS NOT NULL AS has_open_case,
       (SELECT string_agg(a.state::text, ', ' ORDER BY a.aftersale_id)
        FROM aftersales a WHERE a.order_id = o.order_id) AS cases,
       (SELECT string_agg(b.purpose || ' ' || b.image_count || '+' || b.video_count,
                          ', ' ORDER BY b.bundle_id)
        FROM evidence_bundles b WHERE b.order_id = o.order_id) AS bundles
FROM vf_orders n JOIN orders o USING (order_id) ORDER BY o.order_id;

-- Healthy: nothing to report, in this data set or any other the suite built
SELECT * FROM customorder.verify();

-- verify() as the tests below read it: orders by name, other ids as #
CREATE TEMP VIEW vf_verify AS
SELECT v.invariant, n.name AS "order",
       regexp_replace(v.detail, '(case|bundle|order) [0-9]+', '\1 #', 'g') AS detail
FROM customorder.verify() v LEFT JOIN vf_orders n USING (order_id);

--
-- Orders: state against timestamps and columns, ship_by
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE orders SET shipped_at = NULL WHERE order_id = :o_insist_ship;
UPDATE orders SET signed_at = shipped_at - interval '1 hour' WHERE order_id = :o_evidence;
UPDATE orders SET custom_started_at = paid_at + interval '30 minutes' WHERE order_id = :o_rejected;
UPDATE orders SET ship_by = ship_by + interval '1 day' WHERE order_id = :o_partial;
UPDATE orders SET state = 'in_production' WHERE order_id = :o_cancelled;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- H2: the chain of stamps of an order and of its cases
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE orders SET custom_started_at = paid_at - interval '1 minute' WHERE order_id = :o_review;
UPDATE orders SET shipped_at = custom_started_at - interval '1 minute' WHERE order_id = :o_evidence;
UPDATE aftersales a SET requested_at = o.paid_at - interval '1 minute'
FROM orders o WHERE o.order_id = a.order_id AND a.order_id = :o_open;
SELECT * FROM vf_verify WHERE invariant LIKE '%stamps' ORDER BY 1, 2, 3;
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE aftersales SET communicated_at = requested_at - interval '1 minute',
                      closed_at = requested_at - interval '2 minutes'
WHERE order_id = :o_partial;
UPDATE communications SET sent_at = sent_at - interval '10 days' WHERE order_id = :o_partial;
UPDATE evidence_bundles SET submitted_at = submitted_at - interval '10 days'
WHERE order_id = :o_rejected AND aftersale_id IS NOT NULL;
SELECT * FROM vf_verify WHERE invariant LIKE '%stamps' ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Orders: the evidence bundle an order names
--
BEGIN;
SET LOCAL session_replication_role = replica;
-- evidence_review naming another order's bundle
UPDATE orders SET evidence_bundle_id = (SELECT evidence_bundle_id FROM orders WHERE order_id = :o_evidence)
WHERE order_id = :o_review;
-- in production on evidence the platform rejected
UPDATE evidence_bundles SET review_state = 'rejected'
WHERE order_id = :o_evidence AND purpose = 'production';
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Bundles: 11 images, and counters that do not match the items
--
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO evidence_items (order_id, bundle_id, item_no, type, mime, bytes, uri)
SELECT b.order_id, b.bundle_id, 10 + g, 'image', 'image/png', 1000,
       'https://vf.example/extra/' || g || '.png'
FROM evidence_bundles b, generate_series(1, 9) g
WHERE b.order_id = :o_evidence AND b.purpose = 'production';
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Bundle items: size, mime, duplicates (the unique index dropped first)
--
BEGIN;
SET LOCAL session_replication_role = replica;
DROP INDEX evidence_items_order_id_bundle_id_uri_idx;
UPDATE evidence_items SET mime = 'video/mp4', bytes = 20971520
WHERE order_id = :o_review AND item_no = 1;
UPDATE evidence_items SET uri = 'https://vf.example/review/2.jpg'
WHERE order_id = :o_review AND item_no = 3;
UPDATE evidence_items SET bytes = 0
WHERE order_id = :o_evidence AND type = 'video';
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Bundles: a rejection proof without a photo, an empty submitted bundle
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE evidence_items SET type = 'video', mime = 'video/mp4'
WHERE order_id = :o_rejected;
UPDATE evidence_bundles SET image_count = 0, video_count = 2
WHERE order_id = :o_rejected;
DELETE FROM evidence_items WHERE order_id = :o_review;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Money: more refunded than the cases paid, more refunded than the amount,
-- an amount of nothing, a proposal of nothing (1.1 leaves these rules to
-- the triggers and verify(), no CHECK constraint)
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE orders SET refunded_amount = 900.00 WHERE order_id = :o_partial;
UPDATE orders SET refunded_amount = 100.00 WHERE order_id = :o_cancelled;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
UPDATE orders SET amount = 0, refunded_amount = 0 WHERE order_id = :o_open;
UPDATE aftersales SET proposed_amount = 0 WHERE aftersale_id = :c_partial;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Deadlines (T1): an open case without one, a closed case with one, a
-- late_at before ship_by
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE aftersales SET due_at = NULL WHERE aftersale_id = :c_open;
UPDATE aftersales SET due_at = closed_at WHERE aftersale_id = :c_partial;
UPDATE orders SET late_at = paid_at WHERE order_id = :o_open;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Cases: two open cases on one order (the unique index dropped first)
--
BEGIN;
SET LOCAL session_replication_role = replica;
DROP INDEX aftersales_one_open_case;
WITH c AS (INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
           VALUES (:o_open, 'refund_only', 'quality', 'requested', customorder.now())
           RETURNING aftersale_id, order_id)
INSERT INTO case_orders SELECT aftersale_id, order_id FROM c;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Cases: the open-case marker, and an open case on a cancelled order
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE orders SET open_aftersale_id = NULL WHERE order_id = :o_open;
UPDATE orders SET open_aftersale_id = :c_partial WHERE order_id = :o_partial;
WITH c AS (INSERT INTO aftersales (order_id, kind, reason, state, requested_at)
           VALUES (:o_cancelled, 'refund_only', 'quality', 'requested', customorder.now())
           RETURNING aftersale_id, order_id)
INSERT INTO case_orders SELECT aftersale_id, order_id FROM c;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Cases: a rejection without communicating
--
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM communications WHERE aftersale_id = :c_rejected;
UPDATE aftersales SET communicated_at = NULL WHERE aftersale_id = :c_rejected;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Cases: signed_no_reason on a quality complaint, with production photos;
-- a rejection whose proof belongs to another case
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE aftersales SET reject_reason = 'signed_no_reason' WHERE aftersale_id = :c_rejected;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
UPDATE aftersales SET reject_reason = NULL,
    proof_bundle_id = (SELECT evidence_bundle_id FROM orders WHERE order_id = :o_evidence)
WHERE aftersale_id = :c_rejected;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Cases: closed_at, refund_amount, communicated_at, instant refund, shipment
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE aftersales SET closed_at = NULL WHERE aftersale_id = :c_partial;
UPDATE aftersales SET closed_at = customorder.now() WHERE aftersale_id = :c_open;
UPDATE aftersales SET communicated_at = NULL WHERE aftersale_id = :c_insist_ship;
UPDATE orders SET tracking_no = 'VF-OTHER' WHERE order_id = :o_insist_ship;
UPDATE aftersales SET refund_amount = NULL WHERE order_id = :o_cancelled;
UPDATE aftersales SET refund_amount = 5.00 WHERE aftersale_id = :c_rejected;
UPDATE aftersales SET state = 'instant_refunded' WHERE aftersale_id = :c_partial;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Events (H2): the latest event of one order moved a year later, past its
-- order's last_stamp_at; the latest of another moved a year earlier, before
-- the event before it
--
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE events SET at = at + interval '1 year'
WHERE order_id = :o_review
  AND event_id = (SELECT max(event_id) FROM events WHERE order_id = :o_review);
UPDATE events SET at = at - interval '1 year'
WHERE order_id = :o_evidence
  AND event_id = (SELECT max(event_id) FROM events WHERE order_id = :o_evidence);
SELECT invariant, "order", regexp_replace(detail, 'event [0-9]+', 'event #') AS detail
FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- The checks name every operator by schema: a look-alike = on text ahead of
-- pg_catalog in the search_path changes nothing
--
BEGIN;
CREATE FUNCTION public.vf_never(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.vf_never);
SET LOCAL search_path = public, pg_catalog;
SET LOCAL session_replication_role = replica;
UPDATE customorder.evidence_bundles SET purpose = 'logistics_proof' WHERE order_id = :o_review;
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
ROLLBACK;

--
-- Lookups by another key than order_id (on Citus, tables of their own):
-- a case without its case_orders row, one whose row names another order, a
-- row of no case; a pay_no not in payments, a payment naming another order,
-- a payment of no order.  Orders with a pay_no come from place_order.
--
BEGIN;
SELECT place_order(:pan, 7008, 99.00, 'VF-PAY-1') AS o_paid,
       place_order(:pan, 7009, 99.00, 'VF-PAY-2') AS o_paid2 \gset
INSERT INTO vf_orders VALUES ('paid', :o_paid), ('paid2', :o_paid2);
SELECT count(*) AS healthy FROM vf_verify;
SET LOCAL session_replication_role = replica;
DELETE FROM case_orders WHERE aftersale_id = :c_open;
UPDATE case_orders SET order_id = :o_evidence WHERE aftersale_id = :c_partial;
INSERT INTO case_orders (aftersale_id, order_id) VALUES (:c_partial + 1000000, :o_rejected);
DELETE FROM payments WHERE pay_no = 'VF-PAY-1';
UPDATE payments SET order_id = :o_open WHERE pay_no = 'VF-PAY-2';
INSERT INTO payments (pay_no, order_id) VALUES ('VF-PAY-9', :o_paid2 + 1000000);
SELECT * FROM vf_verify ORDER BY 1, 2, 3;
-- verify(order_id) checks one order's cases and pay_no; the rows of a
-- missing case or order are the whole verify()'s
SELECT invariant, regexp_replace(detail, '(case|order) [0-9]+', '\1 #', 'g') AS detail
FROM verify(:o_partial) ORDER BY 1, 2;
SELECT invariant, regexp_replace(detail, '(case|order) [0-9]+', '\1 #', 'g') AS detail
FROM verify(:o_paid2) ORDER BY 1, 2;
ROLLBACK;

-- Every corruption was rolled back
SELECT * FROM customorder.verify();
