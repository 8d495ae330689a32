#!/usr/bin/python3
"""test/fuzz/fuzz.py: concurrent random and hostile calls against customorder.

Needs Python 3 and psycopg2 from Debian (package python3-psycopg2; this script
installs nothing).  Run by `make fuzz` against the server the PG* environment
variables name, e.g. after `make install`:

    pg_virtualenv -t make fuzz SEED=1 SECONDS=20
    pg_virtualenv -t make fuzz SEED=7 CALLS=50000 SESSIONS=8

It creates a fresh database (customorder_fuzz, kept afterwards for
inspection), seeds categories, shops, approvals, products and orders, then
SESSIONS worker processes make random calls: every button and query of
SPEC section 3, raw DML on the extension's tables and clock moves, with
plausible and hostile arguments (see README "Fuzzing" for what it presses and
checks).  Every error is classified by SQLSTATE:

- the codes of SPEC section 4 are refusals, as designed;
- 40001, 40P01, 55P03 are transient concurrency errors: counted, not findings;
- an argument PostgreSQL itself cannot convert to the declared type (bad
  JSON, bigint out of range, ...) is refused by a separate cast statement
  (`SELECT $1::type`) before the call, and the call is not made; such
  refusals are counted, not findings;
- a raw INSERT/UPDATE/DELETE may be refused by PostgreSQL's own column
  constraints (NOT NULL 23502, foreign key 23503, primary key 23505);
  counted, not findings;
- anything else, from a button, a query or the rule triggers, is a finding
  (XX000 included), printed with the statement and the message.

Besides, the fuzzer's own oracle (SPEC section 6): an input the rules must
refuse (an amount above the price, an H8 limit) that succeeds; a bound role
acting, or seeing rows, outside its ids, refused there with anything but 42501
(unless a missing id gets the same refusal: the arguments' own shape), or
naming another shop or buyer; a repeated pay_no not giving its order back, or
succeeding with other arguments; an accept of an amount another session has
just re-proposed away; and after the run, each committed pay_no's order and
each accepted amount against the data (proposed, and what the case refunded).

After the run it lists the violations of customorder.verify(), and looks for
backend crashes (lost connections, "terminated by signal" / PANIC in the
server log).  The last line sums it up; the exit status is non-zero if
anything was found.
"""

import argparse
import datetime
import decimal
import json
import multiprocessing as mp
import os
import random
import re
import sys
import time
import traceback
from collections import Counter

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:
    sys.exit("fuzz: needs psycopg2 (Debian: apt-get install python3-psycopg2)")

SPEC_CODES = {"55000", "22023", "22004", "23514", "P0002", "42501"}
TRANSIENT_CODES = {"40001", "40P01", "55P03"}
TIMEOUT_CODES = {"57014"}
# PostgreSQL's own column constraints on raw DML (not the rule triggers)
RAW_PG_CODES = {"23502", "23503", "23505"}
# unique indexes that are only safety nets behind the triggers' own checks:
# reaching one means a trigger missed its check (a finding, even on raw DML)
SAFETY_NET_INDEXES = ("aftersales_one_open_case", "evidence_items_order_id_bundle_id_uri_idx",
                      "evidence_items_order_id_bundle_id_sha256_idx")

ORDER_STATES = ["paid", "awaiting_evidence", "evidence_review", "in_production",
                "shipped", "signed", "cancelled", "refunded"]
CASE_STATES = ["instant_refunded", "requested", "rejecting", "communicating",
               "negotiating", "awaiting_buyer_evidence", "refunded", "rejected",
               "closed_by_shipment", "withdrawn", "awaiting_return", "return_shipped",
               "arbitration", "upheld", "lapsed"]
OPEN_CASE = ["requested", "rejecting", "communicating", "negotiating",
             "awaiting_buyer_evidence", "awaiting_return", "return_shipped", "arbitration"]
KINDS = ["refund_only", "return_refund"]
REASONS = ["no_reason", "quality", "wrong_quantity", "not_received", "not_as_agreed"]
COMM_REASONS = ["in_transit", "negotiate_amount", "invite_evidence",
                "agreement_reached", "signed_not_received"]
REJECT_REASONS = ["in_transit", "signed_no_reason"]
RETURN_REASONS = ["not_received", "wrong_item", "damaged"]
PURPOSES = ["production", "rejection_proof", "logistics_proof", "buyer_supplement",
            "return_proof", "arbitration_merchant", "arbitration_buyer"]

BIG = 9223372036854775807
ODD_TEXT = ["", " ", "\u200f\u202eRTL\u202c", "e\u0301\u0301\u0301", "\U0001F600\U0001F4E6",
            "\\ud800", "\\u0000", "'; DROP TABLE x; --", "%s %d", "\ufeffbom", "a" * 5000,
            "\u7b7e\u6536", "\t\n\r", "NULL", "null", "\\"]

MAX_EXAMPLES = 20


class Arg:
    """One argument: its value (None, str, bool) and the SQL type it is cast to.
    pre: PostgreSQL may fail to convert it; cast it in a separate statement first.
    bad: a value the rules must refuse (H3 amount above the price, H8 limits):
    a call that succeeds with it is a finding.
    sql: an SQL expression that gives the value on the server (a stored
    blob), written into the statement instead of a parameter."""
    __slots__ = ("v", "t", "pre", "bad", "sql")

    def __init__(self, v, t, pre=False, bad=False, sql=None):
        self.v, self.t, self.pre, self.bad, self.sql = v, t, pre, bad, sql


def norm_id(v):
    """A bigint argument as PostgreSQL reads it (' 7 ' is 7)."""
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return v


def params(args):
    """The parameter values of args (an Arg with sql is no parameter)."""
    return [a.v for a in args if a.sql is None]


def placeholder(a):
    return a.sql if a.sql is not None else "%%s::%s" % a.t


# The hostile JSON of 100,000 items (9.7 MB).  Sent as a parameter it costs
# the server a second of parsing per call, twice (the cast first): stored
# once in public.fuzz_blobs, a call reads it from there (the extension gets
# the same jsonb value, toasted), and one in a hundred still sends the text.
HUGE_ITEMS_SQL = "(SELECT j FROM public.fuzz_blobs WHERE name = 'huge_items')"


def huge_items():
    return json.dumps([{"type": "image", "mime": "image/jpeg", "bytes": 1000 + i,
                        "uri": "https://ev.example/huge/%d" % i} for i in range(100000)])


def shorten(s, n=400):
    s = s if isinstance(s, str) else str(s)
    if len(s) <= n:
        return s
    return "%s...[%d chars]...%s" % (s[: n * 2 // 3], len(s), s[-n // 4:])


def connect(dbname):
    conn = psycopg2.connect(dbname=dbname, application_name="customorder_fuzz")
    conn.autocommit = True
    return conn


# ---------------------------------------------------------------------------
# Statistics, merged from every worker
# ---------------------------------------------------------------------------

def new_stats():
    return {
        "calls": 0, "ops": Counter(), "ok_ops": Counter(), "codes": Counter(), "pre": Counter(),
        "raw_pg": Counter(), "transient": Counter(), "timeouts": 0,
        "conn_lost": 0, "unexpected": 0, "examples": {}, "tx_multi": 0,
        "tx_rolled_back": 0, "ok": 0,
        # the fuzzer's own oracle: committed events checked after the run,
        # findings made during it, and how the must-refuse inputs were refused
        "events": [], "findings": {}, "bad_codes": Counter(), "checks": Counter(),
    }


def merge_stats(a, b):
    for k in ("calls", "timeouts", "conn_lost", "unexpected", "tx_multi",
              "tx_rolled_back", "ok"):
        a[k] += b[k]
    for k in ("ops", "ok_ops", "codes", "pre", "raw_pg", "transient", "bad_codes", "checks"):
        a[k].update(b[k])
    a["events"].extend(b["events"])
    for key, f in b["findings"].items():
        if key in a["findings"]:
            a["findings"][key]["count"] += f["count"]
        else:
            a["findings"][key] = f
    for key, ex in b["examples"].items():
        if key in a["examples"]:
            a["examples"][key]["count"] += ex["count"]
        else:
            a["examples"][key] = ex


# ---------------------------------------------------------------------------
# The shared clock
# ---------------------------------------------------------------------------

class Clock:
    """customorder.clock, shared by every session and only moving forward.

    A session brings its own clock up to the shared one (SET, or RESET in
    real-time mode) before each statement; a move does not wait for the
    statements in flight, so one of them may still carry the time before
    the move while another session already writes the time after it.  1.0's
    fuzzer fenced the statements off from moves (a move waited until none
    was in flight, and every session waited for the move), because 1.0 kept
    no order among stamps written concurrently.  Since H2 the extension
    keeps every new stamp of an order at least its latest whatever the clock
    says, which the wall-clock presses of H1/H2 already lean on, and the
    fence cost the sessions a fifth of their time: now verify() checks H2
    against these races too.  Real-time mode (RESET) is entered only when
    the real time is ahead of the shared clock; base lies years in the past
    for that."""

    def __init__(self, base):
        self.base = base
        self.lock = mp.Lock()
        self.version = mp.RawValue("i", 0)
        self.real = mp.RawValue("i", 0)
        self.offset = mp.RawValue("d", 0.0)
        self.moves = mp.RawValue("i", 0)
        self.resets = mp.RawValue("i", 0)

    def time(self):
        return self.base + datetime.timedelta(seconds=self.offset.value)

    def state(self):
        """(version, real-time mode?, time), read together."""
        with self.lock:
            return self.version.value, self.real.value, self.time()

    def move(self, step):
        """Forward by step seconds, or to real time (RESET) when step is None.
        False when it did not move."""
        now = (datetime.datetime.now(datetime.timezone.utc) - self.base).total_seconds() - 1
        with self.lock:
            if step is None:
                if self.real.value or now <= self.offset.value:
                    return False
                self.real.value = 1
                self.offset.value = now
                self.resets.value += 1
            else:
                if self.real.value:
                    self.offset.value = max(self.offset.value, now + 2)
                self.real.value = 0
                self.offset.value += step
                self.moves.value += 1
            self.version.value += 1
            return True


# ---------------------------------------------------------------------------
# A session: one connection making calls, with a cache of ids
# ---------------------------------------------------------------------------

class Session:
    def __init__(self, dbname, rng, stats, shared, name):
        self.dbname, self.rng, self.stats, self.shared, self.name = dbname, rng, stats, shared, name
        self.conn = self.aux = None
        self.in_tx = False
        self.wall = False      # in a transaction on the wall clock
        self.clock_version = -1
        self.orders = {}       # order_id -> [state, is_custom, amount, refunded]
        self.by_state = {}     # order state -> [order_id]
        self.cases = {}        # aftersale_id -> [order_id, state]
        self.case_by_state = {}
        self.bundles = []      # (order_id, bundle_id, submitted)
        self.products = []     # (product_id, price, is_custom)
        self.shops, self.cats = [], []
        self.max_order = self.max_case = 1
        self.huge_items = None
        self.cast_seen = {}    # (type, long value) -> the cast's SQLSTATE, or None
        self.tx_events = []    # events of the open transaction, kept if it commits
        self.acting = None     # (role, kind, ids, acting id) while pressing as a bound role
        self.last = None       # (ok, sqlstate, message, detail, hint) of the last call
        self.pay_seen = {}     # pay_no -> (product, buyer, amount, order_id) of a committed call
        self.spare = None      # the connection calls are made on while a long transaction waits
        self.filler = None     # (operations, weights, quota) for those calls (see wait())
        self.made = 0          # operations made, against the quota
        self.reconnect()

    # -- connection ---------------------------------------------------------

    def reconnect(self, keep=None):
        for c in (self.conn, self.aux):
            try:
                if c is not None and c is not keep:
                    c.close()
            except Exception:
                pass
        deadline = time.time() + 60
        while True:
            try:
                self.conn = connect(self.dbname)
                self.aux = connect(self.dbname)
                cur = self.conn.cursor()
                cur.execute("SET statement_timeout = '15s'")
                cur.execute("SET client_min_messages = error")
                # aux presses as "another session" on the wall clock while this
                # one waits in a transaction: bounded, never a hang
                acur = self.aux.cursor()
                acur.execute("SET statement_timeout = '5s'")
                acur.execute("SET lock_timeout = '2s'")
                acur.execute("SET client_min_messages = error")
                self.in_tx = self.wall = False
                self.clock_version = -1
                return
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)

    def lost(self, exc, keep=None):
        """The connection is gone (a crash?): start over on new ones (but keep
        keep, the connection of a transaction waiting meanwhile)."""
        self.stats["conn_lost"] += 1
        print("fuzz: %s lost its connection: %s" % (self.name, shorten(str(exc).strip(), 200)),
              file=sys.stderr)
        self.in_tx = False
        time.sleep(0.5)
        self.reconnect(keep)

    def sync_clock(self):
        """Bring this session's clock up to the shared one (SET
        customorder.clock, or RESET in real-time mode), in a transaction too
        (time moves while it is open, H1), but not in one on the wall clock."""
        clock = self.shared["clock"]
        if self.wall or self.clock_version == clock.version.value:
            return
        if self.in_tx and self.conn.get_transaction_status() != \
                psycopg2.extensions.TRANSACTION_STATUS_INTRANS:
            return      # an aborted transaction: its statements fail anyway
        version, real, t = clock.state()
        if real:
            self.conn.cursor().execute("RESET customorder.clock")
        else:
            self.conn.cursor().execute("SET customorder.clock = %s", (t.isoformat(),))
        self.clock_version = version

    # what belongs to the connection calls are made on (see wait())
    CONN_STATE = ("conn", "in_tx", "wall", "clock_version", "tx_events", "acting", "last")

    def wait(self, seconds):
        """Wait while this session's transaction stays open (H1/H2), making
        other calls meanwhile on a spare connection, as the worker would
        make them (none waits in turn), so that the wait costs no calls."""
        end = time.time() + seconds
        if self.filler is None:
            time.sleep(seconds)
            return
        fns, weights, quota = self.filler
        saved = tuple(getattr(self, k) for k in self.CONN_STATE)
        try:
            if self.spare is None or self.spare.closed:
                self.spare = connect(self.dbname)
                cur = self.spare.cursor()
                cur.execute("SET statement_timeout = '15s'")
                cur.execute("SET client_min_messages = error")
            self.conn, self.in_tx, self.wall = self.spare, False, False
            self.clock_version, self.tx_events, self.acting, self.last = -1, [], None, None
            while time.time() < end and (quota is None or self.made < quota):
                try:
                    pick_op(self, fns, weights)(self)
                    self.made += 1
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                    if self.conn.closed or getattr(e, "pgcode", None) is None:
                        self.lost(e, keep=saved[0])
                    else:
                        raise
        finally:
            if self.in_tx:      # not left open by an operation, but never kept open
                self.end(False)
            self.spare = self.conn
            for k, v in zip(self.CONN_STATE, saved):
                setattr(self, k, v)
        left = end - time.time()
        if left > 0:
            time.sleep(left)

    # -- cache --------------------------------------------------------------

    def refresh(self):
        cur = self.conn.cursor()
        cur.execute("""SELECT order_id, state::text, is_custom, amount, refunded_amount, shop_id, buyer_id
                       FROM customorder.orders ORDER BY order_id DESC LIMIT 1500""")
        self.orders, self.by_state = {}, {}
        for oid, st, cu, amt, ref, shop, buyer in cur.fetchall():
            self.orders[oid] = [st, cu, amt, ref, shop, buyer]
            self.by_state.setdefault(st, []).append(oid)
            self.max_order = max(self.max_order, oid)
        cur.execute("""SELECT aftersale_id, order_id, state::text FROM customorder.aftersales
                       ORDER BY aftersale_id DESC LIMIT 1500""")
        self.cases, self.case_by_state = {}, {}
        for cid, oid, st in cur.fetchall():
            self.cases[cid] = [oid, st]
            self.case_by_state.setdefault(st, []).append(cid)
            self.max_case = max(self.max_case, cid)
        cur.execute("""SELECT order_id, bundle_id, submitted_at IS NOT NULL
                       FROM customorder.evidence_bundles ORDER BY bundle_id DESC LIMIT 500""")
        self.bundles = cur.fetchall()
        cur.execute("SELECT product_id, price, is_custom, shop_id FROM customorder.products")
        self.products = cur.fetchall()
        cur.execute("SELECT shop_id FROM customorder.shops")
        self.shops = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT category_id FROM customorder.categories")
        self.cats = [r[0] for r in cur.fetchall()]

    def note_order(self, oid, state):
        if oid in self.orders and state in ORDER_STATES:
            old = self.orders[oid][0]
            if old != state:
                try:
                    self.by_state.get(old, []).remove(oid)
                except ValueError:
                    pass
                self.by_state.setdefault(state, []).append(oid)
                self.orders[oid][0] = state

    def note_case(self, cid, state, oid=None):
        if cid is None:
            return
        if cid not in self.cases:
            self.cases[cid] = [oid, None]
        old = self.cases[cid][1]
        if state in CASE_STATES and old != state:
            if old is not None:
                try:
                    self.case_by_state.get(old, []).remove(cid)
                except ValueError:
                    pass
            self.case_by_state.setdefault(state, []).append(cid)
            self.cases[cid][1] = state

    # -- argument generators ------------------------------------------------

    def hostile_id(self, other=None):
        r = self.rng
        x = r.randrange(14)
        if x == 0:
            return Arg(None, "bigint")
        if x == 1:
            return Arg("0", "bigint")
        if x == 2:
            return Arg("-1", "bigint")
        if x == 3:
            return Arg(str(BIG), "bigint")
        if x == 4:
            return Arg(str(-BIG - 1), "bigint")
        if x == 5:
            return Arg(str(BIG + 1), "bigint", pre=True)
        if x == 6:
            return Arg("1e30", "bigint", pre=True)
        if x == 7:
            return Arg(r.choice(["12abc", "", " 7 ", "NaN", "\U0001F600"]), "bigint", pre=True)
        if x in (8, 9):
            return Arg(str(self.max_order + self.max_case + r.randrange(1, 1000)), "bigint")
        # an id of the other kind (a case id used as an order id, or the reverse)
        pool = list(other) if other else []
        if pool:
            return Arg(str(r.choice(pool)), "bigint")
        return Arg(str(r.randrange(1, 100)), "bigint")

    def owned(self, i, rows):
        """Is id i (an order, or a case when rows is self.cases) the acting
        shop's or buyer's?"""
        kind, who = self.acting[1], self.acting[3]
        oid = i if rows is self.orders else (self.cases.get(i) or [None])[0]
        o = self.orders.get(oid)
        return bool(o) and len(o) > 5 and o[4 if kind == "merchant" else 5] == who

    def pick_id(self, rows, index, other, states):
        """Mostly an id in one of states, else any known id, else a hostile one.
        Pressing as a bound role: mostly one of the acting shop's or buyer's."""
        r = self.rng.random()
        if self.acting and self.rng.random() < 0.75:
            pool = [i for st in (states or ()) for i in index.get(st, ()) if self.owned(i, rows)] or \
                [i for i in rows if self.owned(i, rows)]
            if pool:
                return Arg(str(self.rng.choice(pool)), "bigint")
        if r < 0.8 and states:
            pool = [i for st in states for i in index.get(st, ())]
            if pool:
                return Arg(str(self.rng.choice(pool)), "bigint")
        if r < 0.92 and rows:
            return Arg(str(self.rng.choice(list(rows))), "bigint")
        return self.hostile_id(other)

    def order_id(self, states=None):
        return self.pick_id(self.orders, self.by_state, self.cases, states)

    def case_id(self, states=None):
        return self.pick_id(self.cases, self.case_by_state, self.orders, states)

    def case_order_state(self, arg):
        try:
            c = self.cases.get(int(arg.v))
            return self.orders.get(c[0], [None])[0] if c else None
        except (TypeError, ValueError):
            return None

    def product_id(self):
        if self.rng.random() < 0.9 and self.products:
            return Arg(str(self.rng.choice(self.products)[0]), "bigint")
        return self.hostile_id(self.orders)

    def text(self, valid, null_ok=True):
        r = self.rng.random()
        if r < 0.85:
            return Arg(self.rng.choice(valid) if isinstance(valid, list) else valid, "text")
        if r < 0.9 and null_ok:
            return Arg(None, "text")
        if r < 0.98:
            return Arg(self.rng.choice(ODD_TEXT), "text")
        return Arg("x" * (1 << 20), "text")

    def amount(self, good):
        r = self.rng.random()
        if r < 0.75 and good is not None:
            return Arg(str(good), "numeric")
        choices = ["0", "-1", "0.001", "0.005", "1e30", "-1e30", "NaN", "Infinity", "-Infinity",
                   "9999999999.99", "10000000000", "1e-30", "0.01", "123456789012345678901234567890.123"]
        if r < 0.8:
            return Arg(None, "numeric")
        if r < 0.97:
            return Arg(self.rng.choice(choices), "numeric", pre=True)
        return Arg(self.rng.choice(["abc", "", "1,5", "\U0001F4B0"]), "numeric", pre=True)

    def item(self, i, tag, kind=None):
        r = self.rng
        kind = kind or ("image" if r.random() < 0.8 else "video")
        it = {"type": kind, "mime": "image/jpeg" if kind == "image" else "video/mp4",
              "bytes": r.randrange(1, 10485760 if kind == "image" else 157286400),
              "uri": "https://ev.example/%s/%d/%d" % (tag, r.randrange(1 << 30), i)}
        if r.random() < 0.3:
            it["sha256"] = "%064x" % r.getrandbits(256)
        return it

    def items(self):
        """(json text, hostile?) for an items argument."""
        r = self.rng
        tag = "%s-%d" % (self.name, r.randrange(1 << 20))
        x = r.random()
        if x < 0.55:
            n_img, n_vid = r.randrange(1, 4), r.randrange(0, 2)
            items = [self.item(i, tag, "image") for i in range(n_img)]
            items += [self.item(100 + i, tag, "video") for i in range(n_vid)]
            r.shuffle(items)
            return json.dumps(items), False
        if x < 0.80:
            # one item broken in one way, or the limits exactly at and over the edge
            items = [self.item(i, tag) for i in range(r.randrange(1, 4))]
            it = r.choice(items)
            m = r.randrange(40)
            if m == 0:
                items = [self.item(i, tag, "image") for i in range(10)]
            elif m == 1:
                items = [self.item(i, tag, "image") for i in range(11)]
            elif m == 2:
                items = [self.item(i, tag, "video") for i in range(3)]
            elif m == 3:
                items = [self.item(i, tag, "video") for i in range(4)]
            elif m == 4:
                it.update(type="image", mime="image/png", bytes=r.choice([10485760, 10485761]))
            elif m == 5:
                it.update(type="video", mime="video/mp4", bytes=r.choice([157286400, 157286401]))
            elif m == 6:
                it["bytes"] = r.choice([0, -1, BIG, BIG + 1, 1e30, -1e30, 1.5, "123", None, True, [], {}])
            elif m == 7:
                it["uri"] = r.choice(["", "a" * 2048, "a" * 2049, None, 5, " "])
            elif m == 8:
                items.append(dict(it))                       # same uri twice
            elif m == 9:
                it["sha256"] = "%064x" % 7
                items.append(dict(self.item(99, tag), sha256="%064x" % 7))
            elif m == 10:
                it["sha256"] = r.choice(["abc", "g" * 64, "A" * 64, "0" * 63, "0" * 65, "", None, 1])
            elif m == 11:
                it["type"] = r.choice(["IMAGE", "audio", "", None, 1, ["image"], "image "])
            elif m == 12:
                it["mime"] = r.choice(["video/mp4" if it["type"] == "image" else "image/png",
                                       "image", "", None, "imagex/jpeg", "image/", "IMAGE/JPEG", 3])
            elif m == 13:
                del it[r.choice(list(it))]
            elif m == 14:
                it["extra"] = {"nested": [1, 2, {"x": None}]}
            elif m == 15:
                items[items.index(it)] = r.choice([1, "item", None, [], [it], True])
            elif m == 16:
                return json.dumps(r.choice([{}, it, "items", 42, None, [], True])), False
            elif m == 17:
                it["uri"] = "https://ev.example/" + r.choice(ODD_TEXT) + "/\u200f\U0001F600e\u0301"
            elif m == 18:
                it["uri"] = "u" * (1 << 20)                  # a 1 MB uri
            elif m == 19:
                items = [self.item(i, tag, "image") for i in range(r.randrange(12, 60))]
            elif m == 20:
                it["bytes"] = str(r.randrange(1, 1000))
            elif m == 21:
                items = [dict(self.item(i, tag), bytes=10485760 if i < 10 else 1) for i in range(13)]
            elif m == 22:
                items = [self.item(i, tag, "video") for i in range(3)] + \
                        [self.item(10 + i, tag, "image") for i in range(10)]
            elif m == 23:
                it["type"] = "video"
                it["mime"] = "video/quicktime"
                it["bytes"] = 157286400
            elif m == 24:
                it["uri"] = it["uri"].upper()
                items.append(dict(it, uri=it["uri"].lower()))
            elif m == 25:
                it["uri"] = "https://ev.example/dup"
                items.append(dict(self.item(5, tag), uri="https://ev.example/dup "))
            elif m == 26:
                it["bytes"] = 2 ** 31
            elif m == 27:
                it["bytes"] = 2 ** 63 - 1
                items.append(dict(self.item(7, tag), bytes=2 ** 63 - 1))
            elif m == 28:
                it["mime"] = "image/jpeg\u0301"
            elif m == 29:
                it["sha256"] = ("%064x" % r.getrandbits(256)).upper()
            elif m < 36:
                # H8: a control or bidirectional-override character in the uri
                c = r.choice(["\n", "\r", "\t", "\x01", "\x1b", "\x7f", "\u0085", "\u009f",
                              "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                              "\u2067", "\u2068", "\u2069"])
                at = r.randrange(len(it["uri"]) + 1)
                it["uri"] = it["uri"][:at] + c + it["uri"][at:]
                return json.dumps(items), "bad"
            else:
                # H8: mime is ^(image|video)/[a-z0-9][a-z0-9.+-]*$
                it["mime"] = r.choice(["image/JPEG", "image/jpeg; q=1", "image/../etc", "text/plain",
                                       "image/jpe g", "image/-x", "image/.x", "image/jpeg\n",
                                       "video/mp4\u202e", " image/png", "Image/png", "image/_x", "image/"])
                return json.dumps(items), "bad"
            return json.dumps(items), False
        # text PostgreSQL may refuse (the cast is tried first, separately)
        m = r.randrange(12)
        if m == 0:
            return r.choice(["{bad json", "[{\"type\":", "", "[1,]", "[{'type':'image'}]",
                             "nul", "[\"\\x\"]", "[] []"]), True
        if m == 1:
            d = r.choice([1000, 10000, 100000])
            return "[" * d + "]" * d, True
        if m == 2:
            d = r.choice([500, 5000])
            it = json.dumps(self.item(0, tag))[:-1]
            return "[" + it + ", \"deep\": " + "[" * d + "]" * d + "}]", True
        if m == 3:
            return '[{"type":"image","mime":"image/jpeg","bytes":1,"uri":"\\ud800"}]', True
        if m == 4:
            return '[{"type":"image","mime":"image/jpeg","bytes":1,"uri":"a\\u0000b"}]', True
        if m == 5:
            return '[{"type":"image","mime":"image/jpeg","bytes":1,"uri":"\\udc00\\ud800x"}]', True
        if m == 6:
            return '[{"type":"image","mime":"image/jpeg","bytes":1e999999,"uri":"x"}]', True
        if m == 7:
            return '[{"type":"image","type":"video","mime":"image/jpeg","bytes":1,"uri":"k"}]', True
        if m == 8:
            return '[{"type":"image","mime":"image/jpeg","bytes":1,"uri":"\\uD83D\\uDE00\\u202e"}]', True
        if m in (9, 10):
            if r.random() < 0.99:
                return None, "huge"
            if self.huge_items is None:
                self.huge_items = huge_items()
            return self.huge_items, True
        return None, False

    def items_arg(self):
        j, hostile = self.items()
        if hostile == "huge":
            return Arg(None, "jsonb", sql=HUGE_ITEMS_SQL)
        return Arg(j, "jsonb", pre=hostile is True, bad=hostile == "bad")

    def tracking(self):
        r = self.rng
        x = r.random()
        if x < 0.9:
            return self.text(["SF%010d" % r.randrange(10 ** 10), "YT%d" % r.randrange(10 ** 12),
                              "A" * 64, "x-1", "-"])
        # H8: 1-64 characters of [A-Za-z0-9-]; anything else must be refused
        return Arg(r.choice(["A" * 65, "9" * (1 << 16), "SF 12", "SF_12", "SF\n12", "SF12\t", " SF12",
                             "\uff33\uff26\uff11\uff12", "SF12\u202e", "SF\u00e912", "SF12\u200b",
                             "SF12;", "SF/12", "SF.12", "\U0001F4E6", "\x7f"]), "text", bad=True)

    def timestamp(self):
        base = self.shared["clock"].time()
        r = self.rng.randrange(8)
        if r == 0:
            return Arg(None, "timestamptz")
        if r == 1:
            return Arg("infinity", "timestamptz")
        if r == 2:
            return Arg("1970-01-01 00:00+00", "timestamptz")
        if r == 3:
            return Arg("294276-12-31 00:00+00", "timestamptz", pre=True)
        return Arg((base + datetime.timedelta(hours=self.rng.randrange(-2000, 2000))).isoformat(),
                   "timestamptz")

    # -- executing ----------------------------------------------------------

    def precheck(self, args):
        """Cast each hostile argument in a separate statement; the code of
        PostgreSQL's refusal, or None when every argument converts.  The
        outcome for a long value (the same few hostile blobs, deterministic)
        is kept, and the cast of those is made once per session."""
        for a in args:
            if not a.pre or a.sql is not None:
                continue
            key = (a.t, a.v) if isinstance(a.v, str) and len(a.v) > 65536 else None
            if key is not None and key in self.cast_seen:
                code = self.cast_seen[key]
                if code is not None:
                    return code
                continue
            try:
                self.aux.cursor().execute("SELECT %%s::%s IS NULL" % a.t, (a.v,))
            except psycopg2.OperationalError as e:
                if e.pgcode is None:
                    self.lost(e)
                    return "conn"
                if key is not None:
                    self.cast_seen[key] = e.pgcode
                return e.pgcode
            except psycopg2.Error as e:
                if key is not None and e.pgcode:
                    self.cast_seen[key] = e.pgcode
                return e.pgcode or "client"
            if key is not None:
                self.cast_seen[key] = None
        return None

    def run(self, op, sql, args, kind="button", fetch=True, conn=None):
        """Execute one statement (on conn: the aux connection, as another
        session on the wall clock); returns (ok, rows).  Records errors."""
        self.stats["calls"] += 1
        self.stats["ops"][op] += 1
        self.last = None
        code = self.precheck(args)
        if code is not None:
            if code != "conn":
                self.stats["pre"][code] += 1
            return False, None
        conn = conn or self.conn
        cur = conn.cursor()
        bad = any(a.bad for a in args)
        try:
            if conn is self.conn:
                self.sync_clock()
            cur.execute(sql, params(args))
            rows = cur.fetchall() if fetch and cur.description else None
            self.stats["ok"] += 1
            self.stats["ok_ops"][op] += 1
            self.last = (True, None, None, None, None)
            if bad and kind == "raw" and cur.rowcount == 0:
                # an UPDATE or DELETE that matched no row wrote nothing: no row judged the input
                self.stats["checks"]["bad_inputs_no_row"] += 1
            elif bad:
                self.finding("H3/H8: an input the rules refuse was accepted", op, cur, sql, args, "")
            if kind != "query":     # a query outside the ids succeeds, showing nothing (op_rls checks)
                self.check_acting(op, cur, sql, args)
            return True, rows
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
            if getattr(e, "pgcode", None) is None or conn.closed:
                if conn is self.aux:
                    self.reconnect()
                else:
                    self.lost(e)
                return False, None
            self.error(op, kind, cur, sql, args, e, bad)
            return False, None
        except psycopg2.Error as e:
            self.error(op, kind, cur, sql, args, e, bad)
            return False, None

    def finding(self, what, op, cur, sql, args, note):
        """A violation of a rule the fuzzer itself checks (H3-H8)."""
        key = (what, op)
        f = self.stats["findings"].get(key)
        if f is None:
            try:
                stmt = cur.mogrify(sql, params(args)).decode("utf-8", "replace") if cur else sql
            except Exception:
                stmt = sql
            self.stats["findings"][key] = {"count": 1, "what": what, "op": op, "stmt": shorten(stmt, 400),
                                           "note": shorten(note, 400), "session": self.name,
                                           "acting": repr(self.acting[:2] + self.acting[3:]) if self.acting else ""}
        else:
            f["count"] += 1

    def check_acting(self, op, cur, sql, args, err=None):
        """H5/H6 while pressing as a bound role: outside its ids nothing
        succeeds and everything is 42501; no refusal names another shop or buyer."""
        if not self.acting:
            return
        role, kind, ids, who = self.acting
        self.stats["checks"]["bound_presses"] += 1
        inside = who in ids
        if err is None:
            if not inside:
                self.finding("H5: a bound role acted outside its ids", op, cur, sql, args, "")
            return
        code = err.pgcode
        if not inside and code not in TRANSIENT_CODES | TIMEOUT_CODES and code != "42501":
            if self.argument_refusal(sql, args, err):
                # the arguments' own shape (NULL, NaN, three decimals), refused
                # the same for a missing id: nothing about the row is told
                self.stats["checks"]["argument_refusals_outside_ids"] += 1
            else:
                self.finding("H5: outside its ids, a refusal other than 42501", op, cur, sql, args,
                             "%s %s" % (code, err.diag.message_primary))
        text = " ".join(x or "" for x in (err.diag.message_primary, err.diag.message_detail,
                                           err.diag.message_hint))
        for noun, num in re.findall(r"(?i)\b(shop|buyer)s?\s+(?:id\s+)?(-?\d+)", text):
            self.stats["checks"]["ids_named"] += 1
            if int(num) != who:
                self.finding("H6: a refusal names another %s" % noun.lower(), op, cur, sql, args, text)

    def argument_refusal(self, sql, args, err):
        """Is err the same (SQLSTATE and message) when the call names an id
        that does not exist?  Then it judged the arguments only.  Tried as
        the same role and identity on the aux connection, rolled back."""
        if not args or args[0].t != "bigint" or not self.acting:
            return False
        if args[0].v is None:
            # a NULL id names no row: its 22004 tells nothing about one
            return err.pgcode == "22004"
        role, kind, ids, who = self.acting
        a2 = [Arg(str(BIG - 7), "bigint")] + list(args[1:])
        cur = self.aux.cursor()
        try:
            cur.execute("BEGIN")
            cur.execute("SET LOCAL ROLE %s" % role)
            cur.execute("SET LOCAL customorder.%s = %%s" % ("shop_id" if kind == "merchant" else "buyer_id"),
                        [str(who)])
            cur.execute(sql, params(a2))
            same = False
        except psycopg2.Error as e:
            same = e.pgcode == err.pgcode and \
                re.sub(r"\d+", "N", e.diag.message_primary or "") == re.sub(r"\d+", "N", err.diag.message_primary or "")
        finally:
            try:
                self.aux.cursor().execute("ROLLBACK")
            except psycopg2.Error:
                pass
        return same

    def log(self, *event):
        """An event for the oracle after the run; in a transaction, kept only if it commits."""
        (self.tx_events if self.in_tx else self.stats["events"]).append(event)

    def error(self, op, kind, cur, sql, args, e, bad=False):
        code = e.pgcode or "client"
        self.stats["codes"][code] += 1
        self.last = (False, code, e.diag.message_primary, e.diag.message_detail, e.diag.message_hint)
        if bad:
            self.stats["bad_codes"][code] += 1
        self.check_acting(op, cur, sql, args, e)
        if code in SPEC_CODES:
            return
        if code in TRANSIENT_CODES:
            self.stats["transient"][code] += 1
            return
        if code in TIMEOUT_CODES:
            self.stats["timeouts"] += 1
            return
        constraint = getattr(e.diag, "constraint_name", None) or ""
        if kind == "raw" and code in RAW_PG_CODES and constraint not in SAFETY_NET_INDEXES:
            self.stats["raw_pg"][code] += 1
            return
        self.stats["unexpected"] += 1
        msg = e.diag.message_primary or str(e).strip()
        key = (code, op, re.sub(r"\d+", "N", msg)[:200])
        ex = self.stats["examples"].get(key)
        if ex is None:
            try:
                stmt = cur.mogrify(sql, params(args)).decode("utf-8", "replace")
            except Exception:
                stmt = sql
            self.stats["examples"][key] = {
                "count": 1, "code": code, "op": op, "stmt": shorten(stmt, 600),
                "message": shorten(msg, 400),
                "detail": shorten(e.diag.message_detail or "", 300),
                "context": shorten(e.diag.context or "", 300),
                "constraint": constraint, "session": self.name,
                "clock": self.shared["clock"].time().isoformat()}
        else:
            ex["count"] += 1

    def call(self, op, fn, args, cast_result=""):
        sql = "SELECT customorder.%s(%s)%s" % (fn, ", ".join(placeholder(a) for a in args),
                                              cast_result)
        return self.run(op, sql, args)

    def begin(self, iso=None, wall=False):
        """BEGIN; on the wall clock (SET LOCAL customorder.clock TO DEFAULT)
        when wall."""
        if not wall:
            self.sync_clock()
        self.conn.cursor().execute("BEGIN" + (" ISOLATION LEVEL " + iso if iso else ""))
        self.in_tx = True
        self.tx_events = []
        if wall:
            self.conn.cursor().execute("SET LOCAL customorder.clock TO DEFAULT")
            self.wall = True

    def end(self, commit):
        events, self.tx_events, self.acting = self.tx_events, [], None
        try:
            keep = commit and self.conn.get_transaction_status() == \
                psycopg2.extensions.TRANSACTION_STATUS_INTRANS
            self.conn.cursor().execute("COMMIT" if commit else "ROLLBACK")
            if keep:
                self.stats["events"].extend(events)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
            if getattr(e, "pgcode", None) is None:
                self.lost(e)
            elif e.pgcode in TRANSIENT_CODES:
                self.stats["transient"][e.pgcode] += 1
            else:
                raise
        except psycopg2.Error as e:
            # a deferred check at COMMIT
            self.error("COMMIT", "raw", self.conn.cursor(), "COMMIT", [], e)
        self.in_tx = False
        self.clock_version = -1     # a SET inside the transaction may be rolled back
        self.wall = False


# ---------------------------------------------------------------------------
# The operations
# ---------------------------------------------------------------------------

CENT = decimal.Decimal("0.01")


def order_amount(s, p):
    """H3: mostly the price, else a coupon's lower amount, else above the
    price (must be refused), else a hostile number."""
    if p is None:
        return s.amount("10.00")
    x = s.rng.random()
    if x < 0.6:
        return Arg(str(p[1]), "numeric")
    if x < 0.75:
        return Arg(str(max(CENT, p[1] - CENT * s.rng.randrange(1, 5000))), "numeric")
    if x < 0.85:
        return Arg(str(p[1] + s.rng.choice([CENT, 1, 10 ** 6])), "numeric", bad=True)
    return s.amount(p[1])


def op_place_order(s):
    """place_order, the platform's (H3); half the calls with a pay_no (shared
    by the sessions: they collide), repeated with the same arguments (the same
    order back) or with others (22023)."""
    r = s.rng
    p = r.choice(s.products) if s.products and r.random() < 0.9 else None
    pid = Arg(str(p[0]), "bigint") if p else s.product_id()
    buyer = Arg(str(r.randrange(1, 60)), "bigint") if r.random() < 0.9 else s.hostile_id()
    amount = order_amount(s, p)
    args, pay_no, repeat, differ = [pid, buyer, amount], None, None, False
    if r.random() < 0.5:
        if s.pay_seen and r.random() < 0.4:
            pay_no = r.choice(sorted(s.pay_seen))
            repeat = s.pay_seen[pay_no]
            rp, rb, ra, _ = repeat
            args = [Arg(rp, "bigint"), Arg(rb, "bigint"), Arg(ra, "numeric")]
            if r.random() < 0.4:            # differing arguments: 22023
                i, differ = r.randrange(3), True
                args[i] = Arg(str(int(rb) + (1 if int(rb) < BIG else -1)) if i == 1 else str(decimal.Decimal(ra) - CENT) if i == 2
                              else str(r.choice([x[0] for x in s.products if x[0] != norm_id(rp)] or [0])),
                              args[i].t)
        elif r.random() < 0.1:
            pay_no = r.choice(["", " ", "x" * 300, "\u202e", None])
        else:
            pay_no = "pay-%d-%d" % (s.shared["seed"], r.randrange(600))
        args.append(Arg(pay_no, "text"))
    ok, rows = s.call("place_order", "place_order", args)
    oid = rows[0][0] if ok and rows else None
    if repeat and not differ and not ok and s.last and s.last[1] == "22023":
        # the same payment again: the order must come back, unless it is gone (raw DELETE)
        cur = s.aux.cursor()
        cur.execute("SELECT product_id, buyer_id, amount FROM customorder.orders WHERE pay_no = %s",
                    [pay_no])
        row = cur.fetchone()
        if row and (row[0], row[1], decimal.Decimal(row[2])) == \
                (norm_id(repeat[0]), norm_id(repeat[1]), decimal.Decimal(repeat[2])):
            s.finding("H3: a repeated pay_no with the same arguments was refused", "place_order",
                      None, "place_order(%s, %s, %s, %r)" % (repeat[:3] + (pay_no,)), [], str(s.last))
    if oid is None:
        return
    if pay_no is not None:
        s.stats["checks"]["pay_no_repeats" if repeat else "pay_no_orders"] += 1
        if differ:
            cur = s.aux.cursor()
            cur.execute("SELECT 1 FROM customorder.orders WHERE order_id = %s", [repeat[3]])
            if cur.fetchone():
                s.finding("H3: a repeated pay_no with other arguments succeeded", "place_order", None,
                          "place_order(%s, %s, %s, %r)" % tuple([a.v for a in args]), [],
                          "order %s, first %s" % (oid, repeat))
        elif repeat and oid != repeat[3]:
            cur = s.aux.cursor()
            cur.execute("SELECT 1 FROM customorder.orders WHERE order_id = %s", [repeat[3]])
            if cur.fetchone():
                s.finding("H3: a repeated pay_no gave another order", "place_order", None,
                          "place_order(..., %r)" % pay_no, [], "order %s, before %s" % (oid, repeat[3]))
        s.log("pay", pay_no, args[0].v, args[1].v, str(args[2].v), oid)
        if not s.in_tx and pay_no:
            s.pay_seen[pay_no] = (args[0].v, args[1].v, str(args[2].v), oid)
    if oid not in s.orders:
        s.orders[oid] = ["paid", p[2] if p else None, p[1] if p else None, 0,
                         p[3] if p else None, int(args[1].v) if args[1].v else None]
        s.by_state.setdefault("paid", []).append(oid)
        s.max_order = max(s.max_order, oid)


def order_button(fn, states, extra=()):
    def op(s):
        oid = s.order_id(states)
        ok, rows = s.call(fn, fn, [oid] + [g(s) for g in extra])
        if ok and rows and oid.v is not None:
            s.note_order(int(oid.v), rows[0][0])
    op.wants = ("order", states)
    return op


def case_button(fn, states, extra=()):
    def op(s):
        cid = s.case_id(states)
        args = [cid] + [g(s, cid) for g in extra]
        ok, rows = s.call(fn, fn, args)
        if ok and rows and cid.v is not None:
            s.note_case(int(cid.v), rows[0][0])
            if fn in ("propose_refund_amount", "accept_refund_amount"):
                s.log(fn, int(cid.v), str(args[1].v))
    op.wants = ("case", states)
    return op


def op_accept_race(s):
    """H4: the buyer reads the proposal and accepts it while the merchant
    (another session) may re-propose in between: an accept of a stale amount
    must be refused (55000), and what is refunded is the amount named."""
    pool = s.case_by_state.get("negotiating") or []
    if not pool or s.in_tx:
        return
    cid = s.rng.choice(pool)
    cur = s.conn.cursor()
    cur.execute("SELECT a.proposed_amount, o.amount - o.refunded_amount FROM customorder.aftersales a "
                "JOIN customorder.orders o USING (order_id) WHERE a.aftersale_id = %s", [cid])
    row = cur.fetchone()
    if not row or row[0] is None:
        return
    seen, left = row
    reproposed = None
    if s.rng.random() < 0.6:
        other = s.rng.choice([CENT, (left / 3).quantize(CENT), left, seen + CENT, seen - CENT])
        ok, _ = s.run("propose_refund_amount(race)",
                      "SELECT customorder.propose_refund_amount(%s::bigint, %s::numeric)",
                      [Arg(str(cid), "bigint"), Arg(str(other), "numeric")], conn=s.aux)
        if ok:
            s.log("propose_refund_amount", cid, str(other))
            reproposed = other
    s.stats["checks"]["accept_races" if reproposed is not None else "accepts_read"] += 1
    args = [Arg(str(cid), "bigint"), Arg(str(seen), "numeric")]
    ok, rows = s.call("accept_refund_amount(race)", "accept_refund_amount", args)
    if ok:
        s.log("accept_refund_amount", cid, str(seen))
        if rows:
            s.note_case(cid, rows[0][0])
        if reproposed is not None and reproposed != seen:
            stale_accept(s, cid, seen, reproposed)


def stale_accept(s, cid, seen, reproposed):
    """The accept of what the buyer read succeeded after our re-proposal of
    another amount had committed.  Right only if another session proposed
    the accepted amount again in between (or declined and proposed it): the
    sessions' own logs are not ordered among themselves, so the case's
    customorder.events (V1, in the order of the case's row lock) decide.
    The accept must follow a proposal of `seen` that follows ours."""
    cur = s.aux.cursor()
    cur.execute("SELECT event_id, action, detail ? 'proposed_amount', (detail->>'proposed_amount')::numeric, "
                "detail::text FROM customorder.events WHERE aftersale_id = %s AND order_id IN "
                "(SELECT order_id FROM customorder.aftersales WHERE aftersale_id = %s) ORDER BY event_id",
                [cid, cid])
    events = cur.fetchall()
    accepts = [i for i, e in enumerate(events) if e[1] == "accept_refund_amount"]
    if accepts:
        props = [e for e in events[:accepts[-1]] if e[2]]     # what set or cleared proposed_amount
        ours = [i for i, e in enumerate(props) if e[3] == reproposed]
        if ours and props[-1][3] == seen and len(props) - 1 > ours[-1]:
            s.stats["checks"]["accepts_after_a_proposal_back"] += 1
            return
    s.finding("H4: an accept of a stale amount succeeded", "accept_refund_amount", None,
              "accept_refund_amount(%s, %s)" % (cid, seen), [],
              "re-proposed %s before; the case's events: %s" % (
                  reproposed, "; ".join("%s %s %s" % (e[0], e[1], e[4]) for e in events[-8:])))


op_accept_race.wants = ("case", ["negotiating"])


def pick_op(s, fns, weights):
    """A weighted random operation; one made for states no cached order or
    case is in is mostly picked again, so that calls follow the machines."""
    for _ in range(4):
        fn = s.rng.choices(fns, weights)[0]
        wants = getattr(fn, "wants", None)
        if wants is None or s.rng.random() < 0.25:
            return fn
        index = s.by_state if wants[0] == "order" else s.case_by_state
        if any(index.get(st) for st in wants[1]):
            return fn
    return fn


def op_view_custom_evidence(s):
    s.run("view_custom_evidence", "SELECT * FROM customorder.view_custom_evidence(%s::bigint)",
          [s.order_id(["in_production", "shipped", "signed", "evidence_review", "awaiting_evidence"])])


def op_review_evidence(s):
    approve = Arg(s.rng.choice([True, True, False, None]), "boolean")
    note = s.text(["ok", "blurry photos", "\u4e0d\u6e05\u6670"])
    if s.rng.random() < 0.1:
        # H8: a note is at most 500 characters (characters, not bytes)
        n = s.rng.choice([500, 501, 5000])
        note = Arg(s.rng.choice(["n", "\u00e9", "\u4e0d"]) * n, "text", bad=n > 500)
    oid = s.order_id(["evidence_review"])
    ok, rows = s.call("review_evidence", "review_evidence", [oid, approve, note])
    if ok and rows and oid.v is not None:
        s.note_order(int(oid.v), rows[0][0])


op_review_evidence.wants = ("order", ["evidence_review"])


def op_request_refund(s):
    oid = s.order_id(["paid", "awaiting_evidence", "evidence_review", "in_production",
                      "shipped", "signed"])
    st = s.orders.get(int(oid.v), [None])[0] if oid.v and oid.v.lstrip("-").isdigit() else None
    before_shipment = st in ("paid", "awaiting_evidence", "evidence_review", "in_production")
    if s.rng.random() < 0.9:
        kind = s.text(["refund_only"] if before_shipment else KINDS)
    else:
        kind = s.text(KINDS + ["exchange", "REFUND_ONLY"])
    reason = s.text(REASONS if s.rng.random() < 0.95 else REASONS + ["bored", "No_Reason"])
    ok, rows = s.call("request_refund", "request_refund", [oid, kind, reason])
    if ok and rows and rows[0][0] is not None:
        s.note_case(rows[0][0], "requested", int(oid.v))
        s.max_case = max(s.max_case, rows[0][0])


def comm_reason(s, cid):
    st = s.case_order_state(cid)
    r = s.rng.random()
    if st in ("shipped", "signed") and r < 0.85:
        return Arg(s.rng.choice(COMM_REASONS), "text")
    if st not in ("shipped", "signed") and r < 0.85:
        return Arg(None, "text")
    return s.text(COMM_REASONS + ["not_shipped", "IN_TRANSIT"])


def reject_reason(s, cid):
    st = s.case_order_state(cid)
    r = s.rng.random()
    if st == "shipped" and r < 0.8:
        return Arg("in_transit", "text")
    if st == "signed" and r < 0.8:
        return Arg("signed_no_reason", "text")
    if st not in ("shipped", "signed") and r < 0.8:
        return Arg(None, "text")
    return s.text(REJECT_REASONS + ["no_reason", "quality"])


def refund_amount(s, cid):
    c = s.cases.get(int(cid.v)) if cid.v and cid.v.lstrip("-").isdigit() else None
    o = s.orders.get(c[0]) if c else None
    good = None
    if o and o[2] is not None:
        left = o[2] - (o[3] or 0)
        good = s.rng.choice([left, (left / 2).quantize(decimal.Decimal("0.01")), "0.01", left + 1])
    return s.amount(good)


def arbitrated_amount(s, cid):
    """P3: 0 upholds; otherwise mostly an amount still refundable."""
    if s.rng.random() < 0.3:
        return Arg("0", "numeric")
    return refund_amount(s, cid)


def accepted_amount(s, cid):
    """H4: mostly the case's current proposal, as the buyer saw it."""
    good = None
    if cid.v and cid.v.isdigit() and len(cid.v) < 18 and s.rng.random() < 0.8:
        try:
            cur = s.conn.cursor()
            cur.execute("SELECT proposed_amount FROM customorder.aftersales WHERE aftersale_id = %s",
                        [int(cid.v)])
            r = cur.fetchone()
            good = r[0] if r else None
        except psycopg2.Error:
            good = None
    return s.amount(good)


def op_query(fn, idgen):
    def op(s):
        s.run(fn, "SELECT * FROM customorder.%s(%%s::bigint)" % fn, [idgen(s)])
    return op


def op_transitions(s):
    s.run("transitions", "SELECT * FROM customorder.transitions()", [])


def op_approve(s):
    shop = Arg(str(s.rng.choice(s.shops)), "bigint") if s.shops and s.rng.random() < 0.8 else s.hostile_id()
    cat = Arg(str(s.rng.choice(s.cats)), "bigint") if s.cats and s.rng.random() < 0.8 else s.hostile_id()
    s.call("approve_custom_category", "approve_custom_category", [shop, cat], "::text")


# -- bound roles (H5, H6) ---------------------------------------------------

def op_rls(s):
    """Row security under the acting identity: only its own orders and cases."""
    role, kind, ids, who = s.acting
    col = "shop_id" if kind == "merchant" else "buyer_id"
    ok, rows = s.run("rls_read", "SELECT (SELECT count(*) FROM customorder.orders), "
                     "(SELECT count(*) FROM customorder.orders WHERE %s IS DISTINCT FROM %%s::bigint), "
                     "(SELECT count(*) FROM customorder.aftersales)" % col,
                     [Arg(str(who), "bigint")], kind="query")
    if ok and rows:
        n, foreign, cases = rows[0]
        s.stats["checks"]["rls_reads"] += 1
        if foreign or (who not in ids and (n or cases)):
            s.finding("H5: row security shows another's rows", "rls_read", None, "SELECT ... orders", [],
                      "acting %s %s (ids %s): %d orders, %d another's, %d cases" % (kind, who, ids, n,
                                                                                      foreign, cases))


def op_bound(s):
    """Press as a bound merchant or buyer role (SET ROLE, SET LOCAL
    customorder.shop_id / buyer_id), mostly for one of its ids, else for
    another shop or buyer or a missing one: outside its ids every press is
    42501 and row security shows nothing; no refusal names another id."""
    if s.in_tx or not s.shared["roles"]:
        return
    r = s.rng
    role, kind, ids = r.choice(s.shared["roles"])
    if r.random() < 0.7:
        who = r.choice(ids)
    elif kind == "merchant":
        who = r.choice([x for x in s.shops if x not in ids] + [10 ** 6])
    else:
        who = r.choice([x for x in range(1, 60) if x not in ids] + [10 ** 6])
    s.begin()
    s.acting = (role, kind, ids, who)
    cur = s.conn.cursor()
    cur.execute("SET LOCAL ROLE %s" % role)
    cur.execute("SET LOCAL customorder.%s = %%s" % ("shop_id" if kind == "merchant" else "buyer_id"),
                [str(who)])
    table = BOUND_OPS[kind] if r.random() < 0.9 else FOREIGN_OPS[kind]
    for _ in range(r.randrange(1, 4)):
        if s.conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_INTRANS:
            break
        fn = r.choice(table)
        if table is not BOUND_OPS[kind]:
            # the other kind's or the platform's button: refused (42501) whoever it is for
            fn(s)
            if s.last and s.last[0]:
                s.finding("H5: a %s role pressed another kind's button" % kind, fn.name, None, "", [], "")
            continue
        fn(s)
    s.end(r.random() < 0.5)


def op_long_tx(s):
    """H1/H2: a transaction opened, a read, a wait while another session (on
    the wall clock) presses on the same order, then a press: its stamps are
    the moment of the change and never before the order's latest (verify()
    checks the chain).  Sometimes REPEATABLE READ (40001 is transient)."""
    if s.in_tx:
        return
    r = s.rng
    pool = [o for st in ("paid", "awaiting_evidence", "in_production", "shipped", "signed")
            for o in s.by_state.get(st, ())]
    if not pool:
        return
    oid = r.choice(pool)
    iso = "REPEATABLE READ" if r.random() < 0.3 else None
    wall = r.random() < 0.7     # mostly on the wall clock
    s.begin(iso, wall=wall)
    s.run("long_tx_read", "SELECT customorder.now(), (SELECT count(*) FROM customorder.refund_eligibility(%s))",
          [Arg(str(oid), "bigint")], kind="query")
    s.wait(r.choice([0.01, 0.05, 0.2, 0.5]))
    s.stats["checks"]["long_transactions"] += 1
    if r.random() < 0.8:
        press_on(s, oid, s.aux, "(other session)")
    if s.conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INTRANS:
        press_on(s, oid, None, "(long tx)")
    s.end(r.random() < 0.8)


def press_on(s, oid, conn, tag):
    """One order button (or its open case's) on order oid."""
    r = s.rng
    o = Arg(str(oid), "bigint")
    x = r.randrange(7)
    if x == 0:
        sql, args, name = "SELECT customorder.start_customization(%s::bigint)", [o], "start_customization"
    elif x == 1:
        sql, args, name = "SELECT customorder.ship(%s::bigint, %s::text)", [o, Arg("SF%d" % oid, "text")], "ship"
    elif x == 2:
        sql, args, name = "SELECT customorder.mark_signed(%s::bigint)", [o], "mark_signed"
    elif x == 3:
        st = s.orders.get(oid, [None])[0]
        sql, args, name = "SELECT customorder.request_refund(%s::bigint, %s::text, %s::text)", \
            [o, Arg("refund_only" if st not in ("shipped", "signed") else r.choice(KINDS), "text"),
             Arg(r.choice(REASONS), "text")], "request_refund"
    else:
        fn, extra = r.choice([("agree_refund", []), ("insist_reject", []), ("withdraw_refund", []),
                              ("communicate", [Arg(r.choice(COMM_REASONS), "text")]),
                              ("insist_ship", [Arg("YT%d" % oid, "text")])])
        sql = "SELECT customorder.%s((SELECT open_aftersale_id FROM customorder.orders WHERE order_id = %%s::bigint)%s)" \
            % (fn, "".join(", %%s::%s" % a.t for a in extra))
        args, name = [o] + extra, fn
    s.run(name + tag, sql, args, conn=conn)


# -- raw DML ----------------------------------------------------------------

def raw(s, op, sql, args):
    return s.run(op, sql, args, kind="raw")


def op_raw_order_state(s):
    st = s.rng.choice(ORDER_STATES)
    a = Arg(st, "customorder.order_state") if s.rng.random() < 0.97 else \
        Arg(s.rng.choice(["bogus", "", "PAID"]), "customorder.order_state", pre=True)
    raw(s, "raw_order_state", "UPDATE customorder.orders SET state = %s::customorder.order_state "
        "WHERE order_id = %s::bigint", [a, s.order_id(ORDER_STATES)])


def op_raw_order_column(s):
    r = s.rng
    col, val = r.choice([
        ("tracking_no", lambda: s.tracking()),
        ("refunded_amount", lambda: s.amount(r.choice(["0", "1.00", "99999.99"]))),
        ("amount", lambda: s.amount("1.00")),
        ("paid_at", s.timestamp), ("custom_started_at", s.timestamp),
        ("shipped_at", s.timestamp), ("signed_at", s.timestamp), ("ship_by", s.timestamp),
        ("closed_at", s.timestamp),
        ("is_custom", lambda: Arg(r.choice([True, False, None]), "boolean")),
        ("evidence_bundle_id", lambda: s.hostile_id(s.orders)),
        ("open_aftersale_id", lambda: s.case_id(OPEN_CASE)),
        ("buyer_id", lambda: s.hostile_id()),
        ("shop_id", lambda: Arg(str(r.choice(s.shops or [1])), "bigint")),
        ("product_id", lambda: s.product_id()),
        ("start_lock", lambda: Arg(r.choice(["0", "-1 hour", "100 years", None]), "interval")),
        ("high_score_threshold", lambda: Arg(r.choice(["0", "9.99", None]), "numeric")),
        ("evidence_review", lambda: Arg(r.choice([True, False, None]), "boolean")),
    ])
    v = val()
    if col in ("refunded_amount", "amount", "high_score_threshold"):
        v = Arg(v.v, "numeric(12,2)" if col != "high_score_threshold" else "numeric(3,2)", pre=True)
    raw(s, "raw_order_" + col, "UPDATE customorder.orders SET %s = %%s::%s WHERE order_id = %%s::bigint"
        % (col, v.t), [v, s.order_id(ORDER_STATES)])


def op_raw_order_insert(s):
    r = s.rng
    p = r.choice(s.products) if s.products else (1, "1.00", False)
    cols, args = ["product_id", "buyer_id", "amount"], [
        Arg(str(p[0]), "bigint"), Arg(str(r.randrange(1, 60)), "bigint"),
        Arg(str(p[1]), "numeric(12,2)")]
    for col, gen in (("state", lambda: Arg(r.choice(ORDER_STATES), "customorder.order_state")),
                     ("paid_at", s.timestamp), ("is_custom", lambda: Arg(r.choice([True, False]), "boolean")),
                     ("custom_started_at", s.timestamp), ("refunded_amount", lambda: Arg("1.00", "numeric(12,2)")),
                     ("shop_id", lambda: Arg(str(r.choice(s.shops or [1])), "bigint"))):
        if r.random() < 0.15:
            cols.append(col)
            args.append(gen())
    raw(s, "raw_order_insert", "INSERT INTO customorder.orders (%s) VALUES (%s)"
        % (", ".join(cols), ", ".join("%%s::%s" % a.t for a in args)), args)


def op_raw_order_delete(s):
    raw(s, "raw_order_delete", "DELETE FROM customorder.orders WHERE order_id = %s::bigint",
        [s.order_id(ORDER_STATES)])


def op_raw_product(s):
    r = s.rng
    if r.random() < 0.5 or not s.products:
        args = [Arg(str(r.choice(s.shops or [1])), "bigint"), Arg(str(r.choice(s.cats or [1])), "bigint"),
                s.text(["fuzz product"], null_ok=False), Arg(r.choice(["1.00", "5000.00"]), "numeric(12,2)"),
                Arg(r.choice([True, True, False, None]), "boolean"),
                Arg(r.choice(["48 hours", "7 days", "15 days", "3 days", "0", None, "-7 days"]), "interval")]
        ok, _ = raw(s, "raw_product_insert", "INSERT INTO customorder.products "
                    "(shop_id, category_id, title, price, is_custom, promised_ship) VALUES "
                    "(%s::bigint, %s::bigint, %s::text, %s::numeric(12,2), %s::boolean, %s::interval)", args)
    else:
        col, v = r.choice([("is_custom", Arg(r.choice([True, False]), "boolean")),
                           ("promised_ship", Arg(r.choice(["7 days", "1 day", None]), "interval")),
                           ("category_id", Arg(str(r.choice(s.cats or [1])), "bigint")),
                           ("shop_id", Arg(str(r.choice(s.shops or [1])), "bigint"))])
        raw(s, "raw_product_update", "UPDATE customorder.products SET %s = %%s::%s WHERE product_id = %%s::bigint"
            % (col, v.t), [v, s.product_id()])


def bundle_ref(s):
    if s.bundles and s.rng.random() < 0.85:
        o, b, _ = s.rng.choice(s.bundles)
        return Arg(str(o), "bigint"), Arg(str(b), "bigint")
    return s.order_id(ORDER_STATES), s.hostile_id()


def op_raw_bundle_insert(s):
    r = s.rng
    args = [s.order_id(["awaiting_evidence", "in_production", "shipped", "signed"]),
            Arg(r.choice(PURPOSES + ["bogus"]), "text")]
    cols = ["order_id", "purpose"]
    for col, gen in (("aftersale_id", lambda: s.case_id(OPEN_CASE)), ("submitted_at", s.timestamp),
                     ("image_count", lambda: Arg(r.choice(["-5", "0", "11"]), "integer")),
                     ("review_state", lambda: Arg(r.choice(["pending", "approved", "rejected"]), "text"))):
        if r.random() < 0.2:
            cols.append(col)
            args.append(gen())
    n = r.randrange(0, 13)
    if n == 0:
        raw(s, "raw_bundle_insert", "INSERT INTO customorder.evidence_bundles (%s) VALUES (%s)"
            % (", ".join(cols), ", ".join("%%s::%s" % a.t for a in args)), args)
        return
    kind = r.choice(["image", "image", "video"])
    args += [Arg(kind, "text"), Arg("%s/x" % kind if r.random() < 0.9 else "text/plain", "text"),
             Arg(str(r.choice([1000, 10485760, 10485761, 157286400, 157286401])), "bigint"),
             Arg("https://raw.example/%s/%d/" % (s.name, r.randrange(1 << 30)), "text"),
             Arg(str(n), "integer")]
    raw(s, "raw_bundle_with_items",
        "WITH b AS (INSERT INTO customorder.evidence_bundles (%s) VALUES (%s) RETURNING order_id, bundle_id) "
        "INSERT INTO customorder.evidence_items (order_id, bundle_id, type, mime, bytes, uri) "
        "SELECT order_id, bundle_id, %%s::text, %%s::text, %%s::bigint, %%s::text || g "
        "FROM b, generate_series(1, %%s::integer) g"
        % (", ".join(cols), ", ".join("%%s::%s" % a.t for a in args[:len(cols)])), args)


def op_raw_item_insert(s):
    r = s.rng
    o, b = bundle_ref(s)
    if r.random() < 0.5:
        # a plausible item
        args = [o, b, Arg("image", "text"), Arg("image/png", "text"), Arg(str(r.randrange(1, 10485761)), "bigint"),
                Arg("https://raw.example/ok/%s/%d" % (s.name, r.randrange(1 << 40)), "text")]
        if r.random() < 0.15:
            # H8 on raw DML too (the item trigger): a bad mime or a control in the uri
            if r.random() < 0.5:
                args[3] = Arg(r.choice(["image/PNG", "image/png\n", "text/plain", "image/"]), "text", bad=True)
            else:
                args[5] = Arg(args[5].v + r.choice(["\u202e", "\x01", "\u2066", "\u0085"]), "text", bad=True)
        raw(s, "raw_item_insert_ok", "INSERT INTO customorder.evidence_items (order_id, bundle_id, type, mime, "
            "bytes, uri) VALUES (%s::bigint, %s::bigint, %s::text, %s::text, %s::bigint, %s::text)", args)
        return
    kind = r.choice(["image", "video", "audio", None])
    args = [o, b, Arg(kind, "text"),
            Arg(r.choice(["image/png", "video/mp4", "image/", "", None]), "text"),
            Arg(str(r.choice([1, 1000, 10485760, 10485761, 157286401, 0, -1, BIG])), "bigint"),
            Arg(r.choice(["https://raw.example/i/%d" % r.randrange(1 << 30), "https://raw.example/dup",
                          "", "z" * 2049, "\U0001F600\u200f"]), "text"),
            Arg(r.choice([None, None, "%064x" % r.getrandbits(256), "%064x" % 9, "nothex"]), "text")]
    cols = "order_id, bundle_id, type, mime, bytes, uri, sha256"
    if r.random() < 0.2:
        cols += ", item_no"
        args.append(Arg(str(r.choice([1, 2, 11, 0, -1, 2147483647])), "integer"))
    raw(s, "raw_item_insert", "INSERT INTO customorder.evidence_items (%s) VALUES (%s)"
        % (cols, ", ".join("%%s::%s" % a.t for a in args)), args)


def op_raw_item_change(s):
    o, b = bundle_ref(s)
    if s.rng.random() < 0.5:
        col, v = s.rng.choice([("bytes", Arg("1", "bigint")), ("uri", Arg("https://raw.example/changed", "text")),
                               ("type", Arg("video", "text")), ("bundle_id", s.hostile_id()),
                               ("item_no", Arg("99", "integer"))])
        raw(s, "raw_item_update", "UPDATE customorder.evidence_items SET %s = %%s::%s "
            "WHERE order_id = %%s::bigint AND bundle_id = %%s::bigint" % (col, v.t), [v, o, b])
    else:
        raw(s, "raw_item_delete", "DELETE FROM customorder.evidence_items "
            "WHERE order_id = %s::bigint AND bundle_id = %s::bigint", [o, b])


def op_raw_bundle_change(s):
    o, b = bundle_ref(s)
    if s.rng.random() < 0.6:
        col, v = s.rng.choice([("submitted_at", s.timestamp()), ("image_count", Arg("0", "integer")),
                               ("video_count", Arg("-1", "integer")),
                               ("review_state", Arg(s.rng.choice(["approved", "rejected", "pending", None]), "text")),
                               ("purpose", Arg(s.rng.choice(PURPOSES), "text")),
                               ("aftersale_id", s.case_id(OPEN_CASE)), ("order_id", s.order_id(ORDER_STATES))])
        raw(s, "raw_bundle_update", "UPDATE customorder.evidence_bundles SET %s = %%s::%s "
            "WHERE order_id = %%s::bigint AND bundle_id = %%s::bigint" % (col, v.t), [v, o, b])
    else:
        raw(s, "raw_bundle_delete", "DELETE FROM customorder.evidence_bundles "
            "WHERE order_id = %s::bigint AND bundle_id = %s::bigint", [o, b])


def op_raw_case_insert(s):
    r = s.rng
    args = [s.order_id(["in_production", "shipped", "signed", "paid"]),
            s.text(KINDS, null_ok=True), s.text(REASONS, null_ok=True),
            Arg(r.choice(CASE_STATES + ["requested"] * 4), "customorder.aftersale_state"),
            s.timestamp() if r.random() < 0.3 else Arg(s.shared["clock"].time().isoformat(), "timestamptz"),
            Arg(r.choice([None, None, "1.00", "0.01", "99999.99"]), "numeric(12,2)")]
    # a case created by raw SQL records its order in case_orders, as
    # request_refund() does (else verify() reports the missing row)
    raw(s, "raw_case_insert", "WITH c AS (INSERT INTO customorder.aftersales "
        "(order_id, kind, reason, state, requested_at, refund_amount) VALUES "
        "(%s::bigint, %s::text, %s::text, %s::customorder.aftersale_state, %s::timestamptz, %s::numeric(12,2)) "
        "RETURNING aftersale_id, order_id) "
        "INSERT INTO customorder.case_orders (aftersale_id, order_id) SELECT aftersale_id, order_id FROM c",
        args)


def op_raw_case_change(s):
    r = s.rng
    cid = s.case_id(OPEN_CASE + ["rejected", "refunded"])
    x = r.random()
    if x < 0.85:
        col, v = r.choice([
            ("state", Arg(r.choice(CASE_STATES), "customorder.aftersale_state")),
            ("state", Arg(r.choice(CASE_STATES), "customorder.aftersale_state")),
            ("refund_amount", Arg(r.choice(["1.00", "0.01", "99999.99", None]), "numeric(12,2)")),
            ("proposed_amount", Arg(r.choice(["1.00", "99999.99", None]), "numeric(12,2)")),
            ("comm_reason", s.text(COMM_REASONS)), ("reject_reason", s.text(REJECT_REASONS)),
            ("communicated_at", s.timestamp()), ("proof_bundle_id", s.hostile_id()),
            ("reason", s.text(REASONS)), ("kind", s.text(KINDS)), ("order_id", s.order_id(ORDER_STATES))])
        ok, _ = raw(s, "raw_case_" + col,
                    "UPDATE customorder.aftersales SET %s = %%s::%s WHERE aftersale_id = %%s::bigint"
                    % (col, v.t), [v, cid])
        # a raw proposed_amount the rules took is the raw form of
        # propose_refund_amount (its event says so): the buyer may accept it
        if ok and col == "proposed_amount" and v.v is not None and cid.v and cid.v.isdigit() \
                and len(cid.v) < 18:
            s.log("propose_refund_amount", int(cid.v), str(v.v))
    else:
        raw(s, "raw_case_delete", "DELETE FROM customorder.aftersales WHERE aftersale_id = %s::bigint", [cid])


def op_raw_config(s):
    r = s.rng
    if r.random() < 0.5 and s.shops:
        raw(s, "raw_shop_score", "UPDATE customorder.shops SET service_score = %s::numeric(3,2) "
            "WHERE shop_id = %s::bigint",
            [Arg(r.choice(["4.80", "4.79", "4.81", "0", "5.00", None]), "numeric(3,2)"),
             Arg(str(r.choice(s.shops)), "bigint")])
    elif s.cats:
        col, v = r.choice([("start_lock", Arg(r.choice(["0", "1 hour", "2 days"]), "interval")),
                           ("evidence_review", Arg(r.choice([True, False]), "boolean")),
                           ("high_score_threshold", Arg(r.choice(["4.80", "4.50", "5.00"]), "numeric(3,2)")),
                           ("ship_promise_options", Arg("{48 hours,7 days}", "interval[]"))])
        raw(s, "raw_category_" + col, "UPDATE customorder.categories SET %s = %%s::%s WHERE category_id = %%s::bigint"
            % (col, v.t), [v, Arg(str(r.choice(s.cats)), "bigint")])


def op_raw_truncate(s):
    # TRUNCATE takes an exclusive lock: bounded by lock_timeout (55P03 is transient)
    if s.in_tx:
        return
    s.begin()
    s.conn.cursor().execute("SET LOCAL lock_timeout = '200ms'")
    raw(s, "raw_truncate", "TRUNCATE %s" % s.rng.choice(
        ["customorder.evidence_items", "customorder.evidence_items, customorder.evidence_bundles",
         "customorder.evidence_bundles CASCADE"]), [])
    s.end(False)


# -- clock ------------------------------------------------------------------

def op_clock(s):
    r = s.rng
    x = r.random()
    if x < 0.04:
        s.run("clock_bad", "SET customorder.clock = %s", [Arg(r.choice(
            ["not a time", "infinity", "-infinity", "2030-02-30", "epoch", "allballs",
             "10000000-01-01"]), "text")], kind="clock", fetch=False)
        return
    if s.in_tx:
        # this session moves time between its transactions only
        s.run("clock_read", "SELECT customorder.now()", [], kind="clock")
        return
    if x < 0.08:
        # an ordinary role may not move time: 42501
        s.begin()
        s.conn.cursor().execute("SET LOCAL ROLE customorder_fuzz_nopriv")
        s.run("clock_unprivileged", "SET customorder.clock = %s",
              [Arg(s.shared["clock"].time().isoformat(), "text")], kind="clock", fetch=False)
        s.end(False)
        return
    if x < 0.10:
        moved = s.shared["clock"].move(None)        # RESET, when real time is ahead
        name = "clock_reset"
    else:
        step = r.choice([(60, 60)] * 6 + [(3600, 24)] * 3 + [(86400, 8)])
        step = step[0] * r.randrange(1, step[1])
        moved = s.shared["clock"].move(step)
        name = "clock_forward"
    # the SET (or RESET) itself is made by run() (sync_clock)
    s.run(name if moved else "clock_read", "SELECT customorder.now()", [], kind="clock")


def OPS():
    any_order = lambda s: s.order_id(ORDER_STATES)
    return [
        # (weight, name, function)
        (10, op_place_order),
        (8, order_button("start_customization", ["paid"])),
        (7, order_button("submit_custom_evidence", ["awaiting_evidence"], [lambda s: s.items_arg()])),
        (3, op_view_custom_evidence),
        (4, op_review_evidence),
        (7, order_button("ship", ["in_production", "paid"], [lambda s: s.tracking()])),
        (6, order_button("mark_signed", ["shipped"])),
        (8, op_request_refund),
        (2, case_button("withdraw_refund", OPEN_CASE)),
        (3, case_button("agree_refund", OPEN_CASE)),
        (5, case_button("insist_reject", ["requested"])),
        (6, case_button("communicate", ["rejecting", "communicating"], [comm_reason])),
        (5, case_button("continue_reject", ["communicating"], [reject_reason, lambda s, c: s.items_arg()])),
        (3, case_button("insist_ship", ["communicating", "rejecting"], [lambda s, c: s.tracking()])),
        (4, case_button("propose_refund_amount", ["negotiating"], [refund_amount])),
        (3, case_button("accept_refund_amount", ["negotiating"], [accepted_amount])),
        (3, op_accept_race),
        (2, case_button("decline_refund_amount", ["negotiating"])),
        (4, case_button("supplement_evidence", ["awaiting_buyer_evidence"], [lambda s, c: s.items_arg()])),
        (4, case_button("ship_return", ["awaiting_return"], [lambda s, c: s.tracking()])),
        (3, case_button("confirm_return", ["return_shipped", "awaiting_return"])),
        (3, case_button("refuse_return", ["return_shipped", "awaiting_return"],
                        [lambda s, c: s.text(RETURN_REASONS + ["no_reason"]), lambda s, c: s.items_arg()])),
        (4, case_button("escalate", ["rejected"],
                        [lambda s, c: s.text(["the goods are broken", "\u4e0d\u6ee1\u610f", "x" * 501])])),
        (3, case_button("submit_arbitration_evidence", ["arbitration"], [lambda s, c: s.items_arg()])),
        (4, case_button("arbitrate", ["arbitration", "upheld"],
                        [arbitrated_amount, lambda s, c: s.text(["ruled", "\u5e73\u53f0\u88c1\u51b3"])])),
        (3, op_query("refund_eligibility", any_order)),
        (3, op_query("order_buttons", any_order)),
        (1, op_query("product_badges", lambda s: s.product_id())),
        (0.3, op_transitions),
        (0.5, op_approve),
        (4, op_raw_order_state),
        (3, op_raw_order_column),
        (1, op_raw_order_insert),
        (0.5, op_raw_order_delete),
        (1, op_raw_product),
        (2, op_raw_bundle_insert),
        (2, op_raw_item_insert),
        (1.5, op_raw_item_change),
        (1.5, op_raw_bundle_change),
        (1.5, op_raw_case_insert),
        (3, op_raw_case_change),
        (0.5, op_raw_config),
        (0.05, op_raw_truncate),
        (4, op_clock),
        (4, op_bound),
        (1.5, op_long_tx),
    ]


def named(name, fn):
    fn.name = name
    return fn


_any_order = lambda s: s.order_id(ORDER_STATES)
# what a bound role presses: its own kind's buttons and the common queries ...
BOUND_OPS = {
    "merchant": [
        named("start_customization", order_button("start_customization", ["paid"])),
        named("submit_custom_evidence", order_button("submit_custom_evidence", ["awaiting_evidence"],
                                                     [lambda s: s.items_arg()])),
        named("ship", order_button("ship", ["in_production", "paid"], [lambda s: s.tracking()])),
        named("agree_refund", case_button("agree_refund", OPEN_CASE)),
        named("insist_reject", case_button("insist_reject", ["requested"])),
        named("communicate", case_button("communicate", ["rejecting", "communicating"], [comm_reason])),
        named("continue_reject", case_button("continue_reject", ["communicating"],
                                             [reject_reason, lambda s, c: s.items_arg()])),
        named("insist_ship", case_button("insist_ship", ["communicating", "rejecting"],
                                         [lambda s, c: s.tracking()])),
        named("propose_refund_amount", case_button("propose_refund_amount", ["negotiating"], [refund_amount])),
        named("order_buttons", op_query("order_buttons", _any_order)),
        named("refund_eligibility", op_query("refund_eligibility", _any_order)),
        named("view_custom_evidence", op_view_custom_evidence),
        named("rls_read", op_rls), named("rls_read", op_rls),
    ],
    "buyer": [
        named("request_refund", op_request_refund),
        named("withdraw_refund", case_button("withdraw_refund", OPEN_CASE)),
        named("accept_refund_amount", case_button("accept_refund_amount", ["negotiating"], [accepted_amount])),
        named("decline_refund_amount", case_button("decline_refund_amount", ["negotiating"])),
        named("supplement_evidence", case_button("supplement_evidence", ["awaiting_buyer_evidence"],
                                                 [lambda s, c: s.items_arg()])),
        named("refund_eligibility", op_query("refund_eligibility", _any_order)),
        named("view_custom_evidence", op_view_custom_evidence),
        named("rls_read", op_rls), named("rls_read", op_rls),
    ],
}
# ... and, now and then, the other kind's or the platform's buttons: refused
_platform = [named("place_order", op_place_order), named("review_evidence", op_review_evidence),
             named("mark_signed", order_button("mark_signed", ["shipped"]))]
FOREIGN_OPS = {
    "merchant": [f for f in BOUND_OPS["buyer"][:5]] + _platform,
    "buyer": [f for f in BOUND_OPS["merchant"][:9]] + _platform,
}


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

def worker(idx, args, shared, queue):
    stats = new_stats()
    name = "w%d" % idx
    try:
        rng = random.Random("%d:%d" % (args.seed, idx))
        s = Session(args.db, rng, stats, shared, name)
        ops = OPS()
        weights = [w for w, _ in ops]
        fns = [f for _, f in ops]
        quota = shared["quota"][idx]
        deadline = shared["deadline"]
        # what a waiting long transaction's session calls meanwhile: anything but another wait
        s.filler = ([f for f in fns if f is not op_long_tx], [w for w, f in ops if f is not op_long_tx], quota)
        since_refresh = 999
        while (quota is None or s.made < quota) and (deadline is None or time.time() < deadline):
            if since_refresh > 30:
                try:
                    s.refresh()
                except psycopg2.OperationalError as e:
                    if e.pgcode is None:
                        s.lost(e)
                        continue
                    raise
                except psycopg2.Error:
                    pass
                since_refresh = 0
            try:
                if rng.random() < 0.06:
                    # 2-5 calls in one transaction, then COMMIT or ROLLBACK
                    s.begin()
                    stats["tx_multi"] += 1
                    n = rng.randrange(2, 6)
                    for _ in range(n):
                        before = stats["ok"]
                        pick_op(s, fns, weights)(s)
                        s.made += 1
                        if s.conn.closed or not s.in_tx:
                            break
                        if stats["ok"] == before:   # the transaction is aborted
                            break
                    if s.in_tx:
                        commit = rng.random() < 0.6 and s.conn.get_transaction_status() == \
                            psycopg2.extensions.TRANSACTION_STATUS_INTRANS
                        if not commit:
                            stats["tx_rolled_back"] += 1
                        s.end(commit)
                else:
                    pick_op(s, fns, weights)(s)
                    s.made += 1
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                if s.conn.closed or getattr(e, "pgcode", None) is None:
                    s.lost(e)
                else:
                    raise
            since_refresh += 1
    except Exception:
        stats["worker_error"] = "%s: %s" % (name, traceback.format_exc())
    queue.put(stats)


# ---------------------------------------------------------------------------
# Set-up, server log, verify(), report
# ---------------------------------------------------------------------------

def setup(args):
    admin = connect(os.environ.get("PGDATABASE") or "postgres")
    cur = admin.cursor()
    cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % args.db)
    cur.execute("CREATE DATABASE %s" % args.db)
    for role in ["customorder_fuzz_nopriv"] + [r for r, _, _ in BOUND_ROLES]:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if not cur.fetchall():
            try:
                cur.execute("CREATE ROLE %s NOLOGIN" % role)
            except psycopg2.errors.DuplicateObject:
                pass
    admin.close()

    conn = connect(args.db)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION customorder")
    cur.execute("GRANT USAGE ON SCHEMA customorder TO customorder_fuzz_nopriv")
    # the hostile blobs a call reads on the server instead of receiving them (see HUGE_ITEMS_SQL)
    cur.execute("CREATE TABLE public.fuzz_blobs (name text PRIMARY KEY, j jsonb NOT NULL)")
    cur.execute("INSERT INTO public.fuzz_blobs VALUES ('huge_items', %s::jsonb)", [huge_items()])
    cur.execute("GRANT SELECT ON public.fuzz_blobs TO PUBLIC")
    # the clock starts years in the past, so that RESET (real time) moves it forward
    cur.execute("SELECT date_trunc('second', now()) - interval '10 years'")
    base = cur.fetchone()[0]
    cur.execute("SET customorder.clock = %s", (base.isoformat(),))
    cur.execute("""
        INSERT INTO customorder.categories (name, custom_enabled, start_lock, evidence_review,
                                            high_score_threshold, ship_promise_options) VALUES
          ('whole-house', true, '1 hour', false, 4.80, '{48 hours,7 days,15 days}'),
          ('glasses', true, '2 hours', false, 4.80, '{48 hours,7 days}'),
          ('tailoring', true, '1 hour', true, 4.80, '{7 days,15 days}'),
          ('instant', true, '0', true, 4.80, '{48 hours}'),
          ('slow-lock', true, '3 days', false, 4.50, '{15 days}'),
          ('kitchenware', false, '1 hour', false, 4.80, '{48 hours,7 days,15 days}')""")
    cur.execute("""
        INSERT INTO customorder.shops (name, service_score) VALUES
          ('high', 4.95), ('edge', 4.80), ('low', 4.79), ('unscored', NULL),
          ('zero', 0.00), ('top', 5.00), ('just-above', 4.81)""")
    cur.execute("SELECT shop_id, name FROM customorder.shops")
    shops = dict((n, i) for i, n in cur.fetchall())
    cur.execute("SELECT category_id, name, custom_enabled, ship_promise_options::text[] "
                "FROM customorder.categories")
    cats = {n: (i, ce, opts) for i, n, ce, opts in cur.fetchall()}
    products = []
    for sn, sid in sorted(shops.items()):
        for cn, (cid, ce, opts) in sorted(cats.items()):
            approved = ce and not (sn == "edge" and cn == "glasses") and not (sn == "zero" and cn == "slow-lock")
            if approved:
                cur.execute("SELECT customorder.approve_custom_category(%s, %s)", (sid, cid))
            if approved:
                cur.execute("INSERT INTO customorder.products (shop_id, category_id, title, price, is_custom,"
                            " promised_ship) VALUES (%s, %s, %s, %s, true, %s::interval) RETURNING product_id",
                            (sid, cid, "custom %s %s" % (sn, cn), "%d.00" % (100 + 37 * sid + cid), opts[-1]))
                products.append(cur.fetchone()[0])
            cur.execute("INSERT INTO customorder.products (shop_id, category_id, title, price) "
                        "VALUES (%s, %s, %s, 59.90) RETURNING product_id", (sid, cid, "plain %s %s" % (sn, cn)))
            products.append(cur.fetchone()[0])
    # H5: merchant and buyer roles bound to some shops and buyers
    roles = []
    for role, kind, pick in BOUND_ROLES:
        ids = pick(shops)
        cur.execute("SELECT customorder.grant_%s(%%s::regrole, %%s::bigint[])" % kind, [role, ids])
        roles.append((role, kind, ids))
    conn.close()
    return base, roles


# (role, kind, its ids from the shops' ids by name); buyers are 1-59
BOUND_ROLES = [
    ("customorder_fuzz_m1", "merchant", lambda shops: [shops["high"], shops["low"]]),
    ("customorder_fuzz_m2", "merchant", lambda shops: [shops["edge"]]),
    ("customorder_fuzz_b1", "buyer", lambda shops: list(range(1, 11))),
    ("customorder_fuzz_b2", "buyer", lambda shops: [17, 25, 33]),
]


def seed_orders(args, shared, stats):
    """Some orders, walked part of the way through the buttons (through the
    same classified calls as the workers)."""
    rng = random.Random("%d:seed" % args.seed)
    s = Session(args.db, rng, stats, shared, "seed")
    s.refresh()
    for p in s.products:
        for _ in range(2):
            op_place_order(s)
    s.refresh()
    shared["clock"].move(3 * 86400)
    paid = list(s.by_state.get("paid", []))
    rng.shuffle(paid)
    for oid in paid[: len(paid) * 2 // 3]:
        if s.orders[oid][1]:
            s.call("start_customization", "start_customization", [Arg(str(oid), "bigint")])
    s.refresh()
    for oid in list(s.by_state.get("awaiting_evidence", []))[::2]:
        j = json.dumps([s.item(i, "seed%d" % oid, "image") for i in range(2)])
        s.call("submit_custom_evidence", "submit_custom_evidence", [Arg(str(oid), "bigint"), Arg(j, "jsonb")])
    s.refresh()
    for oid in list(s.by_state.get("evidence_review", []))[::2]:
        s.call("review_evidence", "review_evidence",
               [Arg(str(oid), "bigint"), Arg(True, "boolean"), Arg("seed", "text")])
    s.refresh()
    for oid in list(s.by_state.get("in_production", []))[::2] + list(s.by_state.get("paid", []))[::3]:
        if not s.orders[oid][1] or s.orders[oid][0] == "in_production":
            s.call("ship", "ship", [Arg(str(oid), "bigint"), Arg("SF%d" % oid, "text")])
    s.refresh()
    for oid in list(s.by_state.get("shipped", []))[::2]:
        s.call("mark_signed", "mark_signed", [Arg(str(oid), "bigint")])
    s.refresh()
    for st, kind in (("in_production", "refund_only"), ("shipped", "return_refund"),
                     ("signed", "return_refund"), ("paid", "refund_only")):
        for oid in list(s.by_state.get(st, []))[::3]:
            s.call("request_refund", "request_refund", [Arg(str(oid), "bigint"), Arg(kind, "text"),
                                                         Arg(rng.choice(REASONS), "text")])
    s.conn.close()
    s.aux.close()


def find_server_log():
    """(path or None, how it was found)."""
    if os.environ.get("FUZZ_SERVER_LOG"):
        return os.environ["FUZZ_SERVER_LOG"], "FUZZ_SERVER_LOG"
    try:
        conn = connect(os.environ.get("PGDATABASE") or "postgres")
        cur = conn.cursor()
        cur.execute("SELECT pg_catalog.current_setting('data_directory'), pg_catalog.pg_current_logfile(), "
                    "pg_catalog.current_setting('cluster_name', true)")
        datadir, logfile, cluster = cur.fetchone()
        conn.close()
    except psycopg2.Error:
        return None, "server unreachable"
    if logfile:
        path = logfile if os.path.isabs(logfile) else os.path.join(datadir, logfile)
        return path, "pg_current_logfile()"
    candidates = []
    if cluster and "/" in cluster:
        ver, name = cluster.split("/", 1)
        fname = "postgresql-%s-%s.log" % (ver, name)
        root = os.environ.get("PG_CLUSTER_CONF_ROOT")
        if root:   # pg_virtualenv: $WORKDIR/postgresql is the config root, $WORKDIR/log the logs
            candidates.append(os.path.join(os.path.dirname(root), "log", fname))
            # pg_createcluster -l records a custom log path as the symlink "log"
            candidates.append(os.path.realpath(os.path.join(root, ver, name, "log")))
        candidates.append(os.path.realpath(os.path.join("/etc/postgresql", ver, name, "log")))
        candidates.append(os.path.join("/var/log/postgresql", fname))
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.R_OK):
            return c, "Debian cluster layout (%s)" % cluster
    # a local server started with pg_ctl -l FILE: its stderr is the log
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            pid = int(f.readline())
        path = os.readlink("/proc/%d/fd/2" % pid)
        if os.path.isfile(path) and os.access(path, os.R_OK):
            return path, "the postmaster's stderr (/proc/%d/fd/2)" % pid
    except (OSError, ValueError):
        pass
    return None, "not found (logging_collector off, no Debian log for cluster %r)" % cluster


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def scan_log(path, start):
    # The log of a long run holds every refused statement (megabytes of
    # hostile JSON among them): read it a line at a time, never whole.
    events, lines = [], []
    crash = re.compile(rb"terminated by signal|was terminated|PANIC:")
    try:
        with open(path, "rb") as f:
            f.seek(start)
            for raw in f:
                if crash.search(raw):
                    events.append(shorten(raw[:2000].decode("utf-8", "replace"), 300))
                if b"Failed process was running" in raw:
                    lines.append(shorten(raw[:2000].decode("utf-8", "replace"), 500))
    except OSError as e:
        return None, ["cannot read %s: %s" % (path, e)]
    return events, lines


def final_states(args):
    conn = connect(args.db)
    cur = conn.cursor()
    out = []
    for table, typ in (("orders", "order"), ("aftersales", "case")):
        cur.execute("SELECT state::text, count(*) FROM customorder.%s GROUP BY 1 ORDER BY 1" % table)
        out.append("%s states at the end: %s" % (typ, ", ".join("%s %d" % r for r in cur.fetchall()) or "none"))
    conn.close()
    return out


def run_verify(args):
    conn = connect(args.db)
    cur = conn.cursor()
    try:
        cur.execute("SELECT invariant, order_id, detail FROM customorder.verify()")
        rows = cur.fetchall()
        return rows, None
    except psycopg2.Error as e:
        if e.pgcode == "42883":
            return None, "verify() missing (%s)" % (e.diag.message_primary or "")
        return None, "verify() failed: %s %s" % (e.pgcode, e.diag.message_primary or str(e))
    finally:
        conn.close()


def check_events(args, events):
    """The fuzzer's own oracle on the committed events, against the final
    data: H3 one order per pay_no, with the arguments of every call that got
    it; H4 every accepted amount was proposed, and is what the case refunded."""
    out = []
    conn = connect(args.db)
    cur = conn.cursor()
    pays = [e for e in events if e[0] == "pay"]
    cur.execute("SELECT pay_no, order_id, product_id, buyer_id, amount FROM customorder.orders "
                "WHERE pay_no = ANY(%s)", [sorted({e[1] for e in pays if e[1] is not None})])
    rows = {r[0]: r[1:] for r in cur.fetchall()}
    cur.execute("SELECT order_id FROM customorder.orders WHERE order_id = ANY(%s)", [sorted({e[5] for e in pays})])
    alive = {r[0] for r in cur.fetchall()}
    for _, pay_no, pid, buyer, amount, oid in pays:
        if oid not in alive:
            continue            # deleted by raw DML
        row = rows.get(pay_no)
        if row is None or row[0] != oid:
            out.append("H3: pay_no %r gave order %s, the order now holding it: %s" % (pay_no, oid, row))
        elif (row[1], row[2], decimal.Decimal(row[3])) != (norm_id(pid), norm_id(buyer), decimal.Decimal(amount)):
            out.append("H3: pay_no %r, order %s (%s, %s, %s) returned for the call (%s, %s, %s)"
                       % ((pay_no, oid) + tuple(row[1:]) + (pid, buyer, amount)))
    proposed = {}
    for e in events:
        if e[0] == "propose_refund_amount":
            proposed.setdefault(e[1], set()).add(decimal.Decimal(e[2]))
    accepts = [(e[1], decimal.Decimal(e[2])) for e in events if e[0] == "accept_refund_amount"]
    cur.execute("SELECT aftersale_id, state::text, refund_amount FROM customorder.aftersales "
                "WHERE aftersale_id = ANY(%s)", [sorted({c for c, _ in accepts})])
    cases = {r[0]: r[1:] for r in cur.fetchall()}
    for cid, amount in accepts:
        if amount not in proposed.get(cid, ()):
            out.append("H4: case %s accepted %s, never proposed (proposed: %s)"
                       % (cid, amount, sorted(proposed.get(cid, ()))))
        c = cases.get(cid)
        if c and c[0] == "refunded" and c[1] != amount:
            out.append("H4: case %s refunded %s, the buyer accepted %s" % (cid, c[1], amount))
    conn.close()
    return out, len(pays), len(accepts)


def main():
    ap = argparse.ArgumentParser(description="fuzz customorder")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--calls", type=int, default=None,
                    help="total calls (default 20000, unlimited when --seconds is given)")
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--db", default="customorder_fuzz")
    args = ap.parse_args()
    if args.calls is None and args.seconds is None:
        args.calls = 20000
    if not re.match(r"^[a-z_][a-z0-9_]*$", args.db):
        sys.exit("fuzz: --db must be a plain lower-case identifier")
    sessions = max(1, args.sessions)

    logpath, loghow = find_server_log()
    logstart = log_size(logpath) if logpath else 0

    base, roles = setup(args)
    shared = {"base": base, "clock": Clock(base), "deadline": None, "quota": [None] * sessions,
              "seed": args.seed, "roles": roles}
    seed_stats = new_stats()
    seed_orders(args, shared, seed_stats)

    if args.calls is not None:
        shared["quota"] = [args.calls // sessions + (1 if i < args.calls % sessions else 0)
                           for i in range(sessions)]
    started = time.time()
    if args.seconds is not None:
        shared["deadline"] = started + args.seconds
    queue = mp.Queue()
    procs = [mp.Process(target=worker, args=(i, args, shared, queue)) for i in range(sessions)]
    for p in procs:
        p.start()
    results = []
    # a time budget gets 2 minutes' grace; a number of calls takes what it
    # takes (every statement is bounded by statement_timeout): wait while a
    # worker that has not reported is alive
    limit = started + args.seconds + 120 if args.seconds is not None else None
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=60 if limit is None else max(5, min(60, limit - time.time()))))
        except Exception:
            if limit is not None and time.time() > limit:
                break
            if not any(p.is_alive() for p in procs):
                try:
                    results.append(queue.get(timeout=5))
                except Exception:
                    break
    elapsed = time.time() - started
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()
    hung = len(procs) - len(results)

    total = new_stats()
    worker_errors = []
    for r in results:
        merge_stats(total, r)
        if "worker_error" in r:
            worker_errors.append(r["worker_error"])
    merge_stats(total, seed_stats)

    rows, verify_problem = run_verify(args)
    violations = rows or []
    try:
        oracle, n_pays, n_accepts = check_events(args, total["events"])
    except psycopg2.Error as e:
        oracle, n_pays, n_accepts = ["oracle queries failed: %s" % e], 0, 0

    if logpath:
        events, failed = scan_log(logpath, logstart)
    else:
        events, failed = None, []
    if events is None:
        crashes = total["conn_lost"]
    else:
        crashes = max(len(events), 1 if total["conn_lost"] else 0)

    # ---- report ----
    out = []
    p = out.append
    p("fuzz: seed %d, %d sessions, database %s%s" % (args.seed, sessions, args.db,
                                                     ", %g s budget" % args.seconds if args.seconds else ""))
    p("calls made: %d (%d by the seeding), %.1f s, %.0f calls/s" % (
        total["calls"], seed_stats["calls"], elapsed, (total["calls"] - seed_stats["calls"]) / max(elapsed, 1e-9)))
    p("succeeded: %d; transactions of 2-5 calls: %d (%d rolled back on purpose)" % (
        total["ok"], total["tx_multi"], total["tx_rolled_back"]))
    p("calls by operation (succeeded/made): " + ", ".join(
        "%s %d/%d" % (op, total["ok_ops"][op], n) for op, n in sorted(total["ops"].items())))
    p("clock: %d moves forward, %d resets to real time, now %s" % (
        shared["clock"].moves.value, shared["clock"].resets.value,
        "real time" if shared["clock"].real.value else shared["clock"].time().isoformat()))
    try:
        for line in final_states(args):
            p(line)
    except psycopg2.Error as e:
        p("final states: %s" % e)
    p("errors by SQLSTATE:")
    for code, n in sorted(total["codes"].items()):
        tag = ("SPEC 4" if code in SPEC_CODES else "transient" if code in TRANSIENT_CODES
               else "statement_timeout" if code in TIMEOUT_CODES else "")
        p("  %-7s %7d  %s" % (code, n, tag))
    if not total["codes"]:
        p("  (none)")
    p("arguments PostgreSQL refused to convert before the call (call not made): " +
      (", ".join("%s %d" % kv for kv in sorted(total["pre"].items())) or "none"))
    p("PostgreSQL column constraints on raw DML (not findings): " +
      (", ".join("%s %d" % kv for kv in sorted(total["raw_pg"].items())) or "none"))
    p("transient (not findings): " + ", ".join("%s %d" % (c, total["transient"][c])
                                                for c in sorted(TRANSIENT_CODES)))
    p("statement timeouts (15 s): %d" % total["timeouts"])
    p("server log: %s (%s)" % (logpath or "-", loghow))
    p("connection losses: %d; crash events in the server log: %s" % (
        total["conn_lost"], "unknown (no log)" if events is None else len(events)))
    for e in (events or [])[:10]:
        p("  " + e)
    for e in failed[:10]:
        p("  " + e)
    if hung:
        p("workers that did not report (hung, terminated): %d" % hung)
    for w in worker_errors:
        p("worker failed (fuzzer bug?):\n" + w)
    if verify_problem:
        p("verify(): FINDING: " + verify_problem)
    else:
        p("verify() violations: %d" % len(violations))
        for inv, oid, detail in violations[:MAX_EXAMPLES]:
            p("  %s order %s: %s" % (inv, oid, shorten(detail or "", 300)))
    ch = total["checks"]
    p("oracle (H1-H8): %d committed pay_no calls (%d repeats), %d committed accepts (%d raced by a "
      "re-proposal; %d accepted after another session proposed the amount read again, as "
      "customorder.events shows), %d presses as bound roles (%d ids named in refusals, all their own "
      "unless listed), %d row-security reads, %d long transactions; outside their ids, %d refusals of "
      "the arguments alone (the same for a missing id) came before the 42501" % (
          n_pays, ch["pay_no_repeats"], n_accepts, ch["accept_races"], ch["accepts_after_a_proposal_back"],
          ch["bound_presses"], ch["ids_named"],
          ch["rls_reads"], ch["long_transactions"], ch["argument_refusals_outside_ids"]))
    p("inputs the rules must refuse (H3 amount, H8 limits), refused with: " +
      (", ".join("%s %d" % kv for kv in sorted(total["bad_codes"].items())) or "none") +
      "; raw statements with one that matched no row (nothing written): %d" % ch["bad_inputs_no_row"])
    findings = sorted(total["findings"].values(), key=lambda f: -f["count"])
    p("oracle findings: %d during the run, %d after it" % (sum(f["count"] for f in findings), len(oracle)))
    for f in findings[:MAX_EXAMPLES]:
        p("  %s [%s] x%d (%s%s)" % (f["what"], f["op"], f["count"], f["session"],
                                    ", acting " + f["acting"] if f["acting"] else ""))
        if f["stmt"]:
            p("    statement: " + f["stmt"])
        if f["note"]:
            p("    note:      " + f["note"])
    for o in oracle[:MAX_EXAMPLES]:
        p("  " + o)
    exs = sorted(total["examples"].values(), key=lambda e: (-e["count"], e["code"], e["op"]))
    p("unexpected SQLSTATE: %d errors, %d distinct%s" % (
        total["unexpected"], len(exs), ", first %d:" % MAX_EXAMPLES if len(exs) > MAX_EXAMPLES else ":" if exs else ""))
    for e in exs[:MAX_EXAMPLES]:
        p("  [%s] %s x%d (%s)" % (e["code"], e["op"], e["count"], e["session"]))
        p("    statement: " + e["stmt"])
        p("    message:   " + e["message"])
        if e["detail"]:
            p("    detail:    " + e["detail"])
        if e["constraint"]:
            p("    constraint: " + e["constraint"])
        if e["context"]:
            p("    context:   " + e["context"].replace("\n", " | "))
    n_viol = len(violations) + (1 if verify_problem else 0) + sum(f["count"] for f in findings) + len(oracle)
    unexpected = total["unexpected"] + len(worker_errors) + hung
    p("fuzz: %d calls, %d crashes, %d violations, %d unexpected errors" % (
        total["calls"], crashes, n_viol, unexpected))
    print("\n".join(out))
    sys.stdout.flush()
    return 1 if (crashes or n_viol or unexpected) else 0


if __name__ == "__main__":
    mp.set_start_method("fork")
    sys.exit(main())
