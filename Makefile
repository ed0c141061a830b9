# Every target sets up its own virtual environment: a fresh machine needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LAB_BASE  ?= 127.77
LAB_STATE := lab-state/lab.json

.PHONY: help setup demo test check lint format typecheck imports lab clean system-deps bind nftables

help:
	@echo "make demo   - start the local lab, scan it, print the report, stop the lab"
	@echo "make test   - run every test"
	@echo "make check  - ruff (lint + format check), mypy --strict and the import contracts"
	@echo "make lab    - run the lab in the foreground (Ctrl-C stops it)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages some tests drive: Chromium for the HTML report, shellcheck and systemd-analyze
# for the examples, promtool (package prometheus) for the metrics and the alerting rules, nginx
# for the benchmark's smoke runs. Installed when missing and possible (as root); without them
# those tests skip.
system-deps: bind nftables
	@command -v chromium >/dev/null && command -v shellcheck >/dev/null && \
	  command -v promtool >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium shellcheck prometheus nginx-light \
	    >/dev/null) ; } || \
	  echo "make: chromium/shellcheck/promtool/nginx not installed: their tests will skip"

# nft drops packets to one loopback address in the tests of dead addresses
# (tests/e2e/test_dead_address.py) and in the benchmark's realistic mix.
nftables:
	@command -v nft >/dev/null || test -x /usr/sbin/nft || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables \
	    >/dev/null; }

# BIND's named serves the lab's zone lab (hsts_coverage/lab/bind.py): no lab starts without it.
# It lives in /usr/sbin, outside a non-root PATH. The lab runs a named of its own, so the one the
# package starts is stopped and disabled right after installing it: listening on every address,
# it would take the lab's addresses as soon as they appear on lo.
bind:
	@command -v named >/dev/null || test -x /usr/sbin/named || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq bind9 >/dev/null) && \
	    { systemctl disable --now named 2>/dev/null || service named stop 2>/dev/null || true; } ; } || \
	  { echo "make: BIND's named is missing and cannot be installed (apt-get install bind9, as root)" >&2; exit 1; }

# Coverage of the whole suite, subprocesses included (pyproject.toml's [tool.coverage]); the run
# fails below COVERAGE_FLOOR percent. `make test COVERAGE=0` runs pytest without coverage.
COVERAGE ?= 1
# The figure measured when the floor was set (95.8 %, lab and benchmark not counted).
COVERAGE_FLOOR ?= 95
# Absolute, so that a subprocess started in another directory writes beside the others.
export COVERAGE_FILE := $(CURDIR)/.coverage-data/coverage
# Test files run in TEST_WORKERS pytest-xdist processes (a file's tests stay in one, so a module's
# lab is started once): most e2e tests wait on sockets and time-outs, not on the CPU. Each worker
# runs labs on addresses of its own (tests/helpers.py, worker_bases). The tests marked `alone`
# assert wall-time bounds: they run afterwards, in one process, with nothing beside them.
# TEST_WORKERS=0: everything in one process.
TEST_WORKERS ?= 2
PARALLEL := pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone"
ALONE    := pytest -m alone
test: $(STAMP) system-deps
ifeq ($(COVERAGE),1)
	rm -rf .coverage-data && mkdir -p .coverage-data
	$(BIN)/coverage run -m $(PARALLEL)
	$(BIN)/coverage run -m $(ALONE)
	@$(BIN)/coverage combine -q
	@$(BIN)/coverage report --format=total --fail-under=$(COVERAGE_FLOOR) >/dev/null || \
	  { $(BIN)/coverage report | tail -25; echo "make: coverage below $(COVERAGE_FLOOR) %" >&2; exit 1; }
	@echo "coverage: $$($(BIN)/coverage report --format=total) % of hsts_coverage (floor $(COVERAGE_FLOOR) %)"
else
	$(BIN)/python -m $(PARALLEL)
	$(BIN)/python -m $(ALONE)
endif

check: lint typecheck imports

lint: $(STAMP)
	$(BIN)/ruff check hsts_coverage tests
	$(BIN)/ruff format --check hsts_coverage tests

format: $(STAMP)
	$(BIN)/ruff format hsts_coverage tests
	$(BIN)/ruff check --fix hsts_coverage tests

typecheck: $(STAMP)
	$(BIN)/mypy

# The layer and purity contracts of pyproject.toml's [tool.importlinter] (no cache file: it is fast).
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo

lab: $(STAMP) bind
	$(BIN)/python -m hsts_coverage.lab --base $(LAB_BASE)

demo: $(STAMP) bind
	@bash examples/demo.sh "$(BIN)" "$(LAB_BASE)"

# The scanner against a naive baseline on an nginx fleet (hsts_coverage/bench); needs root.
BENCH_HOSTS ?= 2000
BENCH_ROUNDS ?= 3
BENCH_RTT_MS ?= 0
# healthy: the nginx fleet; realistic: N names mostly dead, silent or slow (bench/mix.py)
BENCH_MIX ?= healthy
# realistic only: scanner or baseline runs one side alone (empty: both, interleaved)
BENCH_ONLY ?=
# The lab's own CT server needs no politeness interval (crt.sh gets the default of 1 s); the
# baseline guesses no names, so neither does the scanner here (guessing is timed on its own).
BENCH_SCANNER_ARGS ?= --ct-interval 0 --no-guess
.PHONY: bench
bench: $(STAMP) bind $(if $(filter realistic,$(BENCH_MIX)),nftables)
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light; }
	$(BIN)/python -m hsts_coverage.bench --hosts $(BENCH_HOSTS) --rounds $(BENCH_ROUNDS) \
		--rtt-ms $(BENCH_RTT_MS) --mix $(BENCH_MIX) $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) $(if $(strip $(BENCH_SCANNER_ARGS)),--scanner-args $(BENCH_SCANNER_ARGS))

clean:
	rm -rf $(VENV) lab-state build *.egg-info .mypy_cache .ruff_cache .pytest_cache .coverage-data
