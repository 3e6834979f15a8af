"""The maintenance example DAG, run by real Airflow code (``airflow dags test``) against the emulator:
it deletes exactly the forgotten models and keeps the champion named by a Variable."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_ttm.emulator import ManualClock
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

pytestmark = pytest.mark.integration

DAG_ID = "example_ttm_maintenance"
SUCCESS = "success"
DAY = 24 * 3600.0
NIGHTLY = "example_ttm_nightly_retrain.create_candidate"


class Models:
    """Makes models of a given age on the emulator (its clock starts 30 days ago and moves on)."""

    def __init__(self, control: Any) -> None:
        self.clock = ManualClock(start=time.time() - 30 * DAY)
        control.configure(clock=self.clock)
        self.control, self.hook = control, TuneTheModelHook()

    def add(self, name: str, *, days_ago: float, status: str) -> str:
        self.clock.advance(time.time() - days_ago * DAY - self.clock())
        model_name = self.hook.create_model("classifier", name=name, num_classes=3).model_name
        self.control.force_status(model_name, status)
        return model_name

    def live(self) -> set[str]:
        return {model["model_name"] for model in self.control.models()}


def _returned(task_id: str) -> list[str]:
    """The ids in the last run's return value of ``task_id`` (its XCom)."""
    try:
        from airflow.models.xcom import XComModel as XCom
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XCom)
            .where(XCom.dag_id == DAG_ID, XCom.task_id == task_id, XCom.key == "return_value")
            .order_by(XCom.timestamp.desc())
            .limit(1)
        ).one()
        value = row.value if isinstance(row.value, list) else json.loads(row.value)
        return [model["model_name"] for model in value]


def test_maintenance_deletes_forgotten_models_and_keeps_the_champion(
    ttm_emulator, dag_runner, monkeypatch
) -> None:
    models = Models(ttm_emulator.control)
    champion = models.add(f"{NIGHTLY}.scheduled__2026-11-01T02:00:00+00:00", days_ago=28, status="Ready")
    failed = models.add(f"{NIGHTLY}.scheduled__2026-11-02T02:00:00+00:00", days_ago=27, status="FitFailed")
    stray = models.add(
        "example_ttm_deferrable.create_model.manual__2026-11-03T00:00:00+00:00.2",
        days_ago=20,
        status="Created",
    )
    hand_named = models.add("tweets", days_ago=20, status="Ready")
    training = models.add(f"{NIGHTLY}.scheduled__2026-11-20T02:00:00+00:00", days_ago=10, status="Training")
    young = models.add(f"{NIGHTLY}.scheduled__2026-11-29T02:00:00+00:00", days_ago=2, status="Ready")
    monkeypatch.setenv(
        "AIRFLOW_VAR_TTM_NIGHTLY_CHAMPION", json.dumps({"model_name": champion, "accuracy": 0.9})
    )

    result = dag_runner.run(DAG_ID)

    assert result.state == SUCCESS, result.output[-3000:]
    assert result.task_states == {
        "list_forgotten_models": [SUCCESS],
        "delete_forgotten_models": [SUCCESS],
        "list_models_in_training": [SUCCESS],
    }
    assert _returned("list_forgotten_models") == [failed, stray]
    assert _returned("list_models_in_training") == [training]  # kept, and listed as still training
    assert _returned("delete_forgotten_models") == [failed, stray]
    assert models.live() == {champion, hand_named, training, young}
    assert ttm_emulator.control.deleted_models == 2
    assert ttm_emulator.api_key not in result.output


def test_maintenance_without_a_champion_protects_nothing_else(ttm_emulator, dag_runner, monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_VAR_TTM_NIGHTLY_CHAMPION", raising=False)
    models = Models(ttm_emulator.control)
    old = models.add(f"{NIGHTLY}.scheduled__2026-11-01T02:00:00+00:00", days_ago=28, status="Ready")
    young = models.add(f"{NIGHTLY}.scheduled__2026-11-29T02:00:00+00:00", days_ago=1, status="Ready")

    result = dag_runner.run(DAG_ID)

    assert result.state == SUCCESS, result.output[-3000:]
    assert _returned("delete_forgotten_models") == [old]
    assert _returned("list_models_in_training") == []
    assert models.live() == {young}
