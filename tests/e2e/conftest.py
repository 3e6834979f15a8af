"""Fixtures for end-to-end tests: one real Airflow deployment shared by the whole session.

Set ``TTM_E2E_KEEP=1`` to keep the deployment's temp dir (logs) after the session; it is also
kept, and its path printed, when an e2e test fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator

import pytest

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .rest_client import AirflowRestClient

_FAILED = pytest.StashKey[bool]()
_DEPLOYMENT = pytest.StashKey[AirflowDeployment]()


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


@pytest.fixture(scope="session")
def airflow_deployment(
    request: pytest.FixtureRequest, airflow_deployment_env: dict[str, str]
) -> Iterator[AirflowDeployment]:
    """A started Airflow deployment; stopped at the end of the session, failing if a process survives."""
    deployment = AirflowDeployment(
        extra_env=airflow_deployment_env, keep=os.environ.get("TTM_E2E_KEEP") == "1"
    )
    request.config.stash[_DEPLOYMENT] = deployment
    with deployment:
        yield deployment
        if request.config.stash.get(_FAILED, False):
            deployment.keep = True
            print(f"\ne2e deployment kept for inspection: {deployment.root}")
    print(f"\ne2e deployment stopped: {deployment.stop_outcome}")


@pytest.fixture(scope="session")
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
