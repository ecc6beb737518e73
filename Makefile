# Mainspring: `make run` serves the API, `make test` runs the suite.
# Both set everything up on a fresh machine that has Python 3.11+ and make.
#
# Two installs into one virtualenv (.venv), each with its own stamp:
#   .venv/.synced-run  `make run` / `make install`: the service and what it needs to run, no
#                      development tools (`uv sync --no-dev`).
#   .venv/.synced      `make test` / `make lint` / `make dev`: the same plus the dev group (test
#                      runner, linters, type checker, load tools).
# The run install is --inexact: it adds what is missing and removes nothing, so `make run` after
# `make test` keeps the development tools (and uv itself, when .venv holds the only copy). The
# dev install is exact (it removes what the lock no longer lists): it installs a superset of
# the run install, so `make test` after `make run` only adds the dev tools.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Use uv from PATH when there is one; otherwise the copy installed into .venv.
UV := $(shell command -v uv 2>/dev/null || echo $(BIN)/uv)

# `make test PYTEST_WORKERS=0` runs the suite in one process (pytest-xdist's -n 0).
PYTEST_WORKERS ?= auto

.PHONY: run install dev test lint format bench faults openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

NEED_UV := $(if $(findstring $(BIN)/uv,$(UV)),$(BIN)/uv)

# The stamps are rebuilt only when the lock or the project file changes,
# so a second `make run` or `make test` installs nothing.
$(VENV)/.synced-run: uv.lock pyproject.toml | $(BIN)/python $(NEED_UV)
	$(UV) sync --frozen --no-dev --inexact --python $(BIN)/python
	@touch $@

$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/python $(NEED_UV)
	$(UV) sync --frozen --python $(BIN)/python
	@touch $@

install: $(VENV)/.synced-run

dev: $(VENV)/.synced

run: $(VENV)/.synced-run
	$(BIN)/mainspring serve

# In parallel (pytest-xdist), one worker per CPU: each worker has its own database and Redis
# db (tests/conftest.py); --dist worksteal lets an idle worker take tests queued for a busy one.
test: $(VENV)/.synced
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# lint-imports: the import contracts of pyproject.toml ([tool.importlinter]).
lint: $(VENV)/.synced
	$(BIN)/ruff check src tests migrations bench faults
	$(BIN)/ruff format --check src tests migrations bench faults
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.synced
	$(BIN)/ruff format src tests migrations bench faults
	$(BIN)/ruff check --fix src tests migrations bench faults

# `make bench BENCH_ARGS="health readyz --duration 5"`: see docs/performance.md.
bench: $(VENV)/.synced
	$(BIN)/python -m bench $(BENCH_ARGS)

# The fault suite: its own PostgreSQL + Redis, real kills and restarts (docs/operations.md).
faults: $(VENV)/.synced
	$(BIN)/python -m faults $(FAULTS_ARGS)

openapi: $(VENV)/.synced-run
	$(BIN)/mainspring openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
