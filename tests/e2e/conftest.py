"""Fixtures for end-to-end tests: a real Airflow deployment shared by the tests of a module (LocalExecutor,
or the distributed one with CeleryExecutor).

Set ``TTM_E2E_KEEP=1`` to keep a deployment's temp dir (logs) after the session; it is also
kept, and its path printed, when an e2e test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .deployment import AirflowDeployment
from .distributed import DistributedDeployment
from .emulator_process import EmulatorProcess
from .rest_client import AirflowRestClient

_FAILED = pytest.StashKey[bool]()
_DEPLOYMENT = pytest.StashKey[AirflowDeployment]()
_KEEP = os.environ.get("TTM_E2E_KEEP") == "1"


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    """The TTM API emulator in a process of its own, as a user would run it next to Airflow."""
    with EmulatorProcess(api_key=f"ttm-e2e-key-{secrets.token_hex(8)}", auto_train="20s") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def airflow_deployment_env(emulator_process: EmulatorProcess) -> dict[str, str]:
    """Extra environment for every Airflow component: ``ttm_default`` points at the emulator."""
    return {
        "AIRFLOW_CONN_TTM_DEFAULT": emulator_process.conn_json,
        "TTM_EXAMPLE_POKE_INTERVAL": "1",
        "TTM_EXAMPLE_RETRY_DELAY": "1",
    }


@contextlib.contextmanager
def _watched(request: pytest.FixtureRequest, deployment: AirflowDeployment) -> Iterator[None]:
    """Run ``deployment`` for the fixture: its logs go into failed tests' reports, and it is kept
    (its path printed) when one failed; a process surviving its stop fails the session."""
    request.config.stash[_DEPLOYMENT] = deployment
    request.config.stash[_FAILED] = False
    with deployment:
        yield
        if request.config.stash.get(_FAILED, False):
            deployment.keep = True
            print(f"\ne2e deployment kept for inspection: {deployment.root}")
    print(f"\ne2e deployment stopped: {deployment.stop_outcome}")


@pytest.fixture(scope="module")
def airflow_bin_dir() -> Path | None:
    """The venv bin dir whose ``airflow`` runs the deployment: None for the test's own (a module
    may override it, as the upgrade test does with a venv whose provider it swaps)."""
    return None


@pytest.fixture(scope="module")
def airflow_deployment(
    request: pytest.FixtureRequest, airflow_deployment_env: dict[str, str], airflow_bin_dir: Path | None
) -> Iterator[AirflowDeployment]:
    """A started Airflow deployment; stopped after the module, failing if a process survives."""
    deployment = AirflowDeployment(extra_env=airflow_deployment_env, keep=_KEEP, bin_dir=airflow_bin_dir)
    with _watched(request, deployment):
        yield deployment


@pytest.fixture(scope="module")
def distributed_emulator() -> Iterator[EmulatorProcess]:
    """An emulator of its own for the distributed deployment (its keys are rotated there); a bare
    created model would train for an hour: the tests set each model's status themselves."""
    with EmulatorProcess(api_key=f"ttm-e2e-key-{secrets.token_hex(8)}", auto_train="1h") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def distributed_deployment(request: pytest.FixtureRequest) -> Iterator[DistributedDeployment]:
    """CeleryExecutor with two workers and two triggerers (see ``distributed.py``), for one module."""
    deployment = DistributedDeployment(keep=_KEEP)
    with _watched(request, deployment):
        yield deployment


@pytest.fixture(scope="module")
def airflow_api(airflow_deployment: AirflowDeployment) -> AirflowRestClient:
    """REST API v2 client of the shared deployment."""
    return airflow_deployment.client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed e2e test, attach the tails of the component logs to its report."""
    report = yield
    deployment = item.config.stash.get(_DEPLOYMENT, None)
    if report.failed and deployment is not None and item.get_closest_marker("e2e"):
        item.config.stash[_FAILED] = True
        report.sections.append(("e2e deployment logs", deployment.describe_logs()))
    return report
