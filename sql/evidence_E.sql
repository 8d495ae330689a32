--
-- evidence_E: evidence bundles and items (rules E1-E3)
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;
SET customorder.clock = '2024-05-08 09:00:00-07';

SELECT place_order(prod('wardrobe-low'), 3001, 9800.00) AS o_ev \gset
SELECT place_order(prod('wardrobe-low'), 3002, 9800.00) AS o_raw \gset
SELECT place_order(prod('suit-low'), 3003, 3200.00) AS o_rev \gset
SET customorder.clock = '2024-05-08 10:00:00-07';
SELECT start_customization(:o_ev), start_customization(:o_raw), start_customization(:o_rev);

-- submit(items): submit to o_ev, report the outcome, keep o_ev awaiting
CREATE TEMP TABLE ev_order AS SELECT :o_ev::bigint AS order_id;
CREATE FUNCTION pg_temp.submit(items jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    st := customorder.submit_custom_evidence((SELECT order_id FROM ev_order), items);
    RAISE EXCEPTION USING ERRCODE = 'T0001', MESSAGE = st;
EXCEPTION WHEN SQLSTATE 'T0001' THEN
    RETURN NEXT 'ok: ' || SQLERRM;
END $$;
-- an item with one key replaced
CREATE FUNCTION pg_temp.item(k text, v jsonb, type text DEFAULT 'image') RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_array(jsonb_set(items(CASE WHEN type = 'image' THEN 1 ELSE 0 END,
                                             CASE WHEN type = 'video' THEN 1 ELSE 0 END)->0,
                                       ARRAY[k], v))
$$;

-- insert_item(...): the text of a raw INSERT of one item
CREATE FUNCTION pg_temp.insert_item(order_id bigint, bundle_id bigint, type text,
                                    mime text, bytes bigint, uri text) RETURNS text
LANGUAGE sql AS $$
    SELECT format('INSERT INTO customorder.evidence_items '
                  '(order_id, bundle_id, item_no, type, mime, bytes, uri) '
                  'VALUES (%s, %s, 0, %L, %L, %s, %L)',
                  order_id, bundle_id, type, mime, bytes, uri)
$$;

--
-- E1: count and size limits, exactly at and one over
--
SELECT pg_temp.submit(pg_temp.item('bytes', '10485760'));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '10485761')));
SELECT pg_temp.submit(pg_temp.item('bytes', '157286400', 'video'));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '157286401', 'video')));
-- a video-sized image is still too large for an image
SELECT err(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '157286400')));
SELECT pg_temp.submit(items(10, 0));
SELECT err_full(format('SELECT pg_temp.submit(%L)', items(11, 0)));
SELECT pg_temp.submit(items(0, 3));
SELECT err_full(format('SELECT pg_temp.submit(%L)', items(0, 4)));
SELECT pg_temp.submit(items(10, 3));
-- the size error names the item: here the 4th
SELECT err(format('SELECT pg_temp.submit(%L)',
                  items(3, 0) || pg_temp.item('bytes', '10485761')));
SELECT err_full('SELECT pg_temp.submit(''[]'')');
SELECT err('SELECT pg_temp.submit(''9223372036854775807000'')');
SELECT err(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '9223372036854775807000')));

--
-- E2: the shape of each item
--
-- one refusal of each kind in full
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('mime', '"video/mp4"')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('type', '"audio"')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '-5')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('bytes', '1.5')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('uri', '""')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('sha256', to_jsonb(repeat('a', 63)))));
-- and the other values of each key, refused or accepted
SELECT key,
       CASE WHEN length(value::text) > 20
            THEN left(value::text, 12) || '... (' || length(value #>> '{}') || ' chars)'
            ELSE value::text END AS value,
       type,
       err(format('SELECT pg_temp.submit(%L)', pg_temp.item(key, value, type)))
FROM (VALUES ('mime', '"image/png"', 'video'),
             ('mime', '"image/"', 'image'),
             ('mime', '"application/pdf"', 'image'),
             ('mime', '"image/heic"', 'image'),
             ('type', '"IMAGE"', 'image'),
             ('type', '1', 'image'),
             ('bytes', '0', 'image'),
             ('bytes', '2048.00', 'image'),      -- a whole number, written with a fraction
             ('bytes', '"1000"', 'image'),
             ('bytes', 'null', 'image'),
             ('uri', to_jsonb('https://img.example/' || repeat('a', 2028)), 'image'),
             ('uri', to_jsonb('https://img.example/' || repeat('a', 2029)), 'image'),
             ('uri', to_jsonb(repeat('凭', 2048)), 'image'),  -- characters, not bytes
             ('sha256', to_jsonb(repeat('ab', 32)), 'image'),
             ('sha256', 'null', 'image'),
             ('sha256', to_jsonb(repeat('a', 65)), 'image'),
             ('sha256', to_jsonb(repeat('g', 64)), 'image')) AS t(key, value, type);
SELECT state FROM orders WHERE order_id = :o_ev;
-- the same uri or sha256 twice in one bundle
SELECT err_full(format('SELECT pg_temp.submit(%L)', items(2, 0) || (items(1, 0)->0)));
SELECT err_full(format('SELECT pg_temp.submit(%L)',
                       jsonb_build_array(
                           jsonb_set(items(1, 0, 'a')->0, '{sha256}', to_jsonb(repeat('ab', 32))),
                           jsonb_set(items(1, 0, 'b')->0, '{sha256}', to_jsonb(repeat('AB', 32))))));
-- ... but the same file may appear in two bundles (of two orders)
SELECT pg_temp.submit(items(1, 0, 'dup'));
-- not an array, not an object, unknown or missing keys, NULL
SELECT err_full('SELECT pg_temp.submit(''{"type": "image"}'')');
SELECT err('SELECT pg_temp.submit(''"image"'')');
SELECT err_full(format('SELECT pg_temp.submit(%L)', items(1, 0) || '[1]'));
SELECT err(format('SELECT pg_temp.submit(%L)', items(1, 0) || '[[]]'));
SELECT err_full(format('SELECT pg_temp.submit(%L)', pg_temp.item('caption', '"moulds"')));
SELECT err_full(format('SELECT pg_temp.submit(%L)', jsonb_build_array((items(1, 0)->0) - 'uri')));
SELECT err('SELECT pg_temp.submit(NULL)');
SELECT err('SELECT submit_custom_evidence(NULL, ''[]'')');
SELECT err('SELECT submit_custom_evidence(999, ' || quote_literal(items(1, 0)) || ')');

-- nothing of the refused submissions remains
SELECT state, evidence_bundle_id FROM orders WHERE order_id = :o_ev;
SELECT count(*) AS bundles FROM evidence_bundles WHERE order_id = :o_ev;

--
-- E3: a submitted bundle is immutable
--
SELECT submit_custom_evidence(:o_ev, items(2, 1, 'sealed'));
SELECT evidence_bundle_id AS b_sealed FROM orders WHERE order_id = :o_ev \gset
SELECT bundle_id, purpose, submitted_at, image_count, video_count
FROM evidence_bundles WHERE bundle_id = :b_sealed;
SELECT err_full(pg_temp.insert_item(:o_ev, :b_sealed, 'image', 'image/jpeg', 100,
                                 'https://img.example/late.jpg'));
SELECT err_full('UPDATE evidence_items SET bytes = 1 WHERE bundle_id = ' || :b_sealed);
SELECT err('UPDATE evidence_items SET uri = ''https://img.example/other.jpg'' WHERE item_no = 1 AND bundle_id = ' || :b_sealed);
SELECT err('DELETE FROM evidence_items WHERE bundle_id = ' || :b_sealed);
SELECT err_full('TRUNCATE evidence_items');
SELECT err('TRUNCATE evidence_bundles CASCADE');
SELECT err_full('UPDATE evidence_bundles SET image_count = 0 WHERE bundle_id = ' || :b_sealed);
SELECT err('UPDATE evidence_bundles SET video_count = video_count + 1 WHERE bundle_id = ' || :b_sealed);
SELECT err('UPDATE evidence_bundles SET submitted_at = NULL WHERE bundle_id = ' || :b_sealed);
SELECT err('UPDATE evidence_bundles SET purpose = ''logistics_proof'' WHERE bundle_id = ' || :b_sealed);
-- a bundle that is not in platform review takes no verdict
SELECT err_full('UPDATE evidence_bundles SET review_state = ''approved'' WHERE bundle_id = ' || :b_sealed);
SELECT err('DELETE FROM evidence_bundles WHERE bundle_id = ' || :b_sealed);
SELECT count(*) AS items FROM view_custom_evidence(:o_ev);

--
-- The raw path: an open bundle filled by raw INSERTs, judged item by item
--
INSERT INTO evidence_bundles (order_id, submitted_at, image_count, review_state)
VALUES (:o_raw, '2024-01-01', 7, 'approved')
RETURNING bundle_id AS b_raw, purpose, created_at, submitted_at, image_count, video_count, review_state \gset
SELECT bundle_id, purpose, created_at, submitted_at, image_count, video_count, review_state
FROM evidence_bundles WHERE bundle_id = :b_raw;
-- counters of an open bundle belong to the item trigger
SELECT err_full('UPDATE evidence_bundles SET image_count = 5 WHERE bundle_id = ' || :b_raw);
-- the order cannot name a bundle that is not submitted
SELECT err_full(format('UPDATE orders SET state = ''in_production'', evidence_bundle_id = %s WHERE order_id = %s',
                       :b_raw, :o_raw));
-- an empty bundle cannot be submitted
SELECT err('UPDATE evidence_bundles SET submitted_at = now() WHERE bundle_id = ' || :b_raw);
-- ten images, one by one; item_no is assigned by the trigger
INSERT INTO evidence_items (order_id, bundle_id, item_no, type, mime, bytes, uri)
SELECT :o_raw, :b_raw, 0, 'image', 'image/png', 2000 + g, 'https://img.example/raw/' || g || '.png'
FROM generate_series(1, 10) g;
SELECT err_full(pg_temp.insert_item(:o_raw, :b_raw, 'image', 'image/png', 100,
                                 'https://img.example/raw/11.png'));
SELECT err(pg_temp.insert_item(:o_raw, :b_raw, 'video', 'video/mp4', 157286401,
                                 'https://vid.example/raw/big.mp4'));
SELECT err(pg_temp.insert_item(:o_raw, :b_raw, 'video', 'image/png', 100,
                                 'https://vid.example/raw/x.mp4'));
SELECT err(pg_temp.insert_item(:o_raw, :b_raw, 'video', 'video/mp4', 100,
                                 'https://img.example/raw/3.png'));
SELECT err(pg_temp.insert_item(:o_raw, 999, 'video', 'video/mp4', 100,
                                 'https://vid.example/raw/x.mp4'));
SELECT err($$INSERT INTO evidence_bundles (order_id) VALUES (999)$$);
SELECT err(pg_temp.insert_item(:o_raw, :b_raw, NULL, 'video/mp4', 100,
                                 'https://vid.example/raw/x.mp4'));
-- a video still fits
INSERT INTO evidence_items (order_id, bundle_id, item_no, type, mime, bytes, uri)
VALUES (:o_raw, :b_raw, 99, 'video', 'video/mp4', 157286400, 'https://vid.example/raw/1.mp4');
SELECT item_no, type, bytes, uri FROM evidence_items WHERE bundle_id = :b_raw ORDER BY item_no;
SELECT image_count, video_count, submitted_at FROM evidence_bundles WHERE bundle_id = :b_raw;
-- items of an open bundle cannot be changed or removed either
SELECT err('DELETE FROM evidence_items WHERE item_no = 1 AND bundle_id = ' || :b_raw);
-- submit it raw: submitted_at comes from customorder.now()
UPDATE evidence_bundles SET submitted_at = '2000-01-01' WHERE bundle_id = :b_raw
RETURNING bundle_id, submitted_at, image_count, video_count;
SELECT err(pg_temp.insert_item(:o_raw, :b_raw, 'video', 'video/mp4', 100,
                                 'https://vid.example/raw/2.mp4'));
-- and let the order name it: the raw form of submit_custom_evidence
UPDATE orders SET state = 'in_production', evidence_bundle_id = :b_raw WHERE order_id = :o_raw
RETURNING order_id, state, evidence_bundle_id = :b_raw AS names_bundle;
SELECT count(*) AS items FROM view_custom_evidence(:o_raw);

-- the raw form of review_evidence: a verdict on the bundle under review
SELECT submit_custom_evidence(:o_rev, items(1, 0, 'rev'));
SELECT evidence_bundle_id AS b_rev FROM orders WHERE order_id = :o_rev \gset
SELECT err_full('UPDATE evidence_bundles SET review_state = ''pending'' WHERE bundle_id = ' || :b_rev);
SELECT err('UPDATE orders SET state = ''in_production'' WHERE order_id = ' || :o_rev);
UPDATE evidence_bundles SET review_state = 'approved', reviewed_at = '2000-01-01'
WHERE bundle_id = :b_rev RETURNING review_state, reviewed_at;
SELECT err('UPDATE evidence_bundles SET review_state = ''rejected'' WHERE bundle_id = ' || :b_rev);
-- the verdict itself moved the order: a raw verdict cannot leave it behind
SELECT order_id, state FROM orders WHERE order_id = :o_rev;
