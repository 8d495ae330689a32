-- test/upgrade/after-1.1.sql: the buttons on the data of a 1.0 database just
-- updated to 1.1 (run by test/upgrade/run after fill-1.0.sql and the
-- update).  Each press is checked by expect(); any refusal or wrong result
-- stops the script.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION public.expect(got text, want text, what text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF got IS DISTINCT FROM want THEN
        RAISE EXCEPTION 'after the update: %: got %, want %', what, got, want;
    END IF;
    RETURN 'ok: ' || what;
END $$;

SELECT shop_id AS low_shop FROM customorder.shops WHERE name = 'low' \gset
SELECT max(order_id) AS last_1_0_order FROM customorder.orders \gset

SET customorder.clock = '2024-05-10 10:00:00+00';

-- the lookups by another key: every 1.0 case has its case_orders row (the
-- buttons below find their cases there); payments starts empty (1.0 had
-- no pay_no)
SELECT expect(count(*)::text || ' ' || count(c.aftersale_id), (SELECT count(*) || ' ' || count(*)
                                                             FROM customorder.aftersales),
              'case_orders filled from the 1.0 cases')
  FROM customorder.aftersales a
  LEFT JOIN customorder.case_orders c
    ON c.aftersale_id = a.aftersale_id AND c.order_id = a.order_id;
SELECT expect(count(*)::text, '0', 'payments starts empty') FROM customorder.payments;
-- 1.0's refunded money became succeeded refunds, found by their refund_no
SELECT expect(customorder.refund_succeeded(r.refund_no, r.payment_ref), 'succeeded',
              'a 1.0 refund reported again by its refund_no')
  FROM customorder.refunds r ORDER BY r.refund_id LIMIT 1;

-- U1, T1: every case waiting on a party has its deadline, from 1.0's stamps
SELECT expect(count(*)::text, '0', 'due_at filled for every waiting 1.0 case')
  FROM customorder.aftersales
 WHERE state IN ('requested', 'rejecting', 'communicating', 'negotiating',
                 'awaiting_buyer_evidence', 'rejected') AND due_at IS NULL;
SELECT expect(count(*)::text, '0', 'no due_at on a closed 1.0 case')
  FROM customorder.aftersales
 WHERE state NOT IN ('requested', 'rejecting', 'communicating', 'negotiating',
                     'awaiting_buyer_evidence', 'rejected') AND due_at IS NOT NULL;
SELECT expect((due_at = requested_at + interval '48 hours')::text, 'true',
              'a requested case''s merchant_response counts from its request')
  FROM customorder.aftersales WHERE aftersale_id = open_case(9010);
SELECT expect(d.deadline || ' ' || d.passed, 'merchant_response true',
              'deadlines() of a 1.0 case whose merchant never answered')
  FROM customorder.deadlines(o(9010)) d WHERE d.deadline <> 'ship_by';
SELECT expect(count(*)::text, '0', 'the new category columns are filled')
  FROM customorder.categories
 WHERE merchant_response IS NULL OR escalation_window IS NULL OR NOT late_refund_instant;

-- orders of 1.0 move on
SELECT expect(customorder.start_customization(o(9001)), 'in_production',
              'Start on an order paid under 1.0');
SELECT expect(customorder.submit_custom_evidence(o(9002), items(2, 0, 'o9002-after')),
              'in_production', 'evidence for an order started under 1.0');
SELECT expect(customorder.review_evidence(o(9003), true, 'ok'), 'in_production',
              'review of evidence submitted under 1.0');
SELECT expect(customorder.ship(o(9005), 'SF-9005'), 'shipped', 'ship an order of 1.0');
SELECT expect(customorder.mark_signed(o(9006)), 'signed', 'sign an order shipped under 1.0');

-- the merchant role made an actor under 1.0 keeps its grants and its rows
BEGIN;
SET LOCAL ROLE co_upgrade_merchant;
SET LOCAL customorder.shop_id = :low_shop;
SELECT expect(customorder.ship(o(9004), 'SF-9004'), 'shipped', 'the 1.0 merchant role ships');
SELECT expect(count(*)::text, '3', 'the 1.0 merchant role sees its shop''s orders only')
  FROM customorder.orders;
COMMIT;

-- open cases of 1.0 are decided
SELECT expect(customorder.agree_refund(open_case(9010)), 'refunded', 'agree a requested case');
SELECT expect(state::text || ' ' || refunded_amount, 'refunded 900.00',
              'the agreed refund reached its order')
  FROM customorder.orders WHERE buyer_id = 9010;
SELECT expect(left(customorder.communicate(open_case(9011), NULL), 3), '亲，您',
              'communicate on a rejecting case');
SELECT expect(customorder.insist_ship(open_case(9011), 'SF-9011'), 'closed_by_shipment',
              'insist ship on a case of 1.0');
SELECT expect(customorder.continue_reject(open_case(9012), NULL, items(2, 0, 'o9012-after')),
              'rejected', 'continue reject on a communicating case');
SELECT expect(customorder.accept_refund_amount(open_case(9017), 120.50), 'refunded',
              'accept a proposal made under 1.0');
SELECT expect(state::text || ' ' || refunded_amount, 'signed 120.50',
              'the accepted proposal is a partial refund')
  FROM customorder.orders WHERE buyer_id = 9017;
SELECT expect(customorder.supplement_evidence(open_case(9018), items(1, 1, 'o9018-after')),
              'communicating', 'the buyer supplements evidence on an awaiting case');
SELECT expect(customorder.withdraw_refund(open_case(9018)), 'withdrawn', 'withdraw a case');

-- after the partial refund of 1.0, agree refunds only what remains
SELECT customorder.request_refund(o(9016), 'refund_only', 'quality') AS c9016 \gset
SELECT expect(customorder.agree_refund(:c9016), 'refunded', 'agree after a partial refund');
SELECT expect(state::text || ' ' || refunded_amount, 'refunded 900.00',
              'the remainder of a 1.0 partial refund')
  FROM customorder.orders WHERE buyer_id = 9016;

-- new orders, with fresh ids
SELECT customorder.place_order(prod('sofa'), 9101, 900) AS o9101 \gset
SELECT customorder.place_order(prod('sofa'), 9102, 900) AS o9102 \gset
SELECT expect((:o9101 > :last_1_0_order)::text, 'true', 'a new order gets a fresh id');
SELECT expect((customorder.place_order(prod('sofa'), 9103, 900, 'PAY-AFTER-1.1')
               = customorder.place_order(prod('sofa'), 9103, 900, 'PAY-AFTER-1.1'))::text, 'true',
              'a payment records one order (H3)');
SELECT expect((p.order_id = o.order_id AND o.order_id > :last_1_0_order)::text, 'true',
              'payments maps the pay_no to the order')
  FROM customorder.payments p JOIN customorder.orders o USING (pay_no)
 WHERE p.pay_no = 'PAY-AFTER-1.1';
SET customorder.clock = '2024-05-10 10:20:00+00';
SELECT customorder.request_refund(:o9102, 'refund_only', 'no_reason') AS c9102 \gset
SELECT expect(o.state::text || ' ' || a.state, 'cancelled instant_refunded',
              'an instant refund of a new order')
  FROM customorder.orders o JOIN customorder.aftersales a USING (order_id)
 WHERE a.aftersale_id = :c9102;
SET customorder.clock = '2024-05-10 11:30:00+00';
SELECT expect(customorder.start_customization(:o9101), 'in_production', 'Start on a new order');

-- R1-R3 on an order signed under 1.0: a return_refund waits for the goods
SELECT customorder.request_refund(o(9007), 'return_refund', 'quality') AS c9007 \gset
SELECT expect(customorder.agree_refund(:c9007), 'awaiting_return', 'agree a return on 1.0 data (R1)');
SELECT expect(customorder.ship_return(:c9007, 'RET-9007'), 'return_shipped', 'the buyer ships it back (R2)');
SELECT expect(customorder.confirm_return(:c9007), 'refunded', 'the merchant confirms receipt (R3)');
SELECT expect(state::text || ' ' || refunded_amount, 'refunded 900.00',
              'the confirmed return refunded its order')
  FROM customorder.orders WHERE buyer_id = 9007;

-- P1-P3 on the order shipped under 1.0 and signed above: a rejection,
-- escalated, with evidence from both parties, ruled a partial refund
SELECT customorder.request_refund(o(9006), 'refund_only', 'no_reason') AS c9006 \gset
SELECT expect(customorder.insist_reject(:c9006), 'rejecting', 'insist reject');
SELECT expect((customorder.communicate(:c9006, 'agreement_reached') IS NOT NULL)::text, 'true',
              'communicate');
SELECT expect(customorder.continue_reject(:c9006, 'signed_no_reason', items(1, 0, 'o9006-rej')),
              'rejected', 'reject with proof');
SELECT expect(customorder.escalate(:c9006, 'the sofa is not what we agreed'), 'arbitration',
              'the buyer escalates (P1)');
SELECT expect(customorder.submit_arbitration_evidence(:c9006, items(1, 0, 'o9006-arb')),
              'arbitration', 'arbitration evidence (P2)');
SELECT expect(customorder.arbitrate(:c9006, 300, 'partly as agreed'), 'refunded',
              'the platform rules a partial refund (P3)');
SELECT expect(state::text || ' ' || refunded_amount, 'signed 300.00',
              'a partial ruling keeps the order''s state')
  FROM customorder.orders WHERE buyer_id = 9006;

SELECT expect(count(*)::text, '0', 'verify() after the presses') FROM customorder.verify();

-- the deadlines 1.0's cases left behind are applied by the system (T3)
SET customorder.clock = '2024-06-10 10:00:00+00';
SELECT expect((customorder.run_due() > 0)::text, 'true', 'run_due applies 1.0''s passed deadlines');
SELECT expect(count(*)::text, '0', 'no passed deadline is left')
  FROM customorder.aftersales WHERE due_at <= customorder.now();
SELECT expect(count(*)::text, '0', 'verify() after run_due') FROM customorder.verify();
