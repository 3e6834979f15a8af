# Two commands matter: `make demo` (the example pipeline against the bundled emulator)
# and `make test` (lint, types, unit, integration and end-to-end tests).
# Each builds .venv from the pinned requirements when it is missing or stale.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PINNED := requirements/airflow-3.3.txt

.PHONY: venv test lint unit demo e2e clean

venv: $(VENV)/.installed

$(VENV)/.installed: $(PINNED) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(PINNED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

lint: venv
	$(BIN)/ruff check airflow_provider_ttm dags tests benchmarks
	$(BIN)/ruff format --check airflow_provider_ttm dags tests benchmarks
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not integration and not e2e" --cov --cov-report=term --cov-fail-under=90 tests

test: lint
	$(BIN)/pytest --cov --cov-report=term tests

demo: venv
	$(BIN)/python -m airflow_provider_ttm.demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
