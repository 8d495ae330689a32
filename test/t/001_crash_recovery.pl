# test/t/001_crash_recovery.pl: button presses survive a crash exactly as the
# clients saw them.
#
# Several psql sessions press merchant/buyer/logistics buttons concurrently,
# one transaction per press, each on its own slice of orders.  The test
# writes a press log of what each client saw (the client is the source of
# truth):
#
#   SENT <seq> <order_id> <button> <state before> <predicted state|ERROR>
#   COMMITTED <order_id> <button> <new state> seq=<seq> ret=<button result>
#   FAILED <order_id> <button> <sqlstate> seq=<seq>
#   RECOVERED <order_id> <state> cases=<n> bundles=<n> open=<aftersale_id|->
#
# COMMITTED is written only once psql reported that COMMIT succeeded, FAILED
# when the press raised an error.  A SENT without an answer is "in flight".
# Mid-load the whole server is killed with SIGKILL (round 1: every process
# of the cluster at once; round 2: only the postmaster, $node->kill9, so the
# backends notice its death themselves), then restarted (crash recovery).
# The test then reads the log back and proves, for every order:
#   - its state is the state of the last COMMITTED press, or, when a press
#     for it was in flight at the kill, either that state or the state the
#     in-flight press would have produced;
#   - its number of after-sale cases and evidence bundles is exactly what the
#     committed presses created (a FAILED press created nothing);
# and that customorder.verify() reports no violated invariant, the number of
# orders is unchanged, and new presses work after the restart.
#
# CO_TAP_SEED=<n> replays one random press sequence.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run ();
use Time::HiRes qw(usleep time);
use Cwd ();

my $seed = $ENV{CO_TAP_SEED} // (time() ^ $$) % 1000000;
srand($seed);
note "random seed $seed (set CO_TAP_SEED=$seed to replay)";

my $n_orders  = 300;
my $n_workers = 6;
my $t0        = '2024-03-01 10:00:00+00';    # orders are placed at T
my $t_blue    = '2024-03-01 12:00:00+00';    # T + 2 hours: Start is blue

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION customorder');

# -----------------------------------------------------------------------------
# Seed: two custom-enabled categories (one with platform evidence review), a
# high-score and a low-score shop approved in both, one custom product per
# shop and category, and $n_orders orders placed at T.
# -----------------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
INSERT INTO customorder.categories (name, custom_enabled, evidence_review)
VALUES ('whole-house custom', true, false), ('glasses', true, true);
INSERT INTO customorder.shops (name, service_score)
VALUES ('high score shop', 4.90), ('low score shop', 4.10);
SELECT customorder.approve_custom_category(s.shop_id, c.category_id)
  FROM customorder.shops s, customorder.categories c;
INSERT INTO customorder.products
       (shop_id, category_id, title, price, is_custom, promised_ship)
SELECT s.shop_id, c.category_id, s.name || ' / ' || c.name, 1999.00, true,
       interval '7 days'
  FROM customorder.shops s, customorder.categories c
 ORDER BY s.shop_id, c.category_id;
});

my $placed = $node->safe_psql(
	'postgres', qq{
SET customorder.clock = '$t0';
SELECT customorder.place_order(p.product_id, 1000 + g, p.price)
  FROM generate_series(1, $n_orders) g
  JOIN (SELECT product_id, price,
               row_number() OVER (ORDER BY product_id) - 1 AS k
          FROM customorder.products) p ON p.k = g % 4
 ORDER BY g;
});
my @order_ids = split /\n/, $placed;
is(scalar @order_ids, $n_orders, "placed $n_orders orders at T");

# The client's model of each order: what it believes, from what it saw.
my %order;
for my $row (split /\n/, $node->safe_psql(
		'postgres', q{
SELECT o.order_id, o.state, s.service_score >= o.high_score_threshold,
       o.evidence_review
  FROM customorder.orders o JOIN customorder.shops s USING (shop_id)
 ORDER BY o.order_id}))
{
	my ($id, $state, $high, $review) = split /\|/, $row;
	$order{$id} = {
		state   => $state,
		high    => $high eq 't',
		review  => $review eq 't',
		open    => undef,                    # open after-sale case id
		budget  => 3 + int(rand(7)),         # presses left for this order
		worker  => scalar(keys %order) % $n_workers,
	};
}
is(scalar keys %order, $n_orders, 'all orders start in the model');
is((grep { $_->{state} ne 'paid' } values %order), 0, 'every order is paid');

my $logfile = "$PostgreSQL::Test::Utils::log_path/001_crash_recovery_presses.log";
open(my $log, '>', $logfile) or die "cannot open $logfile: $!";
$log->autoflush(1);
note "press log: $logfile";
print $log "RECOVERED $_ paid cases=0 bundles=0 open=-\n" for sort { $a <=> $b } keys %order;

# -----------------------------------------------------------------------------
# Choosing presses
# -----------------------------------------------------------------------------
my $bundle_no = 0;

sub items_json
{
	my ($id) = @_;
	$bundle_no++;
	return "'["
	  . qq!{"type":"image","mime":"image/jpeg","bytes":204800,!
	  . qq!"uri":"s3://co/o$id/b$bundle_no/1.jpg"},!
	  . qq!{"type":"video","mime":"video/mp4","bytes":5242880,!
	  . qq!"uri":"s3://co/o$id/b$bundle_no/2.mp4"}!
	  . "]'::jsonb";
}

# What a client presses next, by the order's state ('case' when it has an
# open after-sale case): [cumulative probability, button, arguments,
# predicted order state].  In the arguments ID is the order, CASE its open
# case, ITEMS a fresh evidence bundle.  The prediction START is the state
# Start leads to for the order's shop (S3/S4), SUBMIT the state evidence
# leads to for its category (S5), SAME the state it is in, ERROR a refusal.
my %menu = (
	case => [
		[ 0.45, 'agree_refund',    'CASE',         'refunded' ],
		[ 0.75, 'withdraw_refund', 'CASE',         'SAME' ],
		[ 0.85, 'request_refund', q{ID, 'refund_only', 'quality'}, 'ERROR' ], # F7
		[ 1,    'start_customization', 'ID',       'ERROR' ],
	],
	paid => [
		[ 0.65, 'start_customization', 'ID', 'START' ],
		[ 0.85, 'request_refund', q{ID, 'refund_only', 'no_reason'}, 'cancelled' ],
		[ 1,    'mark_signed', 'ID', 'ERROR' ],
	],
	awaiting_evidence => [
		[ 0.65, 'submit_custom_evidence', 'ID, ITEMS', 'SUBMIT' ],
		[ 0.85, 'request_refund', q{ID, 'refund_only', 'not_as_agreed'},
			'cancelled' ],
		[ 1, 'start_customization', 'ID', 'ERROR' ],
	],
	evidence_review => [
		[ 0.5,  'review_evidence', q{ID, true, 'matches the chat'}, 'in_production' ],
		[ 0.75, 'review_evidence', q{ID, false, 'photos unclear'}, 'awaiting_evidence' ],
		[ 0.85, 'request_refund', q{ID, 'refund_only', 'no_reason'}, 'cancelled' ],
		[ 1,    'ship', q{ID, 'SF-ID'}, 'ERROR' ],
	],
	in_production => [
		[ 0.55, 'ship', q{ID, 'SF-ID'}, 'shipped' ],
		[ 0.8,  'request_refund', q{ID, 'refund_only', 'quality'}, 'SAME' ],
		[ 1,    'start_customization', 'ID', 'ERROR' ],
	],
	shipped => [
		[ 0.55, 'mark_signed', 'ID', 'signed' ],
		# refund_only: agree_refund refunds at once (a return_refund after
		# shipment would wait for the goods, R1)
		[ 0.8,  'request_refund', q{ID, 'refund_only', 'quality'}, 'SAME' ],
		[ 1,    'start_customization', 'ID', 'ERROR' ],
	],
	signed => [
		[ 0.5,  'request_refund', q{ID, 'refund_only', 'no_reason'}, 'SAME' ],
		[ 0.75, 'ship', q{ID, 'SF-ID-again'}, 'ERROR' ],
		[ 1,    'start_customization', 'ID', 'ERROR' ],
	],
	# every button is refused once the order is closed
	cancelled => [
		[ 0.5, 'request_refund', q{ID, 'refund_only', 'no_reason'}, 'ERROR' ],
		[ 1,   'start_customization', 'ID', 'ERROR' ],
	],
);
$menu{refunded} = $menu{cancelled};

# [button, SQL call, predicted order state] for the next press on an order
sub choose_press
{
	my ($id) = @_;
	my $o = $order{$id};
	my $choices = $menu{ defined $o->{open} ? 'case' : $o->{state} }
	  or die "order $id: no buttons for state $o->{state}";
	my $r = rand();
	my ($c) = grep { $r < $_->[0] } @$choices;
	my (undef, $button, $args, $predict) = @$c;

	$args =~ s/\bCASE\b/$o->{open}/g if defined $o->{open};
	$args =~ s/\bITEMS\b/items_json($id)/e;
	$args =~ s/\bID\b/$id/g;
	$predict =
	    $predict eq 'START'  ? ($o->{high}   ? 'in_production'   : 'awaiting_evidence')
	  : $predict eq 'SUBMIT' ? ($o->{review} ? 'evidence_review' : 'in_production')
	  : $predict eq 'SAME'   ? $o->{state}
	  :                        $predict;
	return [ $button, "customorder.$button($args)", $predict ];
}

# -----------------------------------------------------------------------------
# Traffic: one psql process per worker, fed one press at a time.  A press is
#   BEGIN; SELECT <button> \gset; \echo @@P; SELECT state \gset; \echo @@S;
#   COMMIT; \echo @@C <seq> :ERROR :SQLSTATE :r :st
# psql runs with ON_ERROR_STOP off, so a refused press rolls back (COMMIT of
# an aborted transaction) and the session goes on; when the server dies psql
# exits and the press stays unanswered.
# -----------------------------------------------------------------------------
my $seq = 0;
my %sent;    # seq -> { id, button, before, predict }

sub start_worker
{
	my ($w) = @_;
	my %wk = (w => $w, in => '', out => '', err => '', busy => undef);
	$wk{h} = IPC::Run::start(
		[
			$node->installed_command('psql'), '-X', '-q', '-A', '-t',
			'-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'),
			'-f', '-'
		],
		'<', \$wk{in}, '>', \$wk{out}, '2>', \$wk{err});
	$wk{in} .= "SET customorder.clock = '$t_blue';\n";
	return \%wk;
}

sub send_press
{
	my ($wk, $id) = @_;
	my $o = $order{$id};
	my ($button, $call, $predict) = @{ choose_press($id) };
	$o->{budget}--;
	$seq++;
	$sent{$seq} = {
		id      => $id,
		button  => $button,
		before  => $o->{state},
		predict => $predict
	};
	print $log "SENT $seq $id $button $o->{state} $predict\n";
	# a short pause inside the transaction, so the crash often lands in
	# the middle of presses
	my $pause = sprintf('%.4f', rand(0.004));
	$wk->{busy} = $seq;
	$wk->{in} .= <<"EOS";
\\unset r
\\unset st
BEGIN;
SELECT $call AS r \\gset
\\echo \@\@P $seq :ERROR :SQLSTATE
SELECT state AS st, pg_sleep($pause) AS pause
  FROM customorder.orders WHERE order_id = $id \\gset
\\echo \@\@S $seq :ERROR :SQLSTATE
COMMIT;
\\echo \@\@C $seq :ERROR :SQLSTATE :r :st
EOS
	return;
}

my %stats = (committed => 0, failed => 0, mismatch => 0, inflight => 0);

# Look for the answer to the worker's current press; log it when complete.
sub collect
{
	my ($wk) = @_;
	my $s = $wk->{busy};
	return 0 unless defined $s;
	return 0 unless $wk->{out} =~ /^\@\@C $s (\S+) (\S+) (\S+) (\S+)$/m;
	my ($c_err, $c_state, $ret, $st) = ($1, $2, $3, $4);
	my ($p_err, $p_state) =
	  $wk->{out} =~ /^\@\@P $s (\S+) (\S+)$/m
	  or die "press $s: answer without \@\@P marker:\n$wk->{out}";
	my ($s_err, $s_state) =
	  $wk->{out} =~ /^\@\@S $s (\S+) (\S+)$/m
	  or die "press $s: answer without \@\@S marker:\n$wk->{out}";
	my $p  = $sent{$s};
	my $id = $p->{id};
	my $o  = $order{$id};

	if ($p_err eq 'true' || $s_err eq 'true' || $c_err eq 'true')
	{
		# the first error aborted the transaction: COMMIT rolled it back
		my $sqlstate =
		    $p_err eq 'true' ? $p_state
		  : $s_err eq 'true' ? $s_state
		  :                    $c_state;
		print $log "FAILED $id $p->{button} $sqlstate seq=$s\n";
		$stats{failed}++;
		if ($p->{predict} ne 'ERROR')
		{
			$stats{mismatch}++;
			diag "press $s: $p->{button} on order $id in $p->{before} "
			  . "failed with $sqlstate, expected $p->{predict}; "
			  . "psql said: $wk->{err}";
		}
	}
	else
	{
		print $log "COMMITTED $id $p->{button} $st seq=$s ret=$ret\n";
		$stats{committed}++;
		if ($p->{predict} ne $st)
		{
			$stats{mismatch}++;
			diag "press $s: $p->{button} on order $id in $p->{before} "
			  . "committed with state $st, expected $p->{predict}";
		}
		$o->{state} = $st;
		if ($p->{button} eq 'request_refund')
		{
			$o->{open} = $ret if $st !~ /^(cancelled|refunded)$/;
		}
		elsif ($p->{button} =~ /^(agree_refund|withdraw_refund)$/)
		{
			$o->{open} = undef;
		}
	}
	$wk->{out} = '';
	$wk->{err} = '';
	$wk->{busy} = undef;
	return 1;
}

sub next_order_for
{
	my ($w) = @_;
	my @ids = grep { $order{$_}{worker} == $w && $order{$_}{budget} > 0 }
	  keys %order;
	return @ids ? $ids[ int(rand(@ids)) ] : undef;
}

# The live (not zombie) processes of the node's cluster: every server process
# runs in the data directory.  (They cannot be told by process group: each
# child of the postmaster calls setsid().)
sub cluster_pids
{
	my $pgdata = Cwd::realpath($node->data_dir);
	my @pids;
	opendir(my $dh, '/proc') or die "no /proc: $!";
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		my $cwd = readlink("/proc/$p/cwd");
		next unless defined $cwd && $cwd eq $pgdata;
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close $fh;
		next unless defined $stat && $stat =~ /\)\s+([^Z])\s/;
		push @pids, $p;
	}
	closedir $dh;
	return @pids;
}

# Wait until no process of the killed cluster is left, and the postmaster's
# pid is gone too (until it is reaped, a new postmaster would take the
# zombie for a running one and refuse its lock file).
sub wait_cluster_gone
{
	my ($pm) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 unless cluster_pids() || kill(0, $pm);
		usleep(50_000);
	}
	return 0;
}

# One round of traffic, ended by a crash after $kill_after answered presses.
sub run_round
{
	my ($round, $kill_after, $mode) = @_;
	my @workers = map { start_worker($_) } 0 .. $n_workers - 1;
	my $answered = 0;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;

	print $log "# round $round: crash ($mode) after $kill_after answers\n";
	my @server_pids;    # looked up ahead: at the crash every ms counts
	while ($answered < $kill_after)
	{
		die "round $round: traffic timed out" if time() > $deadline;
		my $progress = 0;
		for my $wk (@workers)
		{
			if (defined $wk->{busy})
			{
				$wk->{h}->pump_nb;
				die "round $round: worker $wk->{w}'s psql exited before "
				  . "the crash:\n$wk->{out}\n$wk->{err}"
				  unless $wk->{h}->pumpable;
				if (collect($wk))
				{
					$answered++;
					$progress = 1;
				}
			}
			if (!defined $wk->{busy})
			{
				my $id = next_order_for($wk->{w});
				if (defined $id)
				{
					send_press($wk, $id);
					$wk->{h}->pump_nb;
					$progress = 1;
				}
			}
		}
		last unless grep { defined $_->{busy} } @workers;    # all done
		@server_pids = cluster_pids() if $answered < 2 * $n_workers;
		usleep(500) unless $progress;
	}
	my $busy = grep { defined $_->{busy} } @workers;
	note "round $round: $answered presses answered, $busy in flight at the crash";

	# Crash.
	my $pid = $node->{_pid};
	if ($mode eq 'cluster')
	{
		# postmaster and every backend at once (again for any backend
		# forked meanwhile)
		kill('KILL', $pid, grep { $_ != $pid } @server_pids);
		while (my @pids = cluster_pids())
		{
			kill('KILL', @pids);
		}
		$node->kill9;    # bookkeeping: the node is down
	}
	else
	{
		$node->kill9;           # only the postmaster
	}
	ok(wait_cluster_gone($pid),
		"round $round: every process of the killed cluster exited");

	# Drain: what psql printed before it died is still what the client saw.
	for my $wk (@workers)
	{
		close_worker($wk);
		if (defined $wk->{busy})
		{
			$stats{inflight}++;
			note "round $round: press $wk->{busy} in flight at the crash";
		}
	}
	return;
}

sub close_worker
{
	my ($wk) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	my $quit = 0;
	# A busy psql exits on its own once it finds the connection gone; one
	# whose answer arrived before the crash is told to quit.
	while ($wk->{h}->pumpable && time() < $deadline)
	{
		# writing to a psql that has just died raises EPIPE: that is fine
		last unless eval { $wk->{h}->pump_nb; 1 };
		collect($wk);
		if (!defined $wk->{busy} && !$quit)
		{
			$wk->{in} .= "\\q\n";
			$quit = 1;
		}
		usleep(10_000);
	}
	eval { $wk->{h}->finish; 1 } or $wk->{h}->kill_kill;
	collect($wk);
	return;
}

# -----------------------------------------------------------------------------
# The checks, from the press log alone.
# -----------------------------------------------------------------------------
sub check_against_log
{
	my ($round) = @_;
	close $log;
	open(my $in, '<', $logfile) or die "cannot read $logfile: $!";
	my (%exp, %pending);
	while (my $line = <$in>)
	{
		chomp $line;
		if ($line =~ /^RECOVERED (\d+) (\S+) cases=(\d+) bundles=(\d+)/)
		{
			$exp{$1} = { state => $2, cases => $3, bundles => $4 };
			# what a press in flight at an earlier crash did is settled now
			my $id = $1;
			delete @pending{ grep { $pending{$_}{id} == $id } keys %pending };
		}
		elsif ($line =~ /^SENT (\d+) (\d+) (\S+) (\S+) (\S+)$/)
		{
			$pending{$1} = { id => $2, button => $3, before => $4,
				predict => $5 };
		}
		elsif ($line =~ /^COMMITTED (\d+) (\S+) (\S+) seq=(\d+)/)
		{
			my $e = $exp{$1};
			$e->{state} = $3;
			$e->{cases}++   if $2 eq 'request_refund';
			$e->{bundles}++ if $2 eq 'submit_custom_evidence';
			delete $pending{$4};
		}
		elsif ($line =~ /^FAILED (\d+) \S+ \S+ seq=(\d+)/)
		{
			delete $pending{$2};
		}
	}
	close $in;
	open($log, '>>', $logfile) or die "cannot open $logfile: $!";
	$log->autoflush(1);

	my %inflight;
	$inflight{ $_->{id} } = $_ for values %pending;

	my %db;
	for my $row (split /\n/, $node->safe_psql(
			'postgres', q{
SELECT o.order_id, o.state, o.open_aftersale_id,
       (SELECT count(*) FROM customorder.aftersales a
         WHERE a.order_id = o.order_id),
       (SELECT count(*) FROM customorder.evidence_bundles b
         WHERE b.order_id = o.order_id)
  FROM customorder.orders o}))
	{
		my ($id, $state, $open, $cases, $bundles) = split /\|/, $row;
		$db{$id} = { state => $state, open => $open, cases => $cases,
			bundles => $bundles };
	}

	my @bad;
	my ($landed, $lost) = (0, 0);
	for my $id (sort { $a <=> $b } keys %exp)
	{
		my $e = $exp{$id};
		my $d = $db{$id};
		if (!$d)
		{
			push @bad, "order $id: missing after the crash";
			next;
		}
		my @ok = ([ $e->{state}, $e->{cases}, $e->{bundles} ]);
		if (my $f = $inflight{$id})
		{
			my $after = $f->{predict} eq 'ERROR' ? $e->{state} : $f->{predict};
			push @ok, [
				$after,
				$e->{cases} + ($f->{button} eq 'request_refund' ? 1 : 0),
				$e->{bundles} + ($f->{button} eq 'submit_custom_evidence' ? 1 : 0)
			] if $f->{predict} ne 'ERROR';
		}
		my $got = "$d->{state} cases=$d->{cases} bundles=$d->{bundles}";
		if ($inflight{$id} && @ok > 1)
		{
			my $a = $ok[1];
			("$a->[0] cases=$a->[1] bundles=$a->[2]" eq $got) ? $landed++ : $lost++;
		}
		push @bad, "order $id: has $got, the clients saw "
		  . join(' or ', map { "$_->[0] cases=$_->[1] bundles=$_->[2]" } @ok)
		  . ($inflight{$id} ? " ($inflight{$id}{button} in flight)" : '')
		  unless grep { "$_->[0] cases=$_->[1] bundles=$_->[2]" eq $got } @ok;
	}
	note "round $round: of the in-flight presses that would change the "
	  . "order, $landed took effect and $lost did not";
	is(scalar @bad, 0,
		"round $round: every order is exactly as the clients saw it "
		  . '(committed presses kept, failed ones without effect)')
	  or diag join("\n", @bad[ 0 .. ($#bad < 19 ? $#bad : 19) ]);

	# The model carries on from what the database now holds (an in-flight
	# press either happened or did not).
	for my $id (keys %order)
	{
		next unless $db{$id};
		$order{$id}{state} = $db{$id}{state};
		$order{$id}{open} =
		  $db{$id}{open} eq '' ? undef : $db{$id}{open};
		print $log "RECOVERED $id $db{$id}{state} cases=$db{$id}{cases} "
		  . "bundles=$db{$id}{bundles} open="
		  . ($db{$id}{open} eq '' ? '-' : $db{$id}{open}) . "\n";
	}
	return;
}

sub check_invariants
{
	my ($round) = @_;
	is($node->safe_psql('postgres', 'SELECT count(*) FROM customorder.orders'),
		$n_orders, "round $round: still $n_orders orders after the crash");

	my ($rc, $out, $err) = $node->psql('postgres',
		'SELECT count(*) FROM customorder.verify()');
	is($rc, 0, "round $round: customorder.verify() runs")
	  or diag "customorder.verify() failed: $err";
	is($out, '0', "round $round: customorder.verify() finds no violation")
	  or $rc != 0
	  or diag $node->safe_psql('postgres',
		'SELECT * FROM customorder.verify() LIMIT 20');
	return;
}

# -----------------------------------------------------------------------------
# Two rounds: traffic, crash, recovery, checks.
# -----------------------------------------------------------------------------
my @modes = ('cluster', 'postmaster');
for my $round (1 .. 2)
{
	run_round($round, 450 + int(rand(300)), $modes[ $round - 1 ]);
	$node->start;
	check_against_log($round);
	check_invariants($round);
}

note "presses: $stats{committed} committed, $stats{failed} failed, "
  . "$stats{inflight} in flight at a crash";
cmp_ok($stats{committed}, '>', 100, 'the load committed presses');
cmp_ok($stats{failed},    '>', 10,  'the load saw refused presses');
is($stats{mismatch}, 0,
	'every answered press had the outcome the rules predict');

# -----------------------------------------------------------------------------
# After the restart the buttons work: a fresh order goes through Start (grey
# then blue), shipping and signing; an order left in production ships.
# -----------------------------------------------------------------------------
my $high_product = $node->safe_psql(
	'postgres', q{
SELECT p.product_id FROM customorder.products p
  JOIN customorder.shops s USING (shop_id)
  JOIN customorder.categories c USING (category_id)
 WHERE s.service_score >= c.high_score_threshold AND NOT c.evidence_review
 ORDER BY 1 LIMIT 1});
my $t_new = '2024-03-02 10:00:00+00';
my $new_id = $node->safe_psql(
	'postgres', qq{
SET customorder.clock = '$t_new';
SELECT customorder.place_order($high_product, 4242, 1999.00);
});
like($new_id, qr/^\d+$/, 'after the restart: a new order is placed');

my ($rc, $out, $err) = $node->psql(
	'postgres', qq{
SET customorder.clock = '2024-03-02 10:30:00+00';
SELECT customorder.start_customization($new_id);
});
isnt($rc, 0, 'after the restart: Start is still grey within the lock');
like($err, qr/55000|start/i, 'after the restart: grey Start is refused');

is( $node->safe_psql(
		'postgres', qq{
SET customorder.clock = '2024-03-02 11:30:00+00';
SELECT customorder.start_customization($new_id);
SELECT customorder.ship($new_id, 'SF-after-restart');
SELECT customorder.mark_signed($new_id);
SELECT state FROM customorder.orders WHERE order_id = $new_id;
}),
	"in_production\nshipped\nsigned\nsigned",
	'after the restart: Start, ship and sign a new order');

my ($in_prod) = grep { $order{$_}{state} eq 'in_production' && !defined $order{$_}{open} }
  sort { $a <=> $b } keys %order;
SKIP:
{
	skip 'no order left in production', 1 unless defined $in_prod;
	is( $node->safe_psql(
			'postgres', qq{
SET customorder.clock = '$t_blue';
SELECT customorder.ship($in_prod, 'SF-late-$in_prod');
}),
		'shipped',
		"after the restart: order $in_prod from before the crash ships");
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM customorder.orders'),
	$n_orders + 1, 'after the restart: one more order');
my ($vrc, $vout) =
  $node->psql('postgres', 'SELECT count(*) FROM customorder.verify()');
is($vout, '0', 'after the restart: customorder.verify() still finds nothing');

close $log;
$node->stop;
done_testing();
