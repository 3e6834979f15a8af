# Two commands matter: `make demo` (the example pipeline against the bundled emulator)
# and `make test` (lint, types, unit, integration and end-to-end tests).
# Each builds .venv from the pinned requirements when it is missing or stale.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PINNED := requirements/airflow-3.3.txt

.PHONY: venv test lint unit integration demo clean

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

# Unit tests under coverage (measured from interpreter start, so the pytest plugin counts too).
unit: venv
	$(BIN)/coverage run -m pytest -m "not integration and not e2e" tests
	$(BIN)/coverage report --fail-under=90

# dag.test() runs against the emulator, and a real deployment (PostgreSQL, scheduler, triggerer).
integration: venv
	$(BIN)/pytest -m "integration or e2e" tests

test: lint unit integration

demo: venv
	$(BIN)/python -m airflow_provider_ttm.testing.demo --dags-folder dags \
		example_ttm_model_lifecycle example_ttm_deferrable

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
