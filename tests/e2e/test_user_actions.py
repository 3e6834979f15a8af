"""What a user's action on a running or deferred TTM task does, in a real deployment.

One DAG run holds every scenario, all running at once: create-and-wait, train-and-wait and the
sensor, each in poke and in deferrable mode, each marked failed, marked success or cleared through
the REST API (as the UI does it), or ended by its ``execution_timeout``. The emulator trains for an
hour, so every task is still waiting when it is acted on. Afterwards the emulator's records say
which models exist and which were deleted, and that no model was created or fitted twice.

Expected (see docs/deferrable.md, "User actions on a running task"):

- mark failed, and execution_timeout of the last try: the model the task created, or whose fit it
  requested, is deleted; on Airflow 3.0 to 3.2 a deferred task's mark failed keeps it (Airflow
  runs no trigger ``on_kill`` before 3.3);
- mark success keeps the model; clear keeps it and the next try resumes it (it ends once the model
  is Ready; Airflow 3.0 runs no next try of a cleared running task, which the user clears again);
- the sensor's model is never deleted.
"""

from __future__ import annotations

import secrets
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_3_PLUS

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess

pytestmark = pytest.mark.e2e

DAG_ID = "ttm_e2e_user_actions"
MODES = ("poke", "defer")
ACTIONS = ("failed", "success", "clear", "timeout")
KINDS = ("create", "train", "sensor")
EXECUTION_TIMEOUT_SECONDS = 45
DAG_SOURCE = textwrap.dedent(
    f"""
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
    from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    DATA = {{"inputs": [f"text {{i}}" for i in range(40)], "classes": [i % 2 for i in range(40)]}}

    with DAG("{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_tasks=64):
        for mode in {MODES!r}:
            for action in {ACTIONS!r}:
                common = dict(
                    deferrable=mode == "defer",
                    retries=0,
                    execution_timeout=(
                        timedelta(seconds={EXECUTION_TIMEOUT_SECONDS}) if action == "timeout" else None
                    ),
                )
                TuneTheModelCreateModelOperator(
                    task_id=f"create_{{mode}}_{{action}}",
                    model_type="classifier",
                    num_classes=2,
                    wait_for_ready=True,
                    poll_interval=1,
                    **common,
                )
                TuneTheModelTrainModelOperator(
                    task_id=f"train_{{mode}}_{{action}}",
                    model_name="{{{{ dag_run.conf['train_%s_%s'] }}}}" % (mode, action),
                    train_data=DATA,
                    validation_data=DATA,
                    wait_for_ready=True,
                    poll_interval=1,
                    **common,
                )
                TuneTheModelModelReadySensor(
                    task_id=f"sensor_{{mode}}_{{action}}",
                    model_name="{{{{ dag_run.conf['sensor_%s_%s'] }}}}" % (mode, action),
                    poke_interval=1,
                    timeout=3600,
                    **common,
                )
    """
)
TASK_IDS = [f"{kind}_{mode}_{action}" for kind in KINDS for mode in MODES for action in ACTIONS]
#: The task instance state each scenario ends in (a cleared task's next try ends Ready).
EXPECTED_STATE = {"failed": "failed", "success": "success", "clear": "success", "timeout": "failed"}


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorProcess]:
    """This module's own emulator: a model trains for an hour unless the test makes it Ready."""
    key = f"ttm-e2e-key-{secrets.token_hex(8)}"
    with EmulatorProcess(api_key=key, auto_train="1h", train_duration="1h") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def airflow_deployment_env(emulator_process: EmulatorProcess) -> dict[str, str]:
    """``ttm_default`` on this module's emulator; room for the 24 tasks to run at once."""
    return {"AIRFLOW_CONN_TTM_DEFAULT": emulator_process.conn_json, "AIRFLOW__CORE__PARALLELISM": "16"}


def _new_model(emulator: EmulatorProcess) -> str:
    headers = {"Authorization": emulator.api_key}
    body = {"model_type": "classifier", "model_params": {"num_classes": 2}}
    reply = httpx.post(f"{emulator.url}/v0/models", json=body, headers=headers, timeout=10)
    return str(reply.raise_for_status().json()["model_name"])


def _until(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def test_user_actions_on_running_and_deferred_tasks(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api, emulator = airflow_deployment, airflow_deployment.client, emulator_process
    deployment.add_dag_file(f"{DAG_ID}.py", DAG_SOURCE)
    # The models the train tasks fit and the sensors wait on are the user's, made beforehand.
    conf = {
        f"{kind}_{m}_{a}": _new_model(emulator)
        for kind in ("train", "sensor")
        for m in MODES
        for a in ACTIONS
    }
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID, conf=conf)["dag_run_id"]
    prefix = f"{DAG_ID}.{{}}.{run_id}"  # the create tasks' default model names
    created: dict[str, str] = {}  # create task -> the id of the model it created

    def tis() -> dict[str, dict[str, Any]]:
        return {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, run_id)}

    def models() -> dict[str, dict[str, Any]]:
        return {model["model_name"]: model for model in emulator.state()["models"]}

    def model_of(task_id: str) -> str:
        return created[task_id] if task_id.startswith("create_") else conf[task_id]

    def waiting(ti: dict[str, Any], live: dict[str, dict[str, Any]]) -> bool:
        """The task waits for its model: in the worker with its training started, or in the triggerer."""
        task_id = ti["task_id"]
        if task_id.startswith("create_"):
            names = {model["user_name"]: name for name, model in live.items()}
            if prefix.format(task_id) in names:
                created[task_id] = names[prefix.format(task_id)]
        if task_id.endswith("_timeout"):
            return True  # nobody acts on these
        if task_id.startswith("create_") and task_id not in created:
            return False
        if task_id.startswith("train_") and live[conf[task_id]]["status"] in ("Created", "DatasetsLoaded"):
            return False
        if "_defer_" in task_id:
            return ti["state"] == "deferred" and bool(ti["triggerer_job"])
        return ti["state"] == "running"

    def all_waiting() -> bool:
        live, now = models(), tis()
        return all(task_id in now and waiting(now[task_id], live) for task_id in TASK_IDS)

    _until("every task to wait on its model", all_waiting, timeout=240)
    time.sleep(3)  # the triggerer has started the claimed triggers

    def act(task_id: str) -> None:
        action = task_id.rsplit("_", 1)[1]
        if action in ("failed", "success"):
            api.set_task_state(DAG_ID, run_id, task_id, action)
        elif action == "clear":
            api.clear_task(DAG_ID, run_id, task_id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(act, [task_id for task_id in TASK_IDS if not task_id.endswith("_timeout")]))

    # A cleared task's next try resumes its model: once it waits again, the model is made Ready.
    cleared = [task_id for task_id in TASK_IDS if task_id.endswith("_clear")]

    if not AIRFLOW_V_3_1_PLUS:
        # Airflow 3.0 does not run a cleared running task again (3.1 does): once its process ended
        # it stays "restarting" until its heartbeat times out. The user clears it once more.
        poke_cleared = [task_id for task_id in cleared if "_poke_" in task_id]

        def ended_restarting() -> bool:
            finished = [line for _, line in deployment.grep_logs("TaskInstance Finished")]
            return all(
                any(f"task_id={task_id}," in line and "state=restarting" in line for line in finished)
                for task_id in poke_cleared
            )

        _until("the cleared running tasks to end", ended_restarting, timeout=120)
        now = tis()
        assert {task_id: now[task_id]["state"] for task_id in poke_cleared} == dict.fromkeys(
            poke_cleared, "restarting"
        )
        for task_id in poke_cleared:
            api.clear_task(DAG_ID, run_id, task_id)

    def retried() -> bool:
        now, live = tis(), models()
        return all(now[task_id]["try_number"] >= 2 and waiting(now[task_id], live) for task_id in cleared)

    _until("the cleared tasks to wait again", retried, timeout=180)
    for task_id in cleared:
        emulator.force_status(model_of(task_id), "Ready")
    run = api.wait_for_run(DAG_ID, run_id, timeout=240)

    final = tis()
    states = {task_id: final[task_id]["state"] for task_id in TASK_IDS}
    assert states == {task_id: EXPECTED_STATE[task_id.rsplit("_", 1)[1]] for task_id in TASK_IDS}
    assert run["state"] == "failed"

    live = models()
    state = emulator.state()
    expected_gone = {
        f"{kind}_{mode}_{action}"
        for kind in ("create", "train")
        for mode in MODES
        for action in ("failed", "timeout")
        if AIRFLOW_V_3_3_PLUS or (mode, action) != ("defer", "failed")
    }
    gone = {task_id for task_id in TASK_IDS if model_of(task_id) not in live}
    assert gone == expected_gone, {task_id: final[task_id]["state"] for task_id in gone}
    assert state["deleted_models"] == len(expected_gone)
    for task_id in TASK_IDS:
        if task_id in expected_gone:
            continue
        status = live[model_of(task_id)]["status"]
        if task_id.endswith("_clear"):
            assert status == "Ready", task_id
        elif not task_id.startswith("sensor_"):
            assert status != "Ready", task_id  # kept as it was: still training
    # No model was created twice (16 made by the test, one per create task) and none fitted twice.
    assert state["counters"]["POST /v0/models"] == len(conf) + len(created) == 24
    assert state["counters"]["POST /v0/models/{id}/fit"] == len(MODES) * len(ACTIONS)

    # What was deleted, and why, is in the logs: the worker's for running tasks and execution_timeout,
    # the triggerer's for deferred tasks marked failed (3.3).
    deletions = [line for _, line in deployment.grep_logs("to stop its training")]
    for task_id in expected_gone:
        reason = "marked failed" if task_id.endswith("_failed") else "execution_timeout"
        assert any(model_of(task_id) in line and reason in line for line in deletions), (task_id, deletions)
    trigger_logs = deployment.trigger_logs(DAG_ID, run_id)
    if AIRFLOW_V_3_3_PLUS:
        kept_by_trigger = [text for text in trigger_logs.values() if "Task killed" in text]
        assert kept_by_trigger, "the triggerer ran the deferred tasks' on_kill"
    assert deployment.grep_logs(emulator.api_key) == []
