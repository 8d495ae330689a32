-- test/upgrade/fill-1.0.sql: a customorder 1.0 database filled through the
-- buttons, as a superuser moving customorder.clock (run by test/upgrade/run).
--
-- U2: the library installed is the newest one (1.1's); this file installs
-- the 1.0 SQL and presses every kind of button against it, so each press
-- below shows the new library still serving a database that has not been
-- updated yet (the C entry points 1.0's SQL names keep working).
--
-- Every order state and every after-sale case state is left behind, open
-- and closed cases, evidence bundles of each purpose with their items, a
-- communication of each kind of situation, a partial refund (an accepted
-- proposal) and a merchant actor role.  Orders are named by their buyer_id
-- (9001...), which the after-update script uses to find them again.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION customorder VERSION '1.0';
SELECT extversion AS installed FROM pg_extension WHERE extname = 'customorder';

-- a merchant role made an actor under 1.0 (created by test/upgrade/run)
SELECT customorder.grant_merchant('co_upgrade_merchant');

-- helpers outside the extension's schema
CREATE FUNCTION public.prod(title text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT product_id FROM customorder.products p WHERE p.title = $1 $$;
CREATE FUNCTION public.o(buyer bigint) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT order_id FROM customorder.orders WHERE buyer_id = $1 $$;
CREATE FUNCTION public.open_case(buyer bigint) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT open_aftersale_id FROM customorder.orders WHERE buyer_id = $1 $$;
-- items(n_images, n_videos, prefix): a valid evidence bundle
CREATE FUNCTION public.items(images int, videos int, prefix text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_agg(i ORDER BY n)
    FROM (SELECT g AS n,
                 jsonb_build_object('type', 'image', 'mime', 'image/jpeg',
                                    'bytes', 1000 + g,
                                    'uri', 'https://img.example/' || prefix || '/' || g || '.jpg',
                                    'sha256', md5(prefix || g) || md5(g || prefix)) AS i
          FROM generate_series(1, images) g
          UNION ALL
          SELECT 100 + g,
                 jsonb_build_object('type', 'video', 'mime', 'video/mp4',
                                    'bytes', 5000000 + g,
                                    'uri', 'https://vid.example/' || prefix || '/' || g || '.mp4')
          FROM generate_series(1, videos) g) s
$$;

-- Set-up: a custom category, one with platform review of evidence, an
-- ordinary one; a shop above and one below the score threshold
SET customorder.clock = '2024-05-01 09:00:00+00';
INSERT INTO customorder.categories (name, custom_enabled, evidence_review)
VALUES ('furniture', true, false), ('glasses', true, true), ('cups', false, false);
INSERT INTO customorder.shops (name, service_score) VALUES ('high', 4.90), ('low', 4.10);
SELECT customorder.approve_custom_category(s.shop_id, c.category_id)
  FROM customorder.shops s, customorder.categories c WHERE c.custom_enabled
 ORDER BY s.shop_id, c.category_id;
INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, v.title, v.price, v.is_custom, v.promised_ship::interval
  FROM (VALUES ('high', 'furniture', 'sofa', 900, true, '7 days'),
               ('low', 'furniture', 'table', 500, true, '15 days'),
               ('low', 'glasses', 'lenses', 300, true, '48 hours'),
               ('high', 'cups', 'cup', 10, false, NULL)) v(shop, cat, title, price, is_custom, promised_ship)
  JOIN customorder.shops s ON s.name = v.shop
  JOIN customorder.categories c ON c.name = v.cat;
SELECT customorder.product_badges(prod('sofa')) AS sofa, customorder.product_badges(prod('cup')) AS cup;

-- Orders, all paid at 10:00
SET customorder.clock = '2024-05-01 10:00:00+00';
SELECT customorder.place_order(prod(v.title), v.buyer, v.amount)
  FROM (VALUES
    (9001, 'sofa', 900),    -- paid: never started
    (9002, 'table', 500),   -- awaiting_evidence: low shop, started
    (9003, 'lenses', 300),  -- evidence_review: evidence submitted
    (9004, 'lenses', 300),  -- in_production: evidence approved
    (9005, 'sofa', 900),    -- in_production
    (9006, 'sofa', 900),    -- shipped
    (9007, 'sofa', 900),    -- signed
    (9008, 'sofa', 900),    -- cancelled: instant refund in the grey window
    (9009, 'sofa', 900),    -- refunded: case agreed before shipment
    (9010, 'sofa', 900),    -- open case: requested
    (9011, 'sofa', 900),    -- open case: rejecting
    (9012, 'sofa', 900),    -- open case: communicating
    (9013, 'sofa', 900),    -- a case rejected with proof, in production
    (9014, 'sofa', 900),    -- a withdrawn case
    (9015, 'sofa', 900),    -- a case closed by shipment (insist_ship)
    (9016, 'sofa', 900),    -- signed, partial refund (accepted proposal)
    (9017, 'sofa', 900),    -- signed, open case: negotiating with a proposal
    (9018, 'sofa', 900),    -- signed, open case: awaiting_buyer_evidence
    (9019, 'sofa', 900),    -- signed, rejected after the buyer's supplement
    (9020, 'sofa', 900),    -- shipped, rejected in transit (logistics proof)
    (9021, 'cup', 10),      -- ordinary order, signed
    (9022, 'cup', 10)       -- ordinary order, paid
  ) v(buyer, title, amount)
 ORDER BY v.buyer;

-- F: a refund request in the grey window is refunded at once
SET customorder.clock = '2024-05-01 10:15:00+00';
SELECT customorder.request_refund(o(9008), 'refund_only', 'no_reason') > 0 AS instant;

-- S: Start once the lock is over (the low shop must bring evidence)
SET customorder.clock = '2024-05-01 11:30:00+00';
SELECT buyer_id, customorder.start_customization(order_id)
  FROM customorder.orders
 WHERE is_custom AND buyer_id NOT IN (9001, 9008) ORDER BY order_id;
SET customorder.clock = '2024-05-01 11:45:00+00';
SELECT customorder.submit_custom_evidence(o(9003), items(3, 1, 'o9003')),
       customorder.submit_custom_evidence(o(9004), items(10, 3, 'o9004'));
SET customorder.clock = '2024-05-01 12:00:00+00';
SELECT customorder.review_evidence(o(9004), true, 'matches the prescription');

-- A1, before shipment (refund_only)
SET customorder.clock = '2024-05-02 09:00:00+00';
SELECT buyer_id, customorder.request_refund(order_id, 'refund_only', 'no_reason') > 0 AS opened
  FROM customorder.orders WHERE buyer_id BETWEEN 9009 AND 9015 ORDER BY order_id;
SELECT customorder.agree_refund(open_case(9009));
SELECT customorder.insist_reject(open_case(b)) FROM unnest('{9011,9012,9013,9015}'::bigint[]) b;
SET customorder.clock = '2024-05-02 10:00:00+00';
SELECT left(customorder.communicate(open_case(b), NULL), 10) FROM unnest('{9012,9013,9015}'::bigint[]) b;
SET customorder.clock = '2024-05-02 11:00:00+00';
SELECT customorder.continue_reject(open_case(9013), NULL, items(2, 1, 'o9013'));
SELECT customorder.withdraw_refund(open_case(9014));
SELECT customorder.insist_ship(open_case(9015), 'SF-9015');

-- Shipping and signing
SET customorder.clock = '2024-05-02 13:00:00+00';
SELECT buyer_id, customorder.ship(order_id, 'SF-' || buyer_id)
  FROM customorder.orders WHERE buyer_id IN (9006, 9007, 9016, 9017, 9018, 9019, 9020, 9021)
 ORDER BY order_id;
SET customorder.clock = '2024-05-04 10:00:00+00';
SELECT buyer_id, customorder.mark_signed(order_id)
  FROM customorder.orders WHERE buyer_id IN (9007, 9016, 9017, 9018, 9019, 9021)
 ORDER BY order_id;

-- A2, after shipment
SET customorder.clock = '2024-05-05 10:00:00+00';
SELECT customorder.request_refund(o(9016), 'refund_only', 'quality') > 0,
       customorder.request_refund(o(9017), 'return_refund', 'quality') > 0,
       customorder.request_refund(o(9018), 'return_refund', 'wrong_quantity') > 0,
       customorder.request_refund(o(9019), 'return_refund', 'no_reason') > 0,
       customorder.request_refund(o(9020), 'refund_only', 'not_received') > 0;
SELECT customorder.insist_reject(open_case(b)) FROM unnest('{9016,9017,9018,9019,9020}'::bigint[]) b;
SET customorder.clock = '2024-05-05 11:00:00+00';
SELECT left(customorder.communicate(open_case(9016), 'negotiate_amount'), 10),
       left(customorder.communicate(open_case(9017), 'negotiate_amount'), 10),
       left(customorder.communicate(open_case(9018), 'invite_evidence'), 10),
       left(customorder.communicate(open_case(9019), 'invite_evidence'), 10),
       left(customorder.communicate(open_case(9020), 'in_transit'), 10);
SET customorder.clock = '2024-05-05 12:00:00+00';
-- the partial refund: proposed, declined, proposed again, accepted
SELECT customorder.propose_refund_amount(open_case(9016), 60);
SELECT customorder.decline_refund_amount(open_case(9016));
SELECT left(customorder.communicate(open_case(9016), 'negotiate_amount'), 10);
SELECT customorder.propose_refund_amount(open_case(9016), 40);
SELECT customorder.accept_refund_amount(open_case(9016));
SELECT customorder.propose_refund_amount(open_case(9017), 120.50);
SELECT customorder.supplement_evidence(open_case(9019), items(2, 1, 'o9019'));
SET customorder.clock = '2024-05-05 13:00:00+00';
SELECT customorder.continue_reject(open_case(9019), 'signed_no_reason', items(1, 0, 'o9019-sign'));
SELECT customorder.continue_reject(open_case(9020), 'in_transit', items(2, 0, 'o9020-waybill'));

-- Queries of 1.0
SELECT button, enabled FROM customorder.order_buttons(o(9005)) ORDER BY button;
SELECT * FROM customorder.refund_eligibility(o(9007));
SELECT count(*) AS evidence_rows FROM customorder.view_custom_evidence(o(9004));

-- The fill reached what the upgrade must carry: fail here otherwise
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(s::text, ', ') INTO missing
      FROM unnest(enum_range(NULL::customorder.order_state)) s
     WHERE s NOT IN (SELECT state FROM customorder.orders);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'fill: no order in state %', missing;
    END IF;
    SELECT string_agg(s::text, ', ') INTO missing
      FROM unnest(enum_range(NULL::customorder.aftersale_state)) s
     WHERE s NOT IN (SELECT state FROM customorder.aftersales);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'fill: no after-sale case in state %', missing;
    END IF;
    SELECT string_agg(p, ', ') INTO missing
      FROM unnest('{production,rejection_proof,logistics_proof,buyer_supplement}'::text[]) p
     WHERE p NOT IN (SELECT purpose FROM customorder.evidence_bundles);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'fill: no evidence bundle of purpose %', missing;
    END IF;
    IF NOT EXISTS (SELECT FROM customorder.aftersales
                    WHERE state = 'refunded' AND refund_amount < (
                          SELECT amount FROM customorder.orders o
                           WHERE o.order_id = aftersales.order_id)) THEN
        RAISE EXCEPTION 'fill: no partial refund';
    END IF;
    IF NOT EXISTS (SELECT FROM customorder.aftersales
                    WHERE state = 'negotiating' AND proposed_amount IS NOT NULL) THEN
        RAISE EXCEPTION 'fill: no open negotiation with a proposal';
    END IF;
    IF (SELECT count(*) FROM customorder.verify()) <> 0 THEN
        RAISE EXCEPTION 'fill: verify() is not empty';
    END IF;
END $$;

SELECT state, count(*) FROM customorder.orders GROUP BY state ORDER BY state;
SELECT state, count(*) FROM customorder.aftersales GROUP BY state ORDER BY state;
SELECT purpose, count(*) AS bundles, sum(image_count + video_count) AS items
  FROM customorder.evidence_bundles GROUP BY purpose ORDER BY purpose;
