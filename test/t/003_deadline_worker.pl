# test/t/003_deadline_worker.pl: the deadline worker (SPEC §7 T4).
#
# A cluster with customorder in shared_preload_libraries and
# customorder.worker_database set runs the worker.  It waits quietly while
# the extension is not installed; once it is, a refund request the merchant
# ignores past a merchant_response of a few seconds is refunded by the
# worker (actor system, through run_due).  The worker is then killed with
# SIGKILL: the postmaster restarts the cluster (crash recovery) and the
# worker, which refunds the next ignored request.  No request is refunded
# twice, and verify() stays empty.  A SIGHUP (configuration reload) leaves
# it running.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('deadlines');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'customorder'
customorder.worker_database = 'postgres'
customorder.worker_naptime = 200ms
# the TAP framework turns it off; a crash must restart the cluster here
restart_after_crash = on
});
$node->start;

my $worker_pid_sql =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'customorder deadline worker'";

ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_pid_sql) w"),
	'the worker runs in the preloaded cluster');

# not installed yet: a few rounds pass quietly
sleep(1);
my $log = slurp_file($node->logfile);
unlike($log, qr/customorder.*(ERROR|FATAL)|ERROR.*customorder/,
	'the worker waits quietly while the extension is not installed');

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION customorder;
INSERT INTO customorder.categories (name, custom_enabled, start_lock, merchant_response)
VALUES ('T4 bedroom', true, '0', '3 seconds');
INSERT INTO customorder.shops (name, service_score) VALUES ('T4 shop', 4.90);
SELECT customorder.approve_custom_category(s.shop_id, c.category_id)
  FROM customorder.shops s, customorder.categories c;
INSERT INTO customorder.products
       (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, 'T4 bed', 700.00, true, interval '15 days'
  FROM customorder.shops s, customorder.categories c;
});

# a custom order in production with a refund request nobody answers
sub ignored_request
{
	my ($buyer) = @_;
	my $ids = $node->safe_psql(
		'postgres', qq{
SELECT customorder.place_order(p.product_id, $buyer, 700.00) FROM customorder.products p;
});
	$node->safe_psql('postgres', "SELECT customorder.start_customization($ids)");
	my $case = $node->safe_psql('postgres',
		"SELECT customorder.request_refund($ids, 'refund_only', 'quality')");
	return ($ids, $case);
}

sub refunded_by_worker
{
	my ($case, $what) = @_;
	ok( $node->poll_query_until(
			'postgres',
			"SELECT state = 'refunded' FROM customorder.aftersales WHERE aftersale_id = $case"
		),
		$what);
}

my ($o1, $c1) = ignored_request(4001);
is($node->safe_psql('postgres',
		"SELECT state FROM customorder.aftersales WHERE aftersale_id = $c1"),
	'requested', 'the request waits for the merchant');
refunded_by_worker($c1, 'the worker refunds the request the merchant ignored');
ok($node->wait_for_log(qr/customorder: applied 1 passed deadline in database "postgres"/),
	'the worker logs what it applied');

# SIGHUP: a new naptime, the same worker
my $pid = $node->safe_psql('postgres', $worker_pid_sql);
$node->safe_psql('postgres',
	"ALTER SYSTEM SET customorder.worker_naptime = '100ms'; SELECT pg_reload_conf();");
sleep(1);
is($node->safe_psql('postgres', $worker_pid_sql), $pid, 'a reload keeps the worker');

# SIGKILL the worker: the postmaster reinitializes and restarts it
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM ($worker_pid_sql) w WHERE w.pid <> $pid"),
	'the postmaster restarts the worker after SIGKILL');

my ($o2, $c2) = ignored_request(4002);
refunded_by_worker($c2, 'the restarted worker refunds the next ignored request');

# nothing applied twice
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(o.order_id || ':' || o.state || ':' || o.refunded_amount || ':' ||
                  (SELECT count(*) FROM customorder.aftersales a
                    WHERE a.order_id = o.order_id AND a.state = 'refunded'),
                  ' ' ORDER BY o.order_id)
  FROM customorder.orders o}),
	"$o1:refunded:700.00:1 $o2:refunded:700.00:1",
	'each request refunded once, each order exactly its amount');
is($node->safe_psql('postgres', 'SELECT count(*) FROM customorder.verify()'),
	'0', 'verify() is empty');

$node->stop;
done_testing();
