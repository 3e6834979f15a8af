# Two commands matter: `make demo` (the example pipeline against the bundled emulator)
# and `make test` (lint, types, unit, docs, integration and end-to-end tests on five Airflow lines).
# `make check` is the inner loop (lint, types, unit tests); `make docs` builds the Sphinx site in docs/.
# Environments are built with uv (installed from the package index into .venv-tools when missing)
# from the pinned sets in requirements/, each when it is missing or stale.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
# The default line: .venv on Airflow 3.3, the provider installed editable (lint, types, coverage,
# the end-to-end and browser tests run here).
VENV := .venv
BIN := $(VENV)/bin
PINNED := requirements/airflow-3.3.txt
# The compatibility lines: .venv-<line> from requirements/airflow-<line>.txt, each with the provider
# installed from the built wheel (so each line tests what `pip install` gives).
LINES := 2.11 3.0 3.1 3.2
# The one version source is __version__ in the package (pyproject.toml reads it from there too).
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' airflow_provider_ttm/__init__.py)
WHEEL := dist/airflow_provider_ttm-$(VERSION)-py3-none-any.whl
SDIST := dist/airflow_provider_ttm-$(VERSION).tar.gz
SOURCES := $(shell find airflow_provider_ttm -name '*.py' -o -name py.typed) \
	pyproject.toml MANIFEST.in README.md LICENSE CHANGELOG.md
# The release tools (build, setuptools, twine) from requirements/release.txt, and the new venv in which
# `make release-check` installs the built wheel next to the pinned Airflow.
RELEASE := .venv-release
RELEASE_CHECK := .venv-release-check
# Test processes per suite (pytest-xdist); the machine this is tuned for has 2 cores.
JOBS ?= 2
# dag.test() runs mostly wait (emulator training, poke intervals, retry delays): more processes than cores.
INTEGRATION_JOBS ?= 4
# The dag.test() suites print their ten slowest tests (what the time budget of `make test` goes to).
INTEGRATION_FLAGS := -n $(INTEGRATION_JOBS) --durations=10
# uv installs no bytecode, and where PYTHONDONTWRITEBYTECODE is set (this machine sets it) Python
# writes none either: every `airflow` process of the suites, the demo and the deployments then
# compiled its ~2000 modules from source, 3 of its 10 s of CPU. Every recipe lets Python keep the
# bytecode it compiles (in the venvs; in the checkout under __pycache__/, which git and the sdist
# ignore), so only the first process of a venv compiles.
unexport PYTHONDONTWRITEBYTECODE
XDIST := -n $(JOBS)
# Each stage of `make test`, timed by .ci/stages (which prints the table at the end). Stages joined by
# a comma run side by side: the older lines' suites mostly wait (dag.test() runs, poke intervals).
STAGES := envs lint release-check unit docs integration e2e e2e-distributed test-2.11,test-3.0 test-3.1,test-3.2 e2e-3.0

.PHONY: venv envs wheel dist release-check test check lint unit docs integration e2e e2e-distributed demo bench bench-deployment clean \
	$(foreach line,$(LINES),venv-$(line) test-$(line) integration-$(line)) e2e-3.0

$(UV):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: $(VENV)/.installed

# --seed: pip in .venv (the browser test installs Playwright with it); setuptools is pinned.
$(VENV)/.installed: $(PINNED) pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --seed --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r $(PINNED)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

$(RELEASE)/.installed: requirements/release.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(RELEASE)
	$(UV) pip sync --quiet --python $(RELEASE)/bin/python requirements/release.txt
	touch $@

wheel dist: $(WHEEL) $(SDIST)

# `python -m build` makes the sdist, then the wheel from the unpacked sdist (so a file missing from the
# sdist fails the wheel's tests); without isolation, on the pinned setuptools, so a build is repeatable.
$(WHEEL) $(SDIST) &: $(SOURCES) $(RELEASE)/.installed
	rm -f dist/airflow_provider_ttm-*
	$(RELEASE)/bin/python -m build --quiet --no-isolation --outdir dist .

# The release as a user gets it: twine's checks of both files (PyPI's rules, the README rendered as
# the long description), then the wheel alone in a new venv with the pinned Airflow, where the packaging
# tests and the lifecycle DAG run, the DAG against the emulator from a folder outside the checkout.
release-check: $(WHEEL) $(SDIST)
	$(RELEASE)/bin/twine check --strict $(SDIST) $(WHEEL)
	rm -rf $(RELEASE_CHECK)
	$(UV) venv --quiet --python $(PYTHON) $(RELEASE_CHECK)
	$(UV) pip sync --quiet --python $(RELEASE_CHECK)/bin/python $(PINNED)
	$(UV) pip install --quiet --python $(RELEASE_CHECK)/bin/python -c $(PINNED) $(WHEEL)
	TTM_WHEEL=$(CURDIR)/$(WHEEL) TTM_RELEASE_CHECK=1 $(RELEASE_CHECK)/bin/pytest $(XDIST) -p no:cacheprovider \
		tests/unit/test_packaging.py tests/unit/test_release.py

# Exactly the pinned set, then the wheel with its requirements (apache-airflow>=2.11.2,
# common-compat>=1.23.0, ...), which the line's pins must meet (-c: nothing else may move).
define LINE_ENV
venv-$(1): .venv-$(1)/.installed

.venv-$(1)/.installed: requirements/airflow-$(1).txt $(WHEEL) | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv-$(1)
	$(UV) pip sync --quiet --python .venv-$(1)/bin/python requirements/airflow-$(1).txt
	$(UV) pip install --quiet --python .venv-$(1)/bin/python -c requirements/airflow-$(1).txt \
		--reinstall-package airflow-provider-ttm $(WHEEL)
	touch $$@

# The unit and dag.test() integration suites on Airflow $(1), each run with its own Airflow home.
test-$(1): venv-$(1) integration-$(1)
	TTM_WHEEL=$(CURDIR)/$(WHEEL) .venv-$(1)/bin/pytest $(XDIST) -p no:cacheprovider -m "not integration and not e2e" tests

integration-$(1): venv-$(1)
	TTM_WHEEL=$(CURDIR)/$(WHEEL) .venv-$(1)/bin/pytest $(INTEGRATION_FLAGS) -p no:cacheprovider -m integration tests
endef
$(foreach line,$(LINES),$(eval $(call LINE_ENV,$(line))))

envs: venv $(foreach line,$(LINES),venv-$(line))

# The public API's guard: griffe (requirements/api-check.txt) in .venv under the Airflow pins.
$(VENV)/.api-check-installed: requirements/api-check.txt $(VENV)/.installed | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -c $(PINNED) -r requirements/api-check.txt
	touch $@

# Lint, types, and the public API against the baseline release (.ci/api_check.py: a breaking change
# not listed in .ci/api-breaks.toml fails; see docs/development.md).
lint: venv $(VENV)/.api-check-installed
	$(BIN)/ruff check airflow_provider_ttm dags tests benchmarks .ci
	$(BIN)/ruff format --check airflow_provider_ttm dags tests benchmarks .ci
	$(BIN)/mypy
	$(BIN)/python .ci/api_check.py

# Unit tests under coverage, measured from interpreter start in every test process (coverage's
# subprocess patch follows the xdist workers), so the pytest plugin counts too.
unit: venv $(VENV)/.api-check-installed
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(XDIST) -m "not integration and not e2e" tests
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report --fail-under=90

# The documentation into build/docs/html: Sphinx and MyST (requirements/docs.txt) in .venv under the
# Airflow pins (autodoc imports the provider); warnings are errors, every reference must resolve (-n),
# every page is reread (-E); no network (no intersphinx).
DOCS_OUT := build/docs/html

$(VENV)/.docs-installed: requirements/docs.txt $(VENV)/.installed | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -c $(PINNED) -r requirements/docs.txt
	touch $@

docs: $(VENV)/.docs-installed
	$(BIN)/sphinx-build -q -E -n -W --keep-going -b html docs $(DOCS_OUT)

# dag.test() runs against the emulator, spread over the workers (each worker has its own emulator
# and SQLite Airflow home); on 3.3 the worker that finishes last writes the fault matrix's document.
integration: venv
	$(BIN)/pytest $(INTEGRATION_FLAGS) -m integration tests

# A real deployment (PostgreSQL, scheduler, dag-processor, triggerer, api-server) and the
# connection form in headless Chromium; one at a time. The upgrade test swaps an earlier release's
# wheel for the built one under deferred waits.
e2e: venv $(WHEEL)
	TTM_WHEEL=$(CURDIR)/$(WHEEL) $(BIN)/pytest -m "e2e and not distributed" tests

# The distributed deployment (PostgreSQL, Redis, CeleryExecutor, two workers, two triggerers:
# tests/e2e/test_distributed.py), a stage of its own in `make test` (about 3 to 4.5 minutes).
e2e-distributed: venv
	$(BIN)/pytest -m distributed tests/e2e

# The real deployment on the oldest Airflow 3 line (the browser test, the distributed deployment,
# whose Celery provider is pinned for 3.3 only, and start_from_trigger, which starts in the
# triggerer from 3.3 on and is unit-tested falling back elsewhere, stay on 3.3, as do the stopped
# run's test, which tests the harness, and the upgrade under deferred waits, whose stored triggers
# are unit-tested on every line).
e2e-3.0: venv-3.0
	TTM_WHEEL=$(CURDIR)/$(WHEEL) .venv-3.0/bin/pytest -m "e2e and not distributed" -k "not start_from_trigger and not stopped_run and not upgrade" tests/e2e

# The inner loop: lint, types and the unit tests on Airflow 3.3.
check: lint
	$(BIN)/pytest $(XDIST) -q -m "not integration and not e2e" tests

test:
	@$(PYTHON) .ci/stages.py $(STAGES)

demo: venv
	$(BIN)/python -m airflow_provider_ttm.testing.demo --dags-folder dags \
		--asset-triggered example_ttm_champion_consumer=example_ttm_nightly_retrain \
		example_ttm_model_lifecycle example_ttm_deferrable example_ttm_nightly_retrain example_ttm_maintenance

# Waiting at scale, hook call cost and DAG parse cost, measured; rewrites benchmarks/README.md.
bench: venv
	$(BIN)/python benchmarks/run_all.py

# Deferred waits (N = 10, 100, 1000, coalesced and per-model) in the distributed deployment of the
# e2e tests, with the in-process figures for the same N; rewrites the deployment section of
# benchmarks/README.md, benchmarks/deployment.json and the plot benchmarks/deployment.png. Not in
# `make test` nor CI (about an hour on 2 cores). matplotlib (requirements/bench.txt) only here.
$(VENV)/.bench-installed: requirements/bench.txt $(VENV)/.installed | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -c $(PINNED) -r requirements/bench.txt
	touch $@

bench-deployment: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/deployment.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(foreach line,$(LINES),.venv-$(line)) $(TOOLS) $(RELEASE) $(RELEASE_CHECK) dist build \
		.pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
