# test/t/002_dump_restore.pl: a backup of a live customorder database
# restores by the README's procedure into a database whose every invariant
# holds and whose buttons go on working.
#
# The data covers every table: orders in several states, evidence bundles
# and items, instant and negotiated refunds, a rejected case with its
# communication, an actor role, and a platform edit of a default script.
# The restore is the README's: pre-data, empty the seeded scripts, data with
# triggers off, post-data; then verify() must be empty, the rows equal the
# source's, the identity sequences continue, and the buttons work.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('postgres', 'CREATE ROLE co_dump_merchant');

$node->safe_psql(
	'src', q{
CREATE EXTENSION customorder;
SELECT customorder.grant_merchant('co_dump_merchant');
SET customorder.clock = '2024-05-01 10:00:00+00';
INSERT INTO customorder.categories (name, custom_enabled, evidence_review)
VALUES ('furniture', true, false), ('glasses', true, true), ('cups', false, false);
INSERT INTO customorder.shops (name, service_score) VALUES ('high', 4.90), ('low', 4.10);
SELECT customorder.approve_custom_category(s.shop_id, c.category_id)
  FROM customorder.shops s, customorder.categories c WHERE c.custom_enabled;
INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom, promised_ship)
VALUES (1, 1, 'sofa', 900, true, '7 days'), (2, 2, 'lenses', 300, true, '48 hours'),
       (1, 3, 'cup', 100, false, NULL);
SELECT customorder.place_order(p, 500 + g, 100)
  FROM generate_series(1, 4) g, (VALUES (1), (2), (3)) v(p);
SET customorder.clock = '2024-05-01 12:00:00+00';
SELECT customorder.start_customization(order_id) FROM customorder.orders
 WHERE is_custom ORDER BY order_id;
SELECT customorder.submit_custom_evidence(order_id,
         '[{"type":"image","mime":"image/jpeg","bytes":1000,"uri":"a.jpg"},
           {"type":"video","mime":"video/mp4","bytes":9000,"uri":"b.mp4"}]')
  FROM customorder.orders WHERE state = 'awaiting_evidence' ORDER BY order_id;
SELECT customorder.review_evidence(order_id, true, 'ok')
  FROM customorder.orders WHERE state = 'evidence_review' ORDER BY order_id LIMIT 2;
SELECT customorder.ship(order_id, 'T' || order_id)
  FROM customorder.orders WHERE state = 'in_production' ORDER BY order_id LIMIT 3;
SELECT customorder.ship(order_id, 'T' || order_id)
  FROM customorder.orders WHERE NOT is_custom ORDER BY order_id LIMIT 2;
SELECT customorder.mark_signed(order_id) FROM customorder.orders WHERE state = 'shipped';
SELECT customorder.request_refund(order_id, 'refund_only', 'no_reason')
  FROM customorder.orders WHERE state IN ('paid', 'evidence_review') ORDER BY order_id;
UPDATE customorder.scripts SET script = 'edited by the platform'
 WHERE situation = 'negotiate_amount';
});

# a negotiated partial refund and a rejected case on signed custom orders
$node->safe_psql(
	'src', q{
SET customorder.clock = '2024-05-02 12:00:00+00';
CREATE TEMP TABLE signed AS
  SELECT order_id FROM customorder.orders WHERE is_custom AND state = 'signed'
   ORDER BY order_id LIMIT 2;
CREATE TEMP TABLE c AS
  SELECT order_id, customorder.request_refund(order_id, 'refund_only',
           CASE WHEN order_id = (SELECT min(order_id) FROM signed) THEN 'quality'
                ELSE 'no_reason' END) AS id
  FROM signed;
SELECT customorder.insist_reject(id) FROM c;
SELECT customorder.communicate(id, 'negotiate_amount') FROM c WHERE order_id = (SELECT min(order_id) FROM signed);
SELECT customorder.propose_refund_amount(id, 40) FROM c WHERE order_id = (SELECT min(order_id) FROM signed);
SELECT customorder.accept_refund_amount(id, 40) FROM c WHERE order_id = (SELECT min(order_id) FROM signed);
SELECT customorder.communicate(id, 'agreement_reached') FROM c WHERE order_id = (SELECT max(order_id) FROM signed);
SELECT customorder.continue_reject(id, 'signed_no_reason',
         '[{"type":"image","mime":"image/png","bytes":5,"uri":"sign.png"}]')
  FROM c WHERE order_id = (SELECT max(order_id) FROM signed);
});
is($node->safe_psql('src', 'SELECT count(*) FROM customorder.verify()'),
	'0', 'source database is healthy');

# Everything the rules own, as text, to compare source and restored copy
my $fingerprint = q{
SELECT string_agg(t, E'\n' ORDER BY t) FROM (
  SELECT format('order %s %s %s %s %s %s %s', order_id, state, paid_at, shipped_at,
                signed_at, refunded_amount, open_aftersale_id) AS t FROM customorder.orders
  UNION ALL SELECT format('case %s %s %s %s', aftersale_id, state, refund_amount, reject_reason)
    FROM customorder.aftersales
  UNION ALL SELECT format('bundle %s %s %s %s %s', bundle_id, purpose, submitted_at, image_count,
                          review_state) FROM customorder.evidence_bundles
  UNION ALL SELECT format('item %s %s %s', bundle_id, item_no, uri) FROM customorder.evidence_items
  UNION ALL SELECT format('message %s %s %s', aftersale_id, comm_no, reason)
    FROM customorder.communications
  UNION ALL SELECT format('script %s %s', situation, script) FROM customorder.scripts
  UNION ALL SELECT format('actor %s %s', role, kind) FROM customorder.actors) s};
my $before = $node->safe_psql('src', $fingerprint);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ],
	'pg_dump of the source');

# The README's restore procedure
$node->command_ok(
	[ 'pg_restore', '--section=pre-data', '-d', $node->connstr('dst'), $dump ],
	'restore pre-data');
$node->safe_psql('dst', 'TRUNCATE customorder.scripts');
$node->command_ok(
	[
		'pg_restore', '--data-only', '--disable-triggers',
		'-d', $node->connstr('dst'), $dump
	],
	'restore data with triggers off');
$node->command_ok(
	[ 'pg_restore', '--section=post-data', '-d', $node->connstr('dst'), $dump ],
	'restore post-data');

is($node->safe_psql('dst', 'SELECT count(*) FROM customorder.verify()'),
	'0', 'restored database: verify() finds nothing');
is($node->safe_psql('dst', $fingerprint), $before,
	'restored rows equal the source rows');
like($before, qr/script negotiate_amount edited by the platform/,
	'the fingerprint covers the platform\'s script edit');

# The buttons and the identity sequences go on after the restore
my $last_id = $node->safe_psql('dst', 'SELECT max(order_id) FROM customorder.orders');
my $new_id = $node->safe_psql(
	'dst', q{
SET customorder.clock = '2024-06-01 10:00:00+00';
SELECT customorder.place_order(1, 900, 100)});
cmp_ok($new_id, '>', $last_id, 'a new order gets a fresh id after the restored ones');
is( $node->safe_psql(
		'dst', q{
SET customorder.clock = '2024-06-01 12:00:00+00';
SELECT customorder.start_customization(max(order_id)) FROM customorder.orders}),
	'in_production',
	'Start works on a new order after the restore');
is( $node->safe_psql(
		'dst', q{
SELECT customorder.request_refund(order_id, 'refund_only', 'quality') > 0
  FROM customorder.orders WHERE is_custom AND state = 'signed'
   AND open_aftersale_id IS NULL ORDER BY order_id LIMIT 1}),
	't',
	'a restored signed order takes a new case');
like(
	$node->safe_psql('dst', q{
SELECT string_agg(privilege_type, ',' ORDER BY privilege_type)
  FROM information_schema.routine_privileges
 WHERE grantee = 'co_dump_merchant' AND routine_name = 'start_customization'}),
	qr/EXECUTE/,
	'the merchant role keeps its grants');
is($node->safe_psql('dst', 'SELECT count(*) FROM customorder.verify()'),
	'0', 'still healthy after new presses');

# Without the procedure, a plain restore fires the rule triggers and fails
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->command_fails([ 'pg_restore', '-d', $node->connstr('plain'), $dump ],
	'a plain pg_restore is refused by the rules, hence the procedure');

$node->stop;
done_testing();
