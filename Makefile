# The project's entry points. Every target sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The client-library tests run apart (tests/clients/__init__.py says why).
CLIENTS := .venv/clients/bin
CLIENTS_PYTEST := $(CLIENTS)/python -m pytest -o addopts="-ra --strict-markers" \
  -W ignore::pytest.PytestConfigWarning tests/clients
PYTEST_ARGS ?=
# pytest's processes (pytest-xdist); 0 runs in one process. --dist loadgroup keeps the tests
# that share state on one worker (tests/conftest.py says which). Not in pyproject's addopts:
# the conformance runner's in-process pytest runs read those too.
PYTEST_WORKERS ?= 2
BASE_URL ?= http://127.0.0.1:3000
ADMIN_AUTH ?=

.PHONY: serve install test test-clients check lint test-pg conformance docs stubs spec-digest bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.base: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.test: pyproject.toml $(BIN)/.base
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(CLIENTS)/.installed: pyproject.toml
	test -x $(CLIENTS)/python || $(PYTHON) -m venv .venv/clients
	$(CLIENTS)/python -m pip install --quiet --upgrade pip
	$(CLIENTS)/python -m pip install --quiet -e '.[clients]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.test $(CLIENTS)/.installed node_modules/.installed  ## create the environments and node_modules

serve: $(BIN)/.base  ## run the server on :3000 (SQLite file by default; GF_* env vars apply)
	$(BIN)/python -m handlers $(ARGS)

check: install  ## lint and type-check: ruff, mypy, openapi-spec-validator, redocly
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/openapi-spec-validator openapi.yaml

lint: install  ## apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: check  ## run every test (PostgreSQL and browser tests where installed)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
	$(CLIENTS_PYTEST)

test-clients: install  ## run only the Grafana client libraries' tests (in .venv/clients)
	$(CLIENTS_PYTEST) $(PYTEST_ARGS)

test-pg: install  ## run the server's tests on PostgreSQL only (starts a private server)
	USERAPI_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest tests -m postgres $(PYTEST_ARGS)

conformance: install  ## run the conformance suite against BASE_URL (ADMIN_AUTH=login:password)
	@test -n "$(ADMIN_AUTH)" || { echo "make conformance needs ADMIN_AUTH=LOGIN:PASSWORD (a Grafana Admin's)" >&2; exit 2; }
	$(BIN)/python -m conformance --base-url $(BASE_URL) --admin-auth $(ADMIN_AUTH) $(ARGS)

docs: install  ## build the static API docs into build/docs/
	$(BIN)/python -m docs.build build/docs

stubs: $(BIN)/.base  ## write a typed stub for every operation without a handler
	$(BIN)/python -m handlers.stubs --write

spec-digest: $(BIN)/.base  ## after editing openapi.yaml: check it with connexion, record its digest
	$(BIN)/python -m handlers.spec_check --write

bench: install  ## run the benchmarks (see bench/README.md)
	$(BIN)/python -m bench

clean:  ## remove the environments and build output
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache
