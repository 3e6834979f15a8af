"""Event-driven scheduling in a real deployment: the model-ready watcher example DAG.

The example's ``AssetWatcher`` runs ``TuneTheModelModelReadyEventTrigger`` in the triggerer. Models
created and made Ready by hand in the emulator (no Airflow task touches them) start the DAG: a
matching one exactly once (one asset event, one ``asset_triggered`` run, which reads the model from
the event), others never. Then the triggerer is killed and started again while a second matching
model becomes Ready: on Airflow 3.3 the watcher goes on from its asset state (the new model starts
one more run, the first none); before 3.3 the new triggerer starts from a new first listing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_3_PLUS, EVENT_TRIGGERS_SUPPORTED

from .deployment import AirflowDeployment
from .emulator_process import EmulatorProcess
from .rest_client import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not EVENT_TRIGGERS_SUPPORTED, reason="AssetWatcher needs Airflow 3"),
]

DAG_ID = "example_ttm_model_ready_watcher"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / f"{DAG_ID}.py"
ASSET = "ttm_support_ticket_classifiers_ready"
LIST = "GET /v0/models"
FIRST_LISTING = "Watching for models that become Ready"
TERMINAL = {"success", "failed"}


@pytest.fixture(scope="module")
def airflow_deployment_env(airflow_deployment_env: dict[str, str]) -> dict[str, str]:
    """The shared settings, a killed triggerer's triggers taken over after 5 s (not 30), and XComs
    readable through the REST API on Airflow 3.0 too (off by default there)."""
    return {
        **airflow_deployment_env,
        "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    }


#: Seconds each wait of this test may take.
WAIT_SECONDS = 120.0


def _model_made_ready_by_hand(emulator: EmulatorProcess, name: str, model_type: str = "classifier") -> str:
    """Create a model through the API, as any client would, and set it Ready in the emulator."""
    body: dict[str, Any] = {"model_type": model_type, "name": name}
    if model_type == "classifier":
        body["model_params"] = {"num_classes": 2}
    reply = httpx.post(
        f"{emulator.url}/v0/models", json=body, headers={"Authorization": emulator.api_key}, timeout=10
    )
    model_name = str(reply.raise_for_status().json()["model_name"])
    emulator.force_status(model_name, "Ready")
    return model_name


def _lists(emulator: EmulatorProcess) -> int:
    return int(emulator.state()["counters"].get(LIST, 0))


def _listed_again(emulator: EmulatorProcess, times: int) -> None:
    """Wait until the watcher's connection was listed ``times`` more times (it saw every change)."""
    target = _lists(emulator) + times
    wait_for(f"{times} more model lists", lambda: _lists(emulator) >= target, WAIT_SECONDS)


def _triggerer_log(deployment: AirflowDeployment) -> str:
    return deployment.log_path("triggerer").read_text(errors="replace")


def test_a_model_made_ready_by_hand_starts_the_dag_exactly_once(
    airflow_deployment: AirflowDeployment, emulator_process: EmulatorProcess
) -> None:
    deployment, api = airflow_deployment, airflow_deployment.client
    started = time.monotonic()
    deployment.copy_dag(DAG_FILE)
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    wait_for("the watcher's first listing", lambda: FIRST_LISTING in _triggerer_log(deployment), WAIT_SECONDS)

    matching = _model_made_ready_by_hand(emulator_process, "support-tickets-v1")
    _model_made_ready_by_hand(emulator_process, "marketing-v1")
    _model_made_ready_by_hand(emulator_process, "support-tickets-summary", model_type="generator")

    def finished_runs() -> list[dict[str, Any]]:
        runs = api.dag_runs(DAG_ID)
        return runs if runs and all(run["state"] in TERMINAL for run in runs) else []

    (run,) = wait_for("the asset-triggered run", finished_runs, WAIT_SECONDS)
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", api.task_instances(DAG_ID, run["dag_run_id"])
    assert api.xcom(DAG_ID, run["dag_run_id"], "use_new_models") == [matching]
    _listed_again(emulator_process, 5)
    (event,) = api.asset_events(ASSET)
    assert event["extra"]["payload"]["model_name"] == matching
    assert len(api.dag_runs(DAG_ID)) == 1
    print(f"\nfirst model: one event, one run, in {time.monotonic() - started:.1f} s")

    # The triggerer dies; a second matching model becomes Ready before another one takes over.
    deployment.crash("triggerer")
    second = _model_made_ready_by_hand(emulator_process, "support-tickets-v2")
    lists_before_restart = _lists(emulator_process)
    deployment.start_named("triggerer")
    wait_for(
        "the new triggerer's lists", lambda: _lists(emulator_process) > lists_before_restart + 3, WAIT_SECONDS
    )
    if AIRFLOW_V_3_3_PLUS:
        wait_for("the second run", lambda: len(finished_runs()) == 2, WAIT_SECONDS)
    _listed_again(emulator_process, 5)

    events = api.asset_events(ASSET)
    runs = api.dag_runs(DAG_ID)
    fired = [event["extra"]["payload"]["model_name"] for event in events]
    if AIRFLOW_V_3_3_PLUS:
        assert fired == [matching, second]  # the first model did not fire again
        assert len(runs) == 2
        second_run = next(r for r in runs if r["dag_run_id"] != run["dag_run_id"])
        assert api.xcom(DAG_ID, second_run["dag_run_id"], "use_new_models") == [second]
    else:
        assert fired == [matching]  # a new first listing: the second model counts as Ready before
        assert len(runs) == 1
    assert deployment.grep_logs(emulator_process.api_key) == []
    print(f"after the triggerer's restart: events {len(fired)}, runs {len(runs)}")
    print(f"whole scenario: {time.monotonic() - started:.1f} s")
