# Mainspring: `make run` serves the API, `make test` runs the suite.
# Both set everything up on a fresh machine that has Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Use uv from PATH when there is one; otherwise the copy installed into .venv.
UV := $(shell command -v uv 2>/dev/null || echo $(BIN)/uv)

.PHONY: run test lint format bench faults openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The stamp is rebuilt only when the lock or the project file changes,
# so a second `make run` or `make test` installs nothing.
$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/python $(if $(findstring $(BIN)/uv,$(UV)),$(BIN)/uv)
	$(UV) sync --frozen --python $(BIN)/python
	@touch $@

run: $(VENV)/.synced
	$(BIN)/mainspring serve

test: $(VENV)/.synced
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.synced
	$(BIN)/ruff check src tests migrations bench faults
	$(BIN)/ruff format --check src tests migrations bench faults
	$(BIN)/mypy

format: $(VENV)/.synced
	$(BIN)/ruff format src tests migrations bench faults
	$(BIN)/ruff check --fix src tests migrations bench faults

# `make bench BENCH_ARGS="health readyz --duration 5"`: see docs/performance.md.
bench: $(VENV)/.synced
	$(BIN)/python -m bench $(BENCH_ARGS)

# The fault suite: its own PostgreSQL + Redis, real kills and restarts (docs/operations.md).
faults: $(VENV)/.synced
	$(BIN)/python -m faults $(FAULTS_ARGS)

openapi: $(VENV)/.synced
	$(BIN)/mainspring openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
