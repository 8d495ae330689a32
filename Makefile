# customorder: PostgreSQL extension (PGXS)

MODULE_big = customorder
OBJS = \
	src/actors.o \
	src/append.o \
	src/case_buttons.o \
	src/case_machine.o \
	src/case_trigger.o \
	src/catalog.o \
	src/citus.o \
	src/citus_settings.o \
	src/clock.o \
	src/deadlines.o \
	src/eligibility.o \
	src/engine.o \
	src/evidence_bundles.o \
	src/evidence_items.o \
	src/events.o \
	src/evidence_machine.o \
	src/fetch.o \
	src/module.o \
	src/order_buttons.o \
	src/order_machine.o \
	src/order_trigger.o \
	src/outbox.o \
	src/queries.o \
	src/refunds.o \
	src/rows.o \
	src/run_due.o \
	src/util.o \
	src/verify.o \
	src/worker.o

EXTENSION = customorder
DATA = sql/customorder--1.0.sql sql/customorder--1.1.sql \
	sql/customorder--1.0--1.1.sql
PGFILEDESC = "customorder - workflow of fully customized goods"

# pg_regress: one file per rule group, inputs in sql/, outputs in expected/
REGRESS = setup labels_L start_S evidence_E refunds_F buttons errors aftersale_A1 aftersale_A2 aftersale_F roles_tenancy verify hardening_H bound_H5 returns_R arbitration_P events_V scaleout_C deadlines
REGRESS_OPTS = --inputdir=. --outputdir=. --load-extension=customorder

# pg_isolation_regress: concurrency specs in test/isolation/specs/, outputs in
# test/isolation/expected/ (PGXS runs them after REGRESS in `make installcheck`)
ISOLATION = evidence_E4 event_order_H2 refunds_F7 start_vs_cancel_S2F2 agree_vs_insist_ship_A1 partial_refunds_F7 review_vs_cancel_S5F2 stamps_H1H2 pay_no_H3 stale_score_H9 run_due_T3 confirm_vs_withdraw_R arbitrate_vs_refund_P3 escalate_vs_request_F7 outbox_claimers_V3 outbox_lease_V3 outbox_order_V3
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=customorder

# TAP tests (PostgreSQL::Test::Cluster) in test/t/.  initdb refuses root, so
# as root run them as postgres from a copy of the tree (test/check does)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Narrated walk-through of one custom order on a throwaway cluster
.PHONY: demo
demo:
	test/demo

# The cost of enforcing the rules: a bulk raw UPDATE trigger on vs off, each
# button called in bulk vs the raw statement, the HOT share of a lifecycle,
# on a throwaway cluster (after `make install`), or on the server PGPORT
# names when it is set, and the lifecycle there and on a 2-worker Citus
# cluster when Citus is installed; prints figures, asserts none (ROWS,
# BUTTON_ROWS, RUNS, HOT_ORDERS, DUE_ORDERS, LIFECYCLE_ORDERS: see
# test/bench/run)
.PHONY: bench
bench:
	$(if $(PGPORT),,pg_virtualenv -t) test/bench/run

# Random and hostile concurrent calls, raw DML and clock moves
# (test/fuzz/fuzz.py, needs python3-psycopg2) against the server of the PG*
# environment, after `make install`: e.g. pg_virtualenv -t make fuzz SEED=1 SECONDS=20
# (defaults: SEED=1 SESSIONS=4 CALLS=20000, or no call limit with SECONDS)
.PHONY: fuzz
fuzz:
	/usr/bin/python3 test/fuzz/fuzz.py $(if $(SEED),--seed $(SEED)) $(if $(CALLS),--calls $(CALLS)) $(if $(SESSIONS),--sessions $(SESSIONS)) $(if $(SECONDS),--seconds $(SECONDS))

# The outbox under concurrent producers and crashing consumers
# (test/outbox/delivery.py, needs python3-psycopg2) against the server of the
# PG* environment, after `make install`: e.g. pg_virtualenv -t make outbox
# (defaults: SEED=1 SECONDS=20 of producing, then the drain)
.PHONY: outbox
outbox:
	/usr/bin/python3 test/outbox/delivery.py $(if $(SEED),--seed $(SEED)) $(if $(SECONDS),--seconds $(SECONDS))

# The regression and isolation suites against a server under valgrind
# memcheck (test/memcheck/run: builds, installs, throwaway cluster); fails on
# any valgrind error with a frame in customorder.so.  A subset (a prefix of
# the list): make memcheck REGRESS="setup labels_L" ISOLATION=
.PHONY: memcheck
memcheck:
	test/memcheck/run

# The same bulk UPDATE counted in CPU instructions (valgrind callgrind, in a
# single-user backend): a figure independent of the machine's load
.PHONY: bench-instructions
bench-instructions:
	test/bench/instructions
