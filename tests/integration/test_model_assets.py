"""Models as assets in real Airflow runs (``airflow dags test`` against the emulator): the asset events
Airflow records for the create and train operators and for the nightly DAG's champion, and the runs
it queues for the DAGs scheduled on their aliases (test DAGs in asset_dags/)."""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ttm.assets import CHAMPION_ALIAS, model_asset_uri
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

pytestmark = pytest.mark.integration

ASSET_DAGS = Path(__file__).resolve().parent / "asset_dags"
SUCCESS = "success"
# Airflow 2.11 keeps assets in its dataset tables.
_A = "asset" if AIRFLOW_V_3_0_PLUS else "dataset"


def _events(dag_id: str) -> list[dict[str, Any]]:
    """The asset events the last run of ``dag_id`` recorded, with the aliases each went through."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        run_id = session.execute(
            text("SELECT run_id FROM dag_run WHERE dag_id = :dag ORDER BY id DESC LIMIT 1"), {"dag": dag_id}
        ).scalar_one()
        rows = session.execute(
            text(
                f"SELECT e.id, a.uri, e.extra, e.source_task_id FROM {_A}_event e "
                f"JOIN {_A} a ON a.id = e.{_A}_id WHERE e.source_dag_id = :dag AND e.source_run_id = :run "
                "ORDER BY e.id"
            ),
            {"dag": dag_id, "run": run_id},
        ).all()
        events = []
        for event_id, uri, extra, task_id in rows:
            aliases = session.execute(
                text(
                    f"SELECT al.name FROM {_A}_alias_{_A}_event link JOIN {_A}_alias al ON al.id = link.alias_id "
                    "WHERE link.event_id = :event"
                ),
                {"event": event_id},
            ).scalars()
            events.append(
                {
                    "uri": uri,
                    "extra": json.loads(extra) if isinstance(extra, str) else extra,
                    "task_id": task_id,
                    "aliases": sorted(aliases),
                }
            )
        return events


def _queued_for(dag_id: str) -> list[str]:
    """The URIs of the assets whose events queued a run of ``dag_id`` (not yet made by a scheduler)."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        return list(
            session.execute(
                text(
                    f"SELECT a.uri FROM {_A}_dag_run_queue q JOIN {_A} a ON a.id = q.{_A}_id "
                    "WHERE q.target_dag_id = :dag"
                ),
                {"dag": dag_id},
            ).scalars()
        )


def _deployed(folder: Path) -> None:
    """Before Airflow 3.1, put the folder's DAGs in the database as the DAG processor would.

    From 3.1 ``airflow dags test`` writes the DAGs of the tested DAG's folder to the database; 2.11's
    and 3.0's write none, so without this no consumer DAG is known there for an event to queue.
    """
    if AIRFLOW_V_3_1_PLUS:
        return
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder), include_examples=False)
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        DagBundlesManager().sync_bundles_to_db()
        bag.sync_to_db("dags-folder", None)  # type: ignore[call-arg]
    else:
        bag.sync_to_db()


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def test_create_and_train_announce_their_model_through_their_aliases(
    ttm_emulator, dag_runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(ASSET_DAGS))
    _deployed(ASSET_DAGS)
    ttm_emulator.control.configure(auto_train_seconds=60, train_seconds=0.5, file_processing_seconds=0.1)

    result = dag_runner.run("ttm_test_model_assets")

    assert result.state == SUCCESS, result.output[-4000:]
    created, trained = _events("ttm_test_model_assets")
    model_id = created["extra"]["model_id"]
    uri = model_asset_uri(_host(ttm_emulator.url), model_id)
    assert created["uri"] == trained["uri"] == uri
    assert (created["task_id"], created["aliases"]) == ("create", ["ttm-test-created"])
    assert (trained["task_id"], trained["aliases"]) == ("train", ["ttm-test-trained"])
    assert created["extra"]["user_name"].startswith("ttm_test_model_assets.create.manual__")
    assert created["extra"] == {
        "model_id": model_id,
        "model_type": "classifier",
        "status": "Created",  # announced as soon as it exists: this task does not wait
        "user_name": created["extra"]["user_name"],
    }
    assert trained["extra"] == {**created["extra"], "status": "Ready"}
    assert uri in _queued_for("ttm_test_on_trained")
    assert ttm_emulator.control.models() == []  # the teardown deleted it
    assert ttm_emulator.api_key not in result.output


def test_the_nightly_dag_announces_a_kept_champion_to_the_consumer(ttm_emulator, airflow_db) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete
    from test_nightly_retrain_dag import CHAMPION, DAG_ID, _run

    _deployed(Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]))

    with create_session() as session:  # no earlier champion: this run's candidate wins
        session.execute(delete(Variable).where(Variable.key == CHAMPION))
    ttm_emulator.control.configure(train_seconds=0.5, file_processing_seconds=0.1)

    state, _, output = _run({"keep_champion": True})

    assert state == SUCCESS, output[-4000:]
    (kept,) = ttm_emulator.control.models()
    (event,) = _events(DAG_ID)
    uri = model_asset_uri(_host(ttm_emulator.url), kept["model_name"])
    assert (event["uri"], event["task_id"], event["aliases"]) == (uri, "pick_champion", [CHAMPION_ALIAS])
    extra = event["extra"]
    assert 0.0 <= extra.pop("accuracy") <= 1.0
    assert extra == {
        "model_id": kept["model_name"],
        "model_type": "classifier",
        "status": "Ready",
        "user_name": kept["user_name"],
    }
    assert uri in _queued_for("example_ttm_champion_consumer")
