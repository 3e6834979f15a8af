"""The deferrable example DAG in a real deployment: scheduler, dag-processor, triggerer, api-server,
LocalExecutor on PostgreSQL, with the emulator in its own process; driven through the REST API v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .rest_client import TaskInstances

pytestmark = pytest.mark.e2e

DAG_ID = "example_ttm_deferrable"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / f"{DAG_ID}.py"
OUR_TRIGGER = "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"


def test_deferrable_dag_waits_in_the_triggerer_and_cleans_up(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    deployment.copy_dag(DAG_FILE)
    deferred: list[dict[str, Any]] = []

    def on_poll(tis: TaskInstances) -> None:
        deferred.extend(ti for ti in tis if ti["state"] == "deferred")

    run = api.run_dag(DAG_ID, timeout=240, on_poll=on_poll)

    tis = api.task_instances(DAG_ID, run["dag_run_id"])
    assert run["state"] == "success", tis
    assert {(ti["task_id"], ti["state"]) for ti in tis} == {
        ("create_model", "success"),
        ("wait_until_ready", "success"),
        ("delete_model", "success"),
        ("create_and_wait", "success"),
        ("delete_generator", "success"),
    }
    # The waits were deferred, and claimed by the triggerer, while the models trained.
    waiting = {ti["task_id"] for ti in deferred if ti["trigger"] and ti["triggerer_job"]}
    assert "wait_until_ready" in waiting, deferred
    for ti in deferred:
        if ti["trigger"]:
            assert ti["trigger"]["classpath"] == OUR_TRIGGER
        if ti["triggerer_job"]:
            assert ti["triggerer_job"]["job_type"] == "TriggererJob"
    # The trigger ran in the triggerer: its status lines are in the trigger log files.
    trigger_logs = [path for path in deployment.log_files() if ".log.trigger." in path.name]
    assert trigger_logs
    assert any("is Ready" in path.read_text(errors="replace") for path in trigger_logs)
    # Every model the run created was deleted by the teardowns.
    state = emulator_process.state()
    assert state["counters"].get("POST /v0/models") == 4
    assert state["models"] == []
    assert state["deleted_models"] == 4
    # The API key appears in no log the deployment wrote.
    assert deployment.grep_logs(emulator_process.api_key) == []
