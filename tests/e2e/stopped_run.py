"""Run by ``test_stopped_run.py`` in a child pytest (its name keeps it out of every other run): a small
deployment through the real harness (PostgreSQL, a triggerer with its trigger runner, the emulator),
whose processes it writes to ``$TTM_STOPPED_RUN_REPORT``; then it waits to be stopped."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from airflow_provider_ttm.testing.lifetime import reaper

from .airflow_home import AirflowStartError
from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .processes import descendants, group_members

REPORT_VAR = "TTM_STOPPED_RUN_REPORT"
TEARDOWN_DONE = "stopped-run teardown done"
WAIT_SECONDS = 600.0  # far longer than the parent takes to stop this run


class TriggererOnly(AirflowDeployment):
    """PostgreSQL and a triggerer: an Airflow component with a child (its trigger runner)."""

    COMPONENTS = {"triggerer": AirflowDeployment.COMPONENTS["triggerer"]}

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until the triggerer has started its trigger runner (there is no api-server to ask)."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while len(group_members(self.component("triggerer").pgid)) < 2:
            self._check_running()
            if time.monotonic() > deadline:
                raise AirflowStartError(f"no trigger runner in time\n{self.describe_logs()}")
            time.sleep(0.2)


@pytest.fixture
def small_deployment(emulator_process: EmulatorProcess) -> Iterator[AirflowDeployment]:
    """The deployment, stopped by the fixture's teardown (which says so on stdout)."""
    with TriggererOnly(extra_env={"AIRFLOW_CONN_TTM_DEFAULT": emulator_process.conn_json}) as deployment:
        yield deployment
    print(f"\n{TEARDOWN_DONE}: {deployment.stop_outcome}", flush=True)


def test_wait_to_be_stopped(small_deployment: AirflowDeployment) -> None:
    report = {
        "pids": descendants(os.getpid()),
        "components": small_deployment.component_pids(),
        "marker": small_deployment.marker,
        "root": str(small_deployment.root),
        "reaper": reaper().pid,
    }
    with open(os.environ[REPORT_VAR], "w") as out:
        json.dump(report, out)
    time.sleep(WAIT_SECONDS)
