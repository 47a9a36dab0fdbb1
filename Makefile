# Two commands matter: `make demo` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest security bench bench-quick soak faults system-deps services migration clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every third-party package comes from requirements.lock, exact versions with their hashes;
# the project itself is installed on top without resolving anything again.
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
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

# Line coverage of the four packages, measured in the pytest process only: code run
# by subprocesses the tests start (gunicorn, `lockerbridge worker`, the demo) is not counted.
# The floor is [tool.coverage.report] fail_under in pyproject.toml.
COVERAGE := --cov=bridge --cov=sip2 --cov=ils_adapters --cov=lockers --cov-report=term:skip-covered

pytest: $(STAMP)
	$(BIN)/pytest $(COVERAGE) $(PYTEST_ARGS)

test: $(STAMP) system-deps services lint typecheck pytest bench-quick

# The attack probes against a live gunicorn (also part of pytest), with their figures printed.
security: $(STAMP) services
	$(BIN)/pytest tests/security -s -p no:randomly

bench: $(STAMP)
	$(BIN)/python -m bench --report docs/performance.md

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

# Mixed traffic against gunicorn, rq workers, PostgreSQL and Redis with 500 banks; not in CI.
# SOAK_MINUTES=3 for a short run; the result goes into docs/performance.md at the next bench.
SOAK_MINUTES ?= 30
soak: $(STAMP) services
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) --report docs/performance/soak.json

faults: $(STAMP) services
	$(BIN)/python -m tests.faults.run --deposits 1000
	LOCKERBRIDGE_OFFLINE_PICKUPS=200 $(BIN)/pytest tests/faults/test_offline_pickups.py -q -p no:randomly

# Regenerates the single initial migration from the models (pre-release only).
migration: $(STAMP)
	$(BIN)/python scripts/regen_migration.py

# Re-resolves the lock files from pyproject.toml against the package index: requirements.lock (runtime, dev and
# postgres extras: `make install`, CI) and requirements-deploy.lock (runtime and postgres: the
# container image), the second held to the first's versions. Current pins are kept where they
# still fit; `make lock UPGRADE=1` takes the newest releases allowed.
LOCK := $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-config \
	--custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) --extra dev --extra postgres $(if $(UPGRADE),--upgrade) -o requirements.lock
	$(LOCK) --extra postgres -c requirements.lock -o requirements-deploy.lock

clean:
	rm -rf $(VENV) var test-artifacts
