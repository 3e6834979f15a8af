"""Upgrading the provider under deferred waits, in a real deployment (issue 22, part 2).

The deployment runs from a venv of its own with the wheel of the release this round started from
(``UPGRADE_FROM``). A DAG defers four waits there: a sensor whose model becomes Ready, one whose
model never does (its timeout ends it), a create-and-wait and a train-and-wait, and each takes its
first reading in the triggerer. Then the components that run the provider's code for a wait are
stopped: the triggerer, the scheduler with its LocalExecutor workers, and the dag-processor (the
api-server, which takes no part in a wait, and PostgreSQL, which holds the triggers and
``next_kwargs``, keep running); the current wheel is installed over the old one, and they are
started again. Each wait resumes in the new triggerer and ends as it would have: Ready, FitFailed,
timeout. The
emulator's records show that no model was created twice, no fit was requested twice, nothing was
deleted, and the resumed train task deleted the dataset files the old release uploaded.

Airflow 3.3 only (``make e2e``): what the provider stores is loaded and resumed on every line by
``tests/unit/triggers/test_stored_triggers.py``; this test adds the deployment's own restart, and a
second run of it on 3.0 would add about three minutes to ``make test`` (``e2e-3.0`` deselects it).
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_ttm.testing.lifetime import reaper

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .provider_venv import ProviderVenv, current_wheel, release_wheel, wheel_sources
from .rest_client import wait_for

pytestmark = pytest.mark.e2e

#: The main this round started from: the release whose waits are in flight during the upgrade.
UPGRADE_FROM = "cdcf08e"
DAG_ID = "ttm_e2e_upgrade"
OUR_TRIGGER = "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"
#: The timeout of the sensor whose model never becomes Ready: long enough that the wait is still
#: deferred when the old components stop, short enough to end soon after the new ones start.
TIMEOUT_SECONDS = 90
WAITS = ("sensor_ready", "sensor_timeout", "create_and_wait", "train_and_wait")
#: What a wait runs: stopped for the upgrade, started again with the new wheel.
UPGRADED = ("triggerer", "scheduler", "dag-processor")
#: A trigger's log line for each status it reads ("Model <id> is Created (5.5s since the wait started).").
READING = re.compile(r"Model [0-9a-f]{32} is \w+ \(")
# Uses only arguments that UPGRADE_FROM has: the same file is parsed by both releases.
DAG = textwrap.dedent(
    f"""
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
    from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    ROWS = {{"inputs": [f"example {{i}}" for i in range(32)], "classes": [i % 2 for i in range(32)]}}

    with DAG(
        "{DAG_ID}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={{"retries": 0}},
    ):
        for task_id, conf_key, timeout in (
            ("sensor_ready", "ready", 600),
            ("sensor_timeout", "stuck", {TIMEOUT_SECONDS}),
        ):
            TuneTheModelModelReadySensor(
                task_id=task_id,
                model_name="{{{{ dag_run.conf['" + conf_key + "'] }}}}",
                deferrable=True,
                poke_interval=1,
                timeout=timeout,
            )
        TuneTheModelCreateModelOperator(
            task_id="create_and_wait",
            model_type="classifier",
            num_classes=2,
            wait_for_ready=True,
            deferrable=True,
            poll_interval=1,
            timeout=600,
        )
        create = TuneTheModelCreateModelOperator(
            task_id="create_for_training", model_type="classifier", num_classes=2
        )
        TuneTheModelTrainModelOperator(
            task_id="train_and_wait",
            model_name=create.output,
            train_data=ROWS,
            validation_data=ROWS,
            wait_for_ready=True,
            deferrable=True,
            poll_interval=1,
            timeout=600,
        )
    """
)


@pytest.fixture(scope="module")
def upgrade_work_dir() -> Iterator[Path]:
    """A temp dir for the wheels and the venv (about 800 MB), removed after the module (by the
    watchdog, should the test run die first)."""
    work_dir = Path(tempfile.mkdtemp(prefix="ttm-e2e-upgrade-"))
    reaper().watch_path(work_dir)
    try:
        yield work_dir
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        reaper().forget_path(work_dir)


@pytest.fixture(scope="module")
def upgrade_wheels(upgrade_work_dir: Path) -> tuple[Path, Path]:
    """(the wheel of ``UPGRADE_FROM``, the current wheel)."""
    return release_wheel(UPGRADE_FROM, upgrade_work_dir), current_wheel(upgrade_work_dir)


@pytest.fixture(scope="module")
def provider_venv(upgrade_work_dir: Path, upgrade_wheels: tuple[Path, Path]) -> ProviderVenv:
    """The pinned Airflow with the old release's provider."""
    venv = ProviderVenv(upgrade_work_dir / "venv")
    venv.create(upgrade_wheels[0])
    return venv


@pytest.fixture(scope="module")
def airflow_bin_dir(provider_venv: ProviderVenv) -> Path:
    """The deployment runs from the upgrade venv."""
    return provider_venv.bin_dir


@pytest.fixture(scope="module")
def upgrade_emulator() -> Iterator[EmulatorProcess]:
    """An emulator of its own where nothing trains by itself: the test sets each model's end."""
    with EmulatorProcess(api_key=f"ttm-e2e-key-{secrets.token_hex(8)}", auto_train="1h") as emulator:
        emulator.admin("POST", "config", {"train_seconds": "1h"})
        yield emulator


@pytest.fixture(scope="module")
def airflow_deployment_env(upgrade_emulator: EmulatorProcess) -> dict[str, str]:
    """``ttm_default`` on this module's emulator; a triggerer that died is taken over after 5 s."""
    return {
        "AIRFLOW_CONN_TTM_DEFAULT": upgrade_emulator.conn_json,
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    }


def _create_model(emulator: EmulatorProcess, name: str) -> str:
    """A classifier created through the API, as any client would; it stays Created."""
    body = {"model_type": "classifier", "name": name, "model_params": {"num_classes": 2}}
    reply = httpx.post(
        f"{emulator.url}/v0/models", json=body, headers={"Authorization": emulator.api_key}, timeout=10
    )
    return str(reply.raise_for_status().json()["model_name"])


def _logs(deployment: AirflowDeployment, run_id: str, task_id: str) -> dict[str, str]:
    """The first try's log files of a task, by name: the worker's ``attempt=1.log`` and the
    ``attempt=1.log.trigger.<triggerer job id>.log`` of each triggerer that ran its trigger."""
    task_dir = (
        deployment.airflow_home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    )
    return {path.name: path.read_text(errors="replace") for path in task_dir.glob("attempt=1.log*")}


def _trigger_logs(deployment: AirflowDeployment, run_id: str, task_id: str) -> list[str]:
    return [text for name, text in _logs(deployment, run_id, task_id).items() if ".trigger." in name]


def _triggerer_ids(logs: dict[str, str]) -> set[str]:
    return {name.split(".trigger.")[1].removesuffix(".log") for name in logs if ".trigger." in name}


def test_waits_deferred_by_the_previous_release_end_as_they_would_have_after_the_upgrade(
    airflow_deployment: AirflowDeployment,
    upgrade_emulator: EmulatorProcess,
    provider_venv: ProviderVenv,
    upgrade_wheels: tuple[Path, Path],
) -> None:
    deployment, emulator, api = airflow_deployment, upgrade_emulator, airflow_deployment.client
    old_wheel, new_wheel = upgrade_wheels
    assert wheel_sources(old_wheel) != wheel_sources(new_wheel), "the two releases must differ"
    assert provider_venv.installed_sources() == wheel_sources(old_wheel)
    started = time.monotonic()
    ready, stuck = _create_model(emulator, "upgrade-ready"), _create_model(emulator, "upgrade-stuck")
    deployment.add_dag_file(f"{DAG_ID}.py", DAG)
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID, conf={"ready": ready, "stuck": stuck})["dag_run_id"]

    def all_deferred() -> dict[str, dict[str, Any]] | None:
        tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, run_id)}
        ended = {t: tis[t]["state"] for t in WAITS if tis.get(t, {}).get("state") in ("success", "failed")}
        assert not ended, f"a wait ended before the upgrade: {ended}"
        claimed = [tis.get(t, {}).get("state") == "deferred" and tis[t]["triggerer_job"] for t in WAITS]
        read = [any(READING.search(text) for text in _trigger_logs(deployment, run_id, t)) for t in WAITS]
        return tis if all(claimed) and all(read) else None

    deferred = wait_for("the four waits deferred, each with a reading in the triggerer", all_deferred, 150)
    assert {deferred[t]["trigger"]["classpath"] for t in WAITS} == {OUR_TRIGGER}
    old_triggerers = {str(deferred[t]["triggerer_job"]["id"]) for t in WAITS}
    deferred_after = time.monotonic() - started

    # The upgrade: what runs the waits stops, the new wheel replaces the old one, it starts again.
    stopped = deployment.stop_airflow(*UPGRADED)
    provider_venv.install(new_wheel)
    assert provider_venv.installed_sources() == wheel_sources(new_wheel)
    deployment.start_airflow(*UPGRADED)
    restarted_after = time.monotonic() - started

    models = {model["name"]: model["model_name"] for model in emulator.state()["models"]}
    created = models[f"{DAG_ID}.create_and_wait.{run_id}"]
    trained = models[f"{DAG_ID}.create_for_training.{run_id}"]
    for model_name, status in ((ready, "Ready"), (created, "Ready"), (trained, "FitFailed")):
        emulator.force_status(model_name, status)
    run = api.wait_for_run(DAG_ID, run_id, timeout=TIMEOUT_SECONDS + 120)
    print(
        f"\nupgrade: all deferred after {deferred_after:.0f} s, restarted after {restarted_after:.0f} s, "
        f"run ended after {time.monotonic() - started:.0f} s; stop: {stopped}"
    )

    tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, run_id)}
    assert run["state"] == "failed"
    assert {task_id: (ti["state"], ti["try_number"]) for task_id, ti in tis.items()} == {
        "sensor_ready": ("success", 1),
        "sensor_timeout": ("failed", 1),
        "create_and_wait": ("success", 1),
        "create_for_training": ("success", 1),
        "train_and_wait": ("failed", 1),
    }
    # Each wait resumed from what the old release stored: its trigger ran in the new triggerer and
    # fired the event that ends it there, and the worker ended the task (with the new code) on it.
    endings = {
        "sensor_ready": f"Model {ready} is Ready.",
        "sensor_timeout": f"Model {stuck} was not Ready by the deadline",
        "create_and_wait": f"Model {created} is Ready.",
        "train_and_wait": f"Model {trained} is FitFailed",
    }
    for task_id, ending in endings.items():
        logs = _logs(deployment, run_id, task_id)
        (new_triggerer,) = _triggerer_ids(logs) - old_triggerers
        fired = logs[f"attempt=1.log.trigger.{new_triggerer}.log"]
        assert "Trigger fired event" in fired and ending in fired, (task_id, fired[-3000:])
        assert ending in logs["attempt=1.log"], (task_id, logs["attempt=1.log"][-3000:])
    # No model was created twice, no fit requested twice, nothing deleted; the resumed train task
    # deleted the two dataset files the old release had uploaded.
    state = emulator.state()
    assert state["counters"]["POST /v0/models"] == 4
    assert Counter(model["name"] for model in state["models"]) == Counter(
        [
            "upgrade-ready",
            "upgrade-stuck",
            f"{DAG_ID}.create_and_wait.{run_id}",
            f"{DAG_ID}.create_for_training.{run_id}",
        ]
    )
    assert state["counters"]["POST /v0/models/{id}/fit"] == 1
    assert state["deleted_models"] == 0
    assert {model["model_name"]: model["status"] for model in state["models"]} == {
        ready: "Ready",
        stuck: "Created",
        created: "Ready",
        trained: "FitFailed",
    }
    assert state["counters"].get("POST /v0/files", 0) == 2
    assert state["files"] == []
    assert deployment.grep_logs(emulator.api_key) == []
