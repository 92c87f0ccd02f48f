# The few commands people need. Works on a fresh machine with only python3 + pip:
# a pinned uv is bootstrapped into .tools/, then uv installs the locked environment into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: setup run test lint typecheck unit pytest-all bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --frozen

## run the default pipeline on the bundled data
run: setup
	$(RUN) algotrader

## lint, type-check and run the whole test suite (slow tests included)
test: setup lint typecheck pytest-all

## the fast suite for your own loop (slow tests left out)
unit: setup
	$(RUN) pytest -n 2 --dist loadfile -m "not slow" $(PYTEST_ARGS)

pytest-all:
	$(RUN) pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint:
	$(RUN) ruff check src tests benchmarks
	$(RUN) ruff format --check src tests benchmarks

typecheck:
	$(RUN) mypy

bench: setup
	for b in benchmarks/bench_*.py; do $(RUN) python $$b || exit 1; done

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache .jax_cache algotrader_data
