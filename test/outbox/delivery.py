#!/usr/bin/python3
"""test/outbox/delivery.py: the outbox under concurrent producers and crashing
consumers (SPEC section 10 V3, issue 12 point 3).

Needs Python 3 and psycopg2 from Debian (python3-psycopg2).  Run by
`make outbox` against the server the PG* environment variables name, after
`make install`, e.g.

    pg_virtualenv -t make outbox SEED=1 SECONDS=20

It creates a fresh database (customorder_delivery, kept afterwards for
inspection) with one shop and one ordinary product, registers two consumers
(c0, c1) before any event exists, and then for SECONDS:

- PRODUCERS sessions append events concurrently: place_order, ship,
  request_refund (an instant refund of a paid order: a case and a refund),
  refund_succeeded, as buttons, a raw UPDATE signing one shipped order and
  one signing several at once, and transactions that place, ship and sign one
  order (three events of one order in one transaction); producers also race
  for the same orders (the loser's refusal appends nothing);
- WORKERS sessions per consumer claim (claim_events, a random max), process
  and ack each event on its own (ack_events, as the README's loop does), with
  SET customorder.claim_lease = LEASE_MS; now and then one disconnects holding
  its claims, or stalls past its lease and acks late; a killer session
  terminates a random worker's backend (pg_terminate_backend) at random
  moments, mid-claim and mid-ack included; a crashed worker reconnects;
- a third consumer (c2) is registered a third of the way through, while the
  producers run: it is owed every event appended by a transaction that began
  after its registration committed (the test waits until every producer has
  finished a transaction begun after it, and takes the largest event_id then:
  every later event is owed).

Then the producers stop and the workers drain the outbox.  Each worker
records, with the client's monotonic clock, the start and end of every
claim (the events it returned) and every ack (the number it deleted; unknown
when the connection died under it).  The checks, from outside:

1. every consumer's deliveries are drained (customorder.deliveries empty);
2. every event owed to a consumer was returned by one of its claims (at
   least once), and acknowledged: one ack deleted it (or an ack whose result
   was lost to a kill), and no two acks deleted it;
3. a claim never returns two events of one order, and never an event no
   longer undelivered: no claim of an event began after the ack that deleted
   it had returned;
4. an event is never handed to two claimers at once: a second claim of an
   event ends at least LEASE_MS after the previous claim of it began;
5. per order and consumer, the event order is kept: an event's first claim
   ends after the ack of the order's previous event (that consumer's) began,
   and its deleting ack ends after the previous event's began.

Producer errors are classified as in the fuzzer: the SQLSTATEs of SPEC
section 4 and the transient concurrency ones are refusals; anything else is a
finding.  The last line sums it up; the exit status is non-zero on any
violation or finding.
"""

import argparse
import select
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:
    sys.exit("delivery: needs psycopg2 (Debian: apt-get install python3-psycopg2)")

SPEC_CODES = {"55000", "22023", "22004", "23514", "P0002", "42501"}
TRANSIENT_CODES = {"40001", "40P01", "55P03"}
TOLERANCE = 0.005       # seconds: the client's clock against the server's lease
mono = time.monotonic


def connect(dbname):
    conn = psycopg2.connect(dbname=dbname, application_name="customorder_delivery")
    conn.autocommit = True
    return conn


def setup(args):
    admin = connect(os.environ.get("PGDATABASE") or "postgres")
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % args.db)
    cur.execute("CREATE DATABASE %s" % args.db)
    admin.close()
    conn = connect(args.db)
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute("CREATE EXTENSION customorder")
    cur.execute("INSERT INTO customorder.categories (name) VALUES ('delivery')")
    cur.execute("INSERT INTO customorder.shops (name, service_score) VALUES ('delivery', 4.90)")
    cur.execute("INSERT INTO customorder.products (shop_id, category_id, title, price) "
                "VALUES (1, 1, 'delivery ordinary', 10)")
    for c in ("c0", "c1"):
        cur.execute("SELECT customorder.register_consumer(%s)", (c,))
    cur.execute("SELECT count(*) FROM customorder.events")
    assert cur.fetchone()[0] == 0
    conn.close()


class Shared:
    def __init__(self, args):
        self.args = args
        self.stop_producers = threading.Event()
        self.stop_workers = threading.Event()
        self.stop_killer = threading.Event()
        self.lock = threading.Lock()
        self.findings = []
        self.fence = None           # mono() when c2's registration committed
        self.after_fence = {}       # producer -> transactions begun after the fence
        self.pids = {}              # worker -> backend pid
        self.stats = Counter()
        self.errors = Counter()
        self.claims = []            # (consumer, worker, start, end, [(event_id, order_id)])
        self.acks = []              # (consumer, worker, event_id, start, end, deleted or None)

    def finding(self, text):
        with self.lock:
            self.findings.append(text)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


class Session(threading.Thread):
    """a thread whose unexpected exception is a finding (and stops the run)"""

    def run(self):
        try:
            self.work()
        except Exception as e:
            self.sh.finding("%s died: %r" % (self.name, e))
            self.sh.stop_producers.set()


# ---------------------------------------------------------------- producers

class Producer(Session):
    def __init__(self, sh, idx):
        super().__init__(name="producer%d" % idx)
        self.sh, self.idx = sh, idx
        self.rng = random.Random(sh.args.seed * 1000 + idx)
        self.buyer = 0

    def pick(self, cur, state, own=True):
        """an order of mine (or anyone's) in state, or None"""
        cur.execute("SELECT order_id FROM customorder.orders WHERE state = %s "
                    "AND (NOT %s OR order_id %% %s = %s) ORDER BY order_id DESC LIMIT 20",
                    (state, own, self.sh.args.producers, self.idx))
        rows = cur.fetchall()
        return self.rng.choice(rows)[0] if rows else None

    def place(self, cur):
        self.buyer += 1
        cur.execute("SELECT customorder.place_order(1, %s, 10)",
                    (self.idx * 1000000 + self.buyer,))
        return cur.fetchone()[0]

    def step(self, conn, cur):
        r = self.rng.random()
        if r < 0.25:
            self.place(cur)
            return "place_order"
        if r < 0.45:
            o = self.pick(cur, "paid", own=self.rng.random() < 0.8)
            if o is None:
                return None
            cur.execute("SELECT customorder.ship(%s, %s)", (o, "T%d" % o))
            return "ship"
        if r < 0.55:
            o = self.pick(cur, "shipped", own=self.rng.random() < 0.8)
            if o is None:
                return None
            cur.execute("UPDATE customorder.orders SET state = 'signed' "
                        "WHERE order_id = %s AND state = 'shipped'", (o,))
            return "raw sign"
        if r < 0.60:
            cur.execute("UPDATE customorder.orders SET state = 'signed' WHERE order_id IN "
                        "(SELECT order_id FROM customorder.orders WHERE state = 'shipped' "
                        " ORDER BY order_id LIMIT 5)")
            return "raw sign several"
        if r < 0.72:
            conn.autocommit = False
            try:
                o = self.place(cur)
                cur.execute("SELECT customorder.ship(%s, %s)", (o, "T%d" % o))
                cur.execute("UPDATE customorder.orders SET state = 'signed' WHERE order_id = %s", (o,))
                conn.commit()
            finally:
                if not conn.autocommit:
                    conn.rollback()
                    conn.autocommit = True
            return "place+ship+sign"
        if r < 0.85:
            o = self.pick(cur, "paid", own=self.rng.random() < 0.8)
            if o is None:
                return None
            cur.execute("SELECT customorder.request_refund(%s, 'refund_only', 'no_reason')", (o,))
            return "request_refund"
        cur.execute("SELECT refund_no FROM customorder.refunds WHERE state = 'pending' "
                    "ORDER BY refund_id DESC LIMIT 10")
        rows = cur.fetchall()
        if not rows:
            return None
        cur.execute("SELECT customorder.refund_succeeded(%s, 'PAY-' || %s)",
                    (self.rng.choice(rows)[0], self.idx))
        return "refund_succeeded"

    def work(self):
        sh = self.sh
        conn = connect(sh.args.db)
        cur = conn.cursor()
        while not sh.stop_producers.is_set():
            fenced = sh.fence is not None
            try:
                what = self.step(conn, cur)
                if what:
                    sh.count("press " + what)
            except psycopg2.Error as e:
                code = e.pgcode or "connection"
                if code in SPEC_CODES or code in TRANSIENT_CODES:
                    sh.errors[code] += 1
                else:
                    sh.finding("producer %d: %s %s" % (self.idx, code, str(e).strip()))
                    if conn.closed:
                        conn = connect(sh.args.db)
                        cur = conn.cursor()
            if fenced:
                with sh.lock:
                    sh.after_fence[self.idx] = sh.after_fence.get(self.idx, 0) + 1
        conn.close()


# ---------------------------------------------------------------- consumers

class Worker(Session):
    def __init__(self, sh, consumer, idx):
        super().__init__(name="%s.w%d" % (consumer, idx))
        self.sh, self.consumer = sh, consumer
        self.rng = random.Random(sh.args.seed * 7919 + sum(map(ord, self.name)))
        self.conn = None

    def reconnect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        while True:
            try:
                self.conn = connect(self.sh.args.db)
                self.cur = self.conn.cursor()
                self.cur.execute("SET customorder.claim_lease = %s",
                                 ("%dms" % self.sh.args.lease_ms,))
                self.cur.execute("LISTEN customorder_events")
                with self.sh.lock:
                    self.sh.pids[self.name] = self.conn.get_backend_pid()
                return
            except psycopg2.OperationalError:
                time.sleep(0.01)

    def claim(self):
        s = mono()
        self.cur.execute("SELECT event_id, order_id FROM customorder.claim_events(%s, %s)",
                         (self.consumer, self.rng.randint(1, 12)))
        rows = self.cur.fetchall()
        e = mono()
        with self.sh.lock:
            self.sh.claims.append((self.consumer, self.name, s, e, rows))
        return rows

    def ack(self, event_id):
        s = mono()
        n = None
        try:
            self.cur.execute("SELECT customorder.ack_events(%s, %s)",
                             (self.consumer, [event_id]))
            n = self.cur.fetchone()[0]
        finally:
            with self.sh.lock:
                self.sh.acks.append((self.consumer, self.name, event_id, s, mono(), n))

    def work(self):
        sh, lease = self.sh, self.sh.args.lease_ms / 1000.0
        self.reconnect()
        while not sh.stop_workers.is_set():
            try:
                rows = self.claim()
                sh.count("claimed", len(rows))
                if not rows:
                    # the README's loop: sleep until a commit notifies
                    if select.select([self.conn], [], [], 0.05) != ([], [], []):
                        self.conn.poll()
                        self.conn.notifies.clear()
                    continue
                for event_id, order_id in rows:
                    r = self.rng.random()
                    if r < 0.01:
                        sh.count("crash: disconnect holding claims")
                        self.reconnect()
                        break
                    if r < 0.015:
                        sh.count("stall past the lease")
                        time.sleep(lease * 1.5)
                    elif r < 0.1:
                        time.sleep(0.002)       # processing
                    self.ack(event_id)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                sh.count("crash: backend killed")
                self.reconnect()
            except psycopg2.Error as e:
                sh.finding("%s: %s %s" % (self.name, e.pgcode, str(e).strip()))
                self.reconnect()
        self.conn.close()


class Killer(Session):
    def __init__(self, sh):
        super().__init__(name="killer")
        self.sh = sh
        self.rng = random.Random(sh.args.seed * 31)

    def work(self):
        sh = self.sh
        conn = connect(sh.args.db)
        cur = conn.cursor()
        while not sh.stop_killer.wait(self.rng.uniform(0.05, 0.6)):
            with sh.lock:
                pids = sorted(sh.pids.items())
            if pids:
                name, pid = self.rng.choice(pids)
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
                if cur.fetchone()[0]:
                    sh.count("killer: terminated")
        conn.close()


# ---------------------------------------------------------------- checks

def check(sh, events, late_from):
    """events: [(event_id, order_id)] in event_id order; late_from: c2 is
    owed the events after this event_id"""
    lease = sh.args.lease_ms / 1000.0
    v = []
    exists = dict(events)
    by_order = defaultdict(list)
    for eid, oid in events:
        by_order[oid].append(eid)
    consumers = ["c0", "c1", "c2"]
    claims = defaultdict(list)      # (c, eid) -> [(start, end)]
    for c, w, s, e, rows in sh.claims:
        seen = set()
        for eid, oid in rows:
            if exists.get(eid) != oid:
                v.append("%s claimed event %d (order %d) that is not an event" % (c, eid, oid))
            if oid in seen:
                v.append("%s: one claim returned two events of order %d" % (c, oid))
            seen.add(oid)
            claims[(c, eid)].append((s, e))
    deleted = defaultdict(list)     # (c, eid) -> [(start, end)] acks that deleted it
    unknown = defaultdict(list)     # (c, eid) -> [(start, end)] acks whose result was lost
    for c, w, eid, s, e, n in sh.acks:
        if n is None:
            unknown[(c, eid)].append((s, e))
        elif n == 1:
            deleted[(c, eid)].append((s, e))
        elif n != 0:
            v.append("%s: ack of one event %d returned %d" % (c, eid, n))
    for c in consumers:
        owed = [eid for eid, _ in events if c != "c2" or eid > late_from]
        delivered = set(owed) | set(eid for (cc, eid) in claims if cc == c)
        for eid in owed:
            if not claims.get((c, eid)):
                v.append("%s: event %d was never delivered (no claim returned it)" % (c, eid))
        for eid in sorted(delivered):
            key = (c, eid)
            if len(deleted[key]) > 1:
                v.append("%s: event %d deleted by %d acks" % (c, eid, len(deleted[key])))
            if not deleted[key] and not unknown[key]:
                v.append("%s: event %d was never acknowledged" % (c, eid))
            cl = sorted(claims.get(key, []))
            for (s1, e1), (s2, e2) in zip(cl, cl[1:]):
                if e2 - s1 < lease - TOLERANCE:
                    v.append("%s: event %d claimed twice within its lease (%.3fs apart)"
                             % (c, eid, e2 - s1))
            if deleted[key]:
                d_end = deleted[key][0][1]
                for s, e in cl:
                    if s > d_end:
                        v.append("%s: event %d claimed again after the ack that deleted it" % (c, eid))
        for oid, eids in by_order.items():
            mine = [eid for eid in eids if eid in delivered]
            for a, b in zip(mine, mine[1:]):
                acks_a = deleted[(c, a)] or unknown[(c, a)]
                if not acks_a or not claims.get((c, b)):
                    continue        # reported above
                a_start = min(s for s, _ in acks_a)
                b_claim = min(e for _, e in claims[(c, b)])
                if b_claim <= a_start:
                    v.append("%s: order %d: event %d claimed before event %d was acknowledged"
                             % (c, oid, b, a))
                acks_b = deleted[(c, b)] or unknown[(c, b)]
                if acks_b and max(e for _, e in acks_b) <= a_start:
                    v.append("%s: order %d: event %d acknowledged before event %d"
                             % (c, oid, b, a))
    return v


def main():
    ap = argparse.ArgumentParser(description="outbox delivery under crashing consumers")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20, help="how long the producers run")
    ap.add_argument("--producers", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="workers per consumer")
    ap.add_argument("--lease-ms", type=int, default=300)
    ap.add_argument("--drain-seconds", type=float, default=60,
                    help="how long the workers may take to drain after the producers stop")
    ap.add_argument("--db", default="customorder_delivery")
    args = ap.parse_args()
    random.seed(args.seed)
    t0 = mono()
    setup(args)
    sh = Shared(args)
    producers = [Producer(sh, i) for i in range(args.producers)]
    workers = [Worker(sh, c, i) for c in ("c0", "c1") for i in range(args.workers)]
    killer = Killer(sh)
    for t in producers + workers + [killer]:
        t.start()

    # c2: registered while the producers run
    time.sleep(args.seconds / 3)
    conn = connect(args.db)
    cur = conn.cursor()
    cur.execute("SELECT customorder.register_consumer('c2')")
    with sh.lock:
        sh.fence = mono()
    while True:
        with sh.lock:
            if all(sh.after_fence.get(i, 0) >= 1 or not producers[i].is_alive()
                   for i in range(args.producers)):
                break
        time.sleep(0.01)
    cur.execute("SELECT coalesce(max(event_id), 0) FROM customorder.events")
    late_from = cur.fetchone()[0]
    late = [Worker(sh, "c2", i) for i in range(args.workers)]
    for t in late:
        t.start()
    workers += late

    time.sleep(max(0.0, t0 + args.seconds - mono()))
    sh.stop_producers.set()
    for t in producers:
        t.join()
    produced_at = mono()
    # drain: the killer goes on for a second, the workers until nothing is left
    drained = False
    while mono() - produced_at < args.drain_seconds:
        if mono() - produced_at > 1.0:
            sh.stop_killer.set()
        cur.execute("SELECT count(*) FROM customorder.deliveries")
        if cur.fetchone()[0] == 0 and sh.stop_killer.is_set():
            drained = True
            break
        time.sleep(0.1)
    sh.stop_killer.set()
    sh.stop_workers.set()
    for t in workers + [killer]:
        t.join()

    v = []
    if not drained:
        cur.execute("SELECT consumer, count(*) FROM customorder.deliveries GROUP BY 1 ORDER BY 1")
        v.append("not drained after %.0f s: %s" % (args.drain_seconds, cur.fetchall()))
    cur.execute("SELECT event_id, order_id FROM customorder.events ORDER BY event_id")
    events = cur.fetchall()
    v += check(sh, events, late_from)
    cur.execute("SELECT count(*) FROM customorder.verify()")
    bad = cur.fetchone()[0]
    if bad:
        v.append("customorder.verify() reports %d violations" % bad)
    conn.close()

    st = sh.stats
    for k in sorted(st):
        print("  %-36s %d" % (k, st[k]))
    if sh.errors:
        print("  refusals (SQLSTATE): %s" % ", ".join("%s %d" % kv for kv in sorted(sh.errors.items())))
    for f in sh.findings[:20]:
        print("FINDING: " + f)
    for x in v[:50]:
        print("VIOLATION: " + x)
    if len(v) > 50:
        print("... and %d more violations" % (len(v) - 50))
    redelivered = sum(1 for _, _, _, _, rows in sh.claims for _ in rows) - \
        len(set((c, eid) for c, _, _, _, rows in sh.claims for eid, _ in rows))
    print("delivery: seed %d, %.0f s: %d events from %d producers, %d to c2 (registered at event %d), "
          "%d claims, %d acks, %d redeliveries, %d kills, %d disconnects, %d stalls: "
          "%d violations, %d findings"
          % (args.seed, mono() - t0, len(events), args.producers, sum(1 for e, _ in events if e > late_from),
             late_from, len(sh.claims), len(sh.acks), redelivered, st["killer: terminated"],
             st["crash: disconnect holding claims"], st["stall past the lease"], len(v), len(sh.findings)))
    sys.exit(1 if v or sh.findings else 0)


if __name__ == "__main__":
    main()
