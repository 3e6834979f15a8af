# Two commands matter: `make demo` (the example pipeline against the bundled emulator)
# and `make test` (lint, types, unit, integration and end-to-end tests).
# Each builds .venv from the pinned requirements when it is missing or stale.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PINNED := requirements/airflow-3.3.txt
# The compatibility run: the same unit and dag.test() integration suites on Airflow 2.11.
VENV_211 := .venv-2.11
BIN_211 := $(VENV_211)/bin
PINNED_211 := requirements/airflow-2.11.txt

.PHONY: venv test lint unit integration demo bench clean venv-2.11 test-2.11

venv: $(VENV)/.installed

$(VENV)/.installed: $(PINNED) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(PINNED)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv-2.11: $(VENV_211)/.installed

$(VENV_211)/.installed: $(PINNED_211) pyproject.toml
	test -x $(BIN_211)/python || $(PYTHON) -m venv $(VENV_211)
	$(BIN_211)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN_211)/python -m pip install --quiet --disable-pip-version-check -r $(PINNED_211)
	$(BIN_211)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
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

# The unit and dag.test() integration suites again on Airflow 2.11, in their own venv (and, as for
# every run, their own Airflow home); lint, types, the end-to-end and browser tests run on 3.3 only.
test-2.11: venv-2.11
	$(BIN_211)/pytest -m "not integration and not e2e" tests
	$(BIN_211)/pytest -m integration tests

test: lint unit integration test-2.11

demo: venv
	$(BIN)/python -m airflow_provider_ttm.testing.demo --dags-folder dags \
		--conf 'example_ttm_nightly_retrain={"keep_champion": false}' \
		example_ttm_model_lifecycle example_ttm_deferrable example_ttm_nightly_retrain

# Waiting at scale, hook call cost and DAG parse cost, measured; rewrites benchmarks/README.md.
bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(VENV_211) .pytest_cache .mypy_cache .ruff_cache .coverage
