--
-- setup: shared fixtures and test helpers for the customorder suite.
-- The files run in order in one database; ids below are deterministic.
--
\set SHOW_CONTEXT never
SET search_path = customorder, public;

-- err(sql): run a statement; 'ok' if it succeeds, else "SQLSTATE: message".
CREATE FUNCTION public.err(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- err_full(sql): like err(), plus the DETAIL and HINT lines of the refusal.
CREATE FUNCTION public.err_full(sql text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE sql;
    RETURN NEXT 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN NEXT st || ': ' || msg;
    IF det <> '' THEN
        RETURN NEXT 'DETAIL: ' || det;
    END IF;
    IF hnt <> '' THEN
        RETURN NEXT 'HINT: ' || hnt;
    END IF;
END $$;

-- Fixture ids by name
CREATE FUNCTION public.cat(name text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT category_id FROM customorder.categories c WHERE c.name = $1 $$;
CREATE FUNCTION public.shop(name text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT shop_id FROM customorder.shops s WHERE s.name = $1 $$;
CREATE FUNCTION public.prod(title text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT product_id FROM customorder.products p WHERE p.title = $1 $$;

-- items(n_images, n_videos [, prefix]): a valid evidence bundle
CREATE FUNCTION public.items(images int, videos int, prefix text DEFAULT 'ev')
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(i ORDER BY n), '[]')
    FROM (SELECT g AS n,
                 jsonb_build_object('type', 'image', 'mime', 'image/jpeg',
                                    'bytes', 1000 + g,
                                    'uri', 'https://img.example/' || prefix || '/' || g || '.jpg') AS i
          FROM generate_series(1, images) g
          UNION ALL
          SELECT 100 + g,
                 jsonb_build_object('type', 'video', 'mime', 'video/mp4',
                                    'bytes', 5000000 + g,
                                    'uri', 'https://vid.example/' || prefix || '/' || g || '.mp4')
          FROM generate_series(1, videos) g) s
$$;

-- Categories: two custom ones with different locks, one with platform
-- review of evidence, one ordinary.
INSERT INTO categories (name, custom_enabled) VALUES ('whole-house', true);
INSERT INTO categories (name, custom_enabled, start_lock, ship_promise_options)
    VALUES ('glasses', true, '2 hours', '{48 hours,7 days}');
INSERT INTO categories (name, custom_enabled, evidence_review)
    VALUES ('tailoring', true, true);
INSERT INTO categories (name) VALUES ('kitchenware');
SELECT category_id, name, custom_enabled, start_lock, high_score_threshold,
       ship_promise_options, evidence_review
FROM categories ORDER BY category_id;

-- Shops: above, exactly at and below the 4.80 threshold, and no score
INSERT INTO shops (name, service_score) VALUES
    ('high', 4.95), ('edge', 4.80), ('low', 4.79), ('unscored', NULL);
SELECT shop_id, name, service_score FROM shops ORDER BY shop_id;

-- Approvals (L1): every shop for whole-house; high and low for glasses and
-- tailoring.  edge is not approved for glasses.
SELECT approve_custom_category(shop(s), cat('whole-house'))
FROM unnest(ARRAY['high', 'edge', 'low', 'unscored']) s;
SELECT approve_custom_category(shop(s), cat(c))
FROM unnest(ARRAY['high', 'low']) s, unnest(ARRAY['glasses', 'tailoring']) c;
-- approving twice is harmless
SELECT approve_custom_category(shop('high'), cat('glasses'));
SELECT s.name AS shop, c.name AS category
FROM custom_approvals a JOIN shops s USING (shop_id) JOIN categories c USING (category_id)
ORDER BY a.shop_id, a.category_id;

-- Products
INSERT INTO products (shop_id, category_id, title, price, is_custom, promised_ship) VALUES
    (shop('high'),     cat('whole-house'), 'wardrobe-high',     9800.00, true, '15 days'),
    (shop('edge'),     cat('whole-house'), 'wardrobe-edge',     9800.00, true, '15 days'),
    (shop('low'),      cat('whole-house'), 'wardrobe-low',      9800.00, true, '7 days'),
    (shop('unscored'), cat('whole-house'), 'wardrobe-unscored', 9800.00, true, '7 days'),
    (shop('high'),     cat('glasses'),     'lenses-high',        680.00, true, '48 hours'),
    (shop('low'),      cat('glasses'),     'lenses-low',         680.00, true, '48 hours'),
    (shop('low'),      cat('tailoring'),   'suit-low',          3200.00, true, '15 days'),
    (shop('high'),     cat('tailoring'),   'suit-high',         3200.00, true, '15 days');
INSERT INTO products (shop_id, category_id, title, price) VALUES
    (shop('high'), cat('kitchenware'), 'wok',       199.00),
    (shop('low'),  cat('whole-house'), 'shelf-stock', 450.00);
SELECT p.product_id, p.title, s.name AS shop, c.name AS category, p.is_custom,
       p.promised_ship
FROM products p JOIN shops s USING (shop_id) JOIN categories c USING (category_id)
ORDER BY p.product_id;
