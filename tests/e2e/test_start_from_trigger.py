"""Sensors with ``start_from_trigger=True`` in a real deployment: on Airflow 3.3+ no worker starts them.

Five create -> wait pairs, each sensor starting in the triggerer with its ``model_name`` rendered
there from the create task's XCom, and one control sensor that defers from a worker as before. A
worker launch is a task instance the scheduler hands to the executor (its "Setting the following
tasks to queued state" lines): a sensor deferred from a worker is queued twice (start, then resume
after the event), one started in the triggerer once (the resume alone), on lines that support it.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter

import pytest

from airflow_provider_ttm.version_compat import START_FROM_TRIGGER_SUPPORTED

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess

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
#: One indented line per task instance under the scheduler's "Setting the following tasks to queued state".
QUEUED_TI = re.compile(rf"\s+<TaskInstance: {DAG_ID}\.(\w+) ")


CREATED = re.compile(r"Created classifier ([0-9a-f]{32})")


def queued_launches(deployment: AirflowDeployment) -> Counter[str]:
    """How many times the scheduler queued each task of the DAG for a worker."""
    log = deployment.log_path("scheduler").read_text(errors="replace")
    launches: Counter[str] = Counter()
    for block in log.split("Setting the following tasks to queued state")[1:]:
        # The block lists the queued task instances, one a line, up to the next log record.
        for line in block.splitlines()[1:]:
            match = QUEUED_TI.match(line)
            if match is None:
                break
            launches[match.group(1)] += 1
    return launches


def task_log(deployment: AirflowDeployment, task_id: str) -> str:
    """What the workers logged for the first try of a task of the DAG (the trigger's log is apart)."""
    (path,) = (deployment.airflow_home / "logs" / f"dag_id={DAG_ID}").glob(
        f"run_id=*/task_id={task_id}/attempt=1.log"
    )
    return path.read_text(errors="replace")


def test_sensors_started_from_the_trigger_take_no_worker_launch_to_start(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    deployment.add_dag_file(f"{DAG_ID}.py", DAG)
    before = emulator_process.state()

    run = api.run_dag(DAG_ID, timeout=110)

    tis = api.task_instances(DAG_ID, run["dag_run_id"])
    assert run["state"] == "success", tis
    launches = queued_launches(deployment)
    waits = [f"wait_{i}" for i in range(WAITS)]
    print(f"\nworker launches per task: {dict(sorted(launches.items()))}")
    # Every create task ran once on a worker, and the control sensor twice (start, resume).
    assert [launches[f"create_{i}"] for i in range(WAITS)] == [1] * WAITS, launches
    assert launches["wait_control"] == 2, launches
    # The worker's own log of each sensor: did execute() run (and defer), or only the resume?
    deferred_from_a_worker = "is not Ready yet; deferring the wait to the triggerer"
    assert deferred_from_a_worker in task_log(deployment, "wait_control")
    for wait in waits:
        log = task_log(deployment, wait)
        if START_FROM_TRIGGER_SUPPORTED:
            assert deferred_from_a_worker not in log, wait
            assert "start_from_trigger:" not in log, wait
        else:
            assert "start_from_trigger: the task started on a worker" in log, wait
    if START_FROM_TRIGGER_SUPPORTED:
        # Started in the triggerer: a worker ran each sensor once, to finish it after the event.
        assert [launches[w] for w in waits] == [1] * WAITS, launches
    else:
        assert [launches[w] for w in waits] == [2] * WAITS, launches
    # Each sensor waited on its own create task's model: the triggerer rendered model_name from XCom.
    for i in range(WAITS):
        created = CREATED.search(task_log(deployment, f"create_{i}"))
        assert created is not None
        assert f"Model {created.group(1)} is Ready." in task_log(deployment, f"wait_{i}")
    state = emulator_process.state()
    assert state["models"] == before["models"], "the teardowns deleted every model"
    assert deployment.grep_logs(emulator_process.api_key) == []
