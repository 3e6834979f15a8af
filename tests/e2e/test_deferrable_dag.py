"""The deferrable example DAG in a real deployment: scheduler, dag-processor, triggerer, api-server,
LocalExecutor on PostgreSQL, with the emulator in its own process; driven through the REST API v2."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
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
    before = emulator_process.state()
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
        ("generate", "success"),
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
    assert state["counters"].get("POST /v0/models", 0) - before["counters"].get("POST /v0/models", 0) == 4
    assert state["models"] == before["models"]
    assert state["deleted_models"] - before["deleted_models"] == 4
    # generate called the generator create_and_wait made, once per input.
    generated = "POST /v0/models/{id}/generate"
    assert state["counters"].get(generated, 0) - before["counters"].get(generated, 0) == 2
    # The API key appears in no log the deployment wrote.
    assert deployment.grep_logs(emulator_process.api_key) == []


EXECUTION_TIMEOUT_DAG_ID = "ttm_e2e_execution_timeout"
EXECUTION_TIMEOUT_DAG = textwrap.dedent(
    f"""
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    with DAG("{EXECUTION_TIMEOUT_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        TuneTheModelModelReadySensor(
            task_id="wait",
            model_name="{{{{ dag_run.conf['model'] }}}}",
            deferrable=True,
            poke_interval=2,
            timeout=3600,
            execution_timeout=timedelta(seconds=30),
            retries=0,
        )
    """
)


def _model_that_never_becomes_ready(emulator: EmulatorProcess) -> str:
    headers = {"Authorization": emulator.api_key}
    body = {"model_type": "classifier", "model_params": {"num_classes": 2}}
    reply = httpx.post(f"{emulator.url}/v0/models", json=body, headers=headers, timeout=10)
    model_name = str(reply.raise_for_status().json()["model_name"])
    forced = httpx.post(f"{emulator.url}/_emulator/models/{model_name}/status", json={"status": "Training"})
    forced.raise_for_status()
    return model_name


def test_execution_timeout_ends_a_deferred_sensor(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    deployment.add_dag_file(f"{EXECUTION_TIMEOUT_DAG_ID}.py", EXECUTION_TIMEOUT_DAG)
    model_name = _model_that_never_becomes_ready(emulator_process)
    deferred: list[dict[str, Any]] = []

    def on_poll(tis: TaskInstances) -> None:
        deferred.extend(ti for ti in tis if ti["state"] == "deferred" and ti["trigger"])

    api.wait_for_dag(EXECUTION_TIMEOUT_DAG_ID)
    api.unpause(EXECUTION_TIMEOUT_DAG_ID)
    triggered = time.monotonic()
    run = api.trigger(EXECUTION_TIMEOUT_DAG_ID, conf={"model": model_name})
    # execution_timeout is 30 s, the sensor's timeout 1 h: the run must end failed, not stay deferred.
    run = api.wait_for_run(EXECUTION_TIMEOUT_DAG_ID, run["dag_run_id"], timeout=120, on_poll=on_poll)
    elapsed = time.monotonic() - triggered

    try:
        (ti,) = api.task_instances(EXECUTION_TIMEOUT_DAG_ID, run["dag_run_id"])
        assert (run["state"], ti["state"]) == ("failed", "failed"), ti
        assert deferred, "the sensor waited in the triggerer"
        assert deferred[0]["trigger"]["classpath"] == OUR_TRIGGER
        assert 25 < elapsed < 120
        # The task failed as a task timeout, at the end of its execution_timeout.
        failures = deployment.grep_logs("execution_timeout passed while it was deferred")
        assert failures, deployment.describe_logs()
        assert deployment.grep_logs(emulator_process.api_key) == []
    finally:
        httpx.delete(
            f"{emulator_process.url}/v0/models/{model_name}/delete",
            headers={"Authorization": emulator_process.api_key},
            timeout=10,
        ).raise_for_status()
