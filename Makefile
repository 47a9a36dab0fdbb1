# Two commands matter: `make demo` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest security bench bench-quick faults system-deps services migration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lockerbridge demo

# Debian packages the browser tests need; installed only when missing.
system-deps:
	@scripts/system-deps.sh

# PostgreSQL and Redis are started when they are installed but stopped.
services:
	@scripts/services.sh

lint: $(STAMP)
	$(BIN)/ruff check bridge sip2 ils_adapters lockers tests bench
	$(BIN)/ruff format --check sip2 lockers

typecheck: $(STAMP)
	$(BIN)/mypy sip2 lockers ils_adapters bridge

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: $(STAMP) system-deps services lint typecheck pytest bench-quick

# The attack probes against a live gunicorn (also part of pytest), with their figures printed.
security: $(STAMP) services
	$(BIN)/pytest tests/security -s -p no:randomly

bench: $(STAMP)
	$(BIN)/python -m bench --report docs/performance.md

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

faults: $(STAMP) services
	$(BIN)/python -m tests.faults.run --deposits 1000

# Regenerates the single initial migration from the models (pre-release only).
migration: $(STAMP)
	$(BIN)/python scripts/regen_migration.py

clean:
	rm -rf $(VENV) var test-artifacts
