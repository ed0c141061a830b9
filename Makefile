# Every target sets up its own virtual environment: a fresh machine needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LAB_BASE  ?= 127.77
LAB_STATE := lab-state/lab.json

.PHONY: help setup demo test check lint format typecheck lab clean

help:
	@echo "make demo   - start the local lab, scan it, print the report, stop the lab"
	@echo "make test   - run every test"
	@echo "make check  - ruff (lint + format check) and mypy --strict"
	@echo "make lab    - run the lab in the foreground (Ctrl-C stops it)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check hsts_coverage tests
	$(BIN)/ruff format --check hsts_coverage tests

format: $(STAMP)
	$(BIN)/ruff format hsts_coverage tests
	$(BIN)/ruff check --fix hsts_coverage tests

typecheck: $(STAMP)
	$(BIN)/mypy

lab: $(STAMP)
	$(BIN)/python -m hsts_coverage.lab --base $(LAB_BASE)

demo: $(STAMP)
	@bash examples/demo.sh "$(BIN)" "$(LAB_BASE)"

clean:
	rm -rf $(VENV) lab-state build *.egg-info .mypy_cache .ruff_cache .pytest_cache
