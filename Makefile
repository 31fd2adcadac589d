# Two commands: `make run` starts the product, `make test` runs the tests.
# Both build the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults lint typecheck check bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# `make run PORT=8080 HOST=0.0.0.0`: given on the command line only (an exported HOST, as
# some shells set, does not override these).
HOST := 127.0.0.1
PORT := 8000
run: $(STAMP)
	$(BIN)/takedown run --demo --host '$(HOST)' --port '$(PORT)'

# The suite runs on every CPU (pytest-xdist), each worker on its own database: a SQLite file
# or a PostgreSQL schema per worker (the session-scoped database_url in tests/conftest.py). A
# test file stays whole on one worker (--dist loadfile), so its tests run in their written
# order as they do serially. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Database faults and overload against real processes (tests/faults): a private PostgreSQL
# server of its own (PostgreSQL's server binaries must be installed), one test at a time.
test-faults: $(STAMP)
	$(BIN)/pytest -p no:xdist -m fault tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# faiss is only for the comparison rows of bench/match.py.
bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/match.py
	$(BIN)/python bench/hash.py
	$(BIN)/python bench/trace.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/lists_export.py
	$(BIN)/python bench/squid_helper.py
	$(BIN)/python bench/stats.py

clean:
	rm -rf $(VENV) build src/*.egg-info
