"""The nightly retrain example DAG, run by real Airflow code (``airflow dags test``) against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dags_test
import pytest

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

pytestmark = pytest.mark.integration

DAG_ID = "example_ttm_nightly_retrain"
CHAMPION = "ttm_nightly_champion"
SUCCESS = "success"
VALIDATION_ROWS = 48


def _run(conf: dict | None = None) -> tuple[str, dict[str, list[str]], str]:
    """Run the DAG in its own process, as a user would; return its state, task states and output."""
    completed = subprocess.run(
        dags_test.command(DAG_ID, *(["--conf", json.dumps(conf)] if conf is not None else [])),
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == DAG_ID).order_by(DagRun.id.desc()).limit(1)
        ).one()
        states: dict[str, list[str]] = {}
        for ti in run.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(ti.state))
        return str(run.state), states, dags_test.checked_output(completed.stdout + completed.stderr)


def _champion() -> dict | None:
    """The stored champion, read as the DAG's tasks read it (their process holds the Fernet key)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    completed = subprocess.run(
        [airflow, "variables", "get", CHAMPION, "--default", "null"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    )
    lines = completed.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(("{", "null")))
    return json.loads("\n".join(lines[first:]))


def _predictions() -> list[dict]:
    """What the last run's ``score_validation`` returned (its XCom)."""
    try:
        from airflow.models.xcom import XComModel as XCom
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XCom)
            .where(XCom.dag_id == DAG_ID, XCom.task_id == "score_validation", XCom.key == "return_value")
            .order_by(XCom.timestamp.desc())
            .limit(1)
        ).one()
        if isinstance(row.value, list):  # Airflow 2.11 hands the JSON column back decoded
            return row.value
        return XCom.deserialize_value(row)


def _crown(model_name: str, accuracy: float) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key == CHAMPION))
        session.add(Variable(key=CHAMPION, val=json.dumps({"model_name": model_name, "accuracy": accuracy})))


@pytest.fixture
def no_champion(airflow_db: Path) -> None:
    """Each test starts without a stored champion."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key == CHAMPION))


@pytest.fixture
def emulator(ttm_emulator, no_champion):
    ttm_emulator.control.configure(train_seconds=0.5, file_processing_seconds=0.1)
    return ttm_emulator


def test_the_first_night_trains_scores_crowns_and_leaves_nothing_behind(emulator) -> None:
    state, tasks, output = _run({"keep_champion": False})

    assert state == SUCCESS, output[-4000:]
    assert tasks == {
        "build_datasets": [SUCCESS],
        "create_candidate": [SUCCESS],
        "train_candidate": [SUCCESS],
        "score_validation": [SUCCESS],
        "evaluate": [SUCCESS],
        "pick_champion": [SUCCESS],
        "delete_loser": ["skipped"],  # no earlier champion to delete
        "clean_up": [SUCCESS],
    }
    control = emulator.control
    assert control.count("POST /v0/models") == 1
    assert control.count("POST /v0/files") == 2
    assert control.count("PUT /_upload/{id}") == 2
    assert control.upload_requests_with_authorization == 0
    assert control.count("POST /v0/models/{id}/bind") == 1
    assert control.count("POST /v0/models/{id}/fit") == 1
    assert control.count("POST /v0/models/{id}/classify") == VALIDATION_ROWS
    assert control.models() == []  # keep_champion is off for this run
    assert control.files() == []
    champion = _champion()
    assert champion is not None and 0.0 <= champion["accuracy"] <= 1.0
    assert "Deferring: model" in output and "is Ready" in output
    assert "Candidate accuracy" in output
    assert emulator.api_key not in output
    predictions = _predictions()  # three topics: three scores, the class is the highest one's
    assert len(predictions) == VALIDATION_ROWS
    assert all(len(p["scores"]) == 3 for p in predictions)
    assert [p["class"] for p in predictions] == [
        max(range(3), key=p["scores"].__getitem__) for p in predictions
    ]


def test_a_better_candidate_replaces_the_kept_champion(emulator) -> None:
    old = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    _crown(old, -1.0)  # any candidate beats it

    state, tasks, output = _run({"keep_champion": True})

    assert state == SUCCESS, output[-4000:]
    assert tasks["delete_loser"] == [SUCCESS]
    (kept,) = emulator.control.models()
    assert kept["model_name"] != old
    champion = _champion()  # one `airflow variables get` process (about 5 s of CPU) for both checks
    assert champion["model_name"] == kept["model_name"]
    assert champion["replaced"] == old
    assert emulator.control.deleted_models == 1


def test_a_candidate_that_does_not_beat_the_champion_is_deleted(emulator) -> None:
    old = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    _crown(old, 1.0)  # nothing beats a perfect score

    state, tasks, output = _run({"keep_champion": True})

    assert state == SUCCESS, output[-4000:]
    assert tasks["delete_loser"] == [SUCCESS]
    assert [m["model_name"] for m in emulator.control.models()] == [old]
    assert _champion() == {"model_name": old, "accuracy": 1.0}
    assert "does not beat 1.000" in output


def test_a_failed_training_leaves_no_model_or_file_behind(emulator) -> None:
    emulator.control.configure(fit_failure_rate=1.0)

    state, tasks, output = _run()

    assert state == "failed"
    assert tasks["train_candidate"] == ["failed"]
    assert tasks["score_validation"] == ["upstream_failed"]
    assert tasks["clean_up"] == [SUCCESS]
    assert emulator.control.models() == []
    assert emulator.control.files() == []
    assert _champion() is None
    assert "FitFailed" in output
