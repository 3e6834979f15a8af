"""Sensors with ``start_from_trigger=True`` in a real deployment: on Airflow 3.3+ no worker runs them.

Five create -> wait pairs, each sensor starting in the triggerer with its ``model_name`` rendered
there from the create task's XCom and ended there by the trigger (``end_from_trigger``), and one
control sensor that defers from a worker as before. A worker launch is a task instance the
scheduler hands to the executor (its "Setting the following tasks to queued state" lines): a sensor
deferred from a worker is queued twice (start, then resume after the event), one run wholly in the
triggerer never, on lines that support it. A second DAG waits on a model whose training failed.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_ttm.version_compat import START_FROM_TRIGGER_SUPPORTED, get_base_airflow_version_tuple

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .rest_client import AirflowApiError

pytestmark = pytest.mark.e2e

DAG_ID = "ttm_e2e_start_from_trigger"
WAITS = 5
DAG = textwrap.dedent(
    f"""
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ttm.operators.ttm import (
        TuneTheModelCreateModelOperator,
        TuneTheModelDeleteModelOperator,
    )
    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        for i in range({WAITS}):
            create = TuneTheModelCreateModelOperator(
                task_id=f"create_{{i}}", model_type="classifier", num_classes=2
            )
            wait = TuneTheModelModelReadySensor(
                task_id=f"wait_{{i}}",
                model_name=f"{{{{{{{{ ti.xcom_pull(task_ids='create_{{i}}', map_indexes=-1) }}}}}}}}",
                deferrable=True,
                start_from_trigger=True,
                poke_interval=1,
                timeout=600,
            )
            delete = TuneTheModelDeleteModelOperator(task_id=f"delete_{{i}}", model_name=create.output)
            create >> wait >> delete.as_teardown(setups=create)
            if i == 0:
                control = TuneTheModelModelReadySensor(
                    task_id="wait_control",
                    model_name="{{{{ ti.xcom_pull(task_ids='create_0') }}}}",
                    deferrable=True,
                    poke_interval=1,
                    timeout=600,
                )
                create >> control >> delete
    """
)
FAILED_DAG_ID = "ttm_e2e_start_from_trigger_fit_failed"
FAILED_DAG = textwrap.dedent(
    f"""
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    with DAG("{FAILED_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        for task_id, extra in (
            ("wait_failed", {{"retries": 1, "retry_delay": timedelta(seconds=1)}}),
            ("wait_soft_fail", {{"soft_fail": True}}),
        ):
            TuneTheModelModelReadySensor(
                task_id=task_id,
                model_name="{{{{ dag_run.conf['model'] }}}}",
                deferrable=True,
                start_from_trigger=True,
                poke_interval=1,
                timeout=600,
                **extra,
            )
    """
)
#: Airflow retries a task that its trigger failed (TaskFailedEvent) from 3.3.1 (apache/airflow PR 69821).
TRIGGER_FAILURES_RETRY = get_base_airflow_version_tuple() >= (3, 3, 1)
#: One indented line per task instance under the scheduler's "Setting the following tasks to queued state".
QUEUED_TI = re.compile(r"\s+<TaskInstance: ([\w.]+)\.(\w+) ")
CREATED = re.compile(r"Created classifier ([0-9a-f]{32})")
ENDED_BY_THE_TRIGGER = "Ending the task from the triggerer: "


def queued_launches(deployment: AirflowDeployment, dag_id: str) -> Counter[str]:
    """How many times the scheduler queued each task of a DAG for a worker."""
    log = deployment.log_path("scheduler").read_text(errors="replace")
    launches: Counter[str] = Counter()
    for block in log.split("Setting the following tasks to queued state")[1:]:
        # The block lists the queued task instances, one a line, up to the next log record.
        for line in block.splitlines()[1:]:
            match = QUEUED_TI.match(line)
            if match is None:
                break
            if match.group(1) == dag_id:
                launches[match.group(2)] += 1
    return launches


def task_logs(
    deployment: AirflowDeployment, task_id: str, dag_id: str = DAG_ID, attempt: int = 1
) -> dict[str, str]:
    """A try's log files by name: the worker's ``attempt=N.log``, the triggerer's ``attempt=N.log.trigger.*``."""
    paths = (deployment.airflow_home / "logs" / f"dag_id={dag_id}").glob(
        f"run_id=*/task_id={task_id}/attempt={attempt}.log*"
    )
    return {path.name: path.read_text(errors="replace") for path in paths}


def task_log(deployment: AirflowDeployment, task_id: str) -> str:
    """What the workers logged for the first try of a task of the DAG."""
    return task_logs(deployment, task_id)["attempt=1.log"]


def trigger_log(deployment: AirflowDeployment, task_id: str, dag_id: str = DAG_ID, attempt: int = 1) -> str:
    """What the triggerer logged for a try of a task (its trigger's lines)."""
    logs = task_logs(deployment, task_id, dag_id, attempt)
    return "".join(text for name, text in logs.items() if ".log.trigger." in name)


def test_sensors_started_from_the_trigger_take_no_worker_launch(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    deployment.add_dag_file(f"{DAG_ID}.py", DAG)
    before = emulator_process.state()

    run = api.run_dag(DAG_ID, timeout=110)

    tis = api.task_instances(DAG_ID, run["dag_run_id"])
    assert run["state"] == "success", tis
    launches = queued_launches(deployment, DAG_ID)
    waits = [f"wait_{i}" for i in range(WAITS)]
    print(f"\nworker launches per task: {dict(sorted(launches.items()))}")
    # Every create task ran once on a worker, and the control sensor twice (start, resume).
    assert [launches[f"create_{i}"] for i in range(WAITS)] == [1] * WAITS, launches
    assert launches["wait_control"] == 2, launches
    # The worker's own log of each sensor: did execute() run (and defer), or only the resume?
    deferred_from_a_worker = "is not Ready yet; deferring the wait to the triggerer"
    assert deferred_from_a_worker in task_log(deployment, "wait_control")
    for i, wait in enumerate(waits):
        # Each sensor waited on its own create task's model: the triggerer rendered model_name from XCom.
        created = CREATED.search(task_log(deployment, f"create_{i}"))
        assert created is not None
        model_name = created.group(1)
        if START_FROM_TRIGGER_SUPPORTED:
            # The Ready model's record is the sensor's return_value, pushed by the triggerer.
            record = api.xcom(DAG_ID, run["dag_run_id"], wait)
            assert (record["model_name"], record["status"]) == (model_name, "Ready"), record
            # No worker ran the sensor: it has no worker log, only the trigger's, which ended it.
            assert "attempt=1.log" not in task_logs(deployment, wait), wait
            ended = f"Model {model_name} is Ready. {ENDED_BY_THE_TRIGGER}success."
            assert ended in trigger_log(deployment, wait), wait
        else:
            assert "start_from_trigger: the task started on a worker" in task_log(deployment, wait), wait
            assert f"Model {model_name} is Ready." in task_log(deployment, wait)
    if START_FROM_TRIGGER_SUPPORTED:
        # The control and wait_0 waited on the same model: the same record, a worker's or the triggerer's.
        control_record = api.xcom(DAG_ID, run["dag_run_id"], "wait_control")
        assert api.xcom(DAG_ID, run["dag_run_id"], "wait_0") == control_record
    # Started in the triggerer and ended there: no worker launch at all (elsewhere: start, resume).
    per_sensor = 0 if START_FROM_TRIGGER_SUPPORTED else 2
    assert [launches[w] for w in waits] == [per_sensor] * WAITS, launches
    state = emulator_process.state()
    assert state["models"] == before["models"], "the teardowns deleted every model"
    assert deployment.grep_logs(emulator_process.api_key) == []


@pytest.fixture
def failed_model(emulator_process: EmulatorProcess) -> Iterator[str]:
    """A model whose training failed; deleted after the test."""
    headers = {"Authorization": emulator_process.api_key}
    body = {"model_type": "classifier", "model_params": {"num_classes": 2}}
    reply = httpx.post(f"{emulator_process.url}/v0/models", json=body, headers=headers, timeout=10)
    model_name = str(reply.raise_for_status().json()["model_name"])
    emulator_process.force_status(model_name, "FitFailed")
    yield model_name
    url = f"{emulator_process.url}/v0/models/{model_name}/delete"
    httpx.delete(url, headers=headers, timeout=10).raise_for_status()


def test_a_failed_training_ends_the_task_in_the_triggerer(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess, failed_model: str
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    deployment.add_dag_file(f"{FAILED_DAG_ID}.py", FAILED_DAG)

    run = api.run_dag(FAILED_DAG_ID, conf={"model": failed_model}, timeout=110)

    tis = {ti["task_id"]: ti for ti in api.task_instances(FAILED_DAG_ID, run["dag_run_id"])}
    states = {task_id: (ti["state"], ti["try_number"]) for task_id, ti in tis.items()}
    launches = queued_launches(deployment, FAILED_DAG_ID)
    print(f"\nfailed fit: (state, try) per task: {states}; worker launches: {dict(launches)}")
    assert run["state"] == "failed", states
    if START_FROM_TRIGGER_SUPPORTED:
        # Failed from the triggerer; Airflow 3.3.1+ retries such a failure per `retries` (the retry
        # starts in the triggerer again), where a worker fails a failed fit without retrying.
        tries = 2 if TRIGGER_FAILURES_RETRY else 1
        assert states == {"wait_failed": ("failed", tries), "wait_soft_fail": ("skipped", 1)}
        assert launches == Counter(), launches
        for attempt in range(1, tries + 1):
            log = trigger_log(deployment, "wait_failed", FAILED_DAG_ID, attempt)
            assert "FitFailed" in log and f"{ENDED_BY_THE_TRIGGER}failed." in log, (attempt, log)
        assert f"{ENDED_BY_THE_TRIGGER}skipped." in trigger_log(deployment, "wait_soft_fail", FAILED_DAG_ID)
        with pytest.raises(AirflowApiError, match="404"):
            api.xcom(FAILED_DAG_ID, run["dag_run_id"], "wait_failed")
    else:
        # A worker sees the failed fit at its first check and raises AirflowFailException: no retry;
        # soft_fail skips it.
        assert states == {"wait_failed": ("failed", 1), "wait_soft_fail": ("skipped", 1)}
        assert launches == Counter({"wait_failed": 1, "wait_soft_fail": 1}), launches
    assert deployment.grep_logs(emulator_process.api_key) == []
