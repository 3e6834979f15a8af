"""What the demo's second act reads back: the consumer's run, its triggering events, its provider log lines."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from airflow_provider_ttm.testing.asset_triggered import provider_log_lines, read_run, wait_for_run

URI = "ttm://127.0.0.1:8765/models/" + "a" * 32
# The columns the reader uses, named as in Airflow 3's metadata database.
SCHEMA = """
CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT, run_type TEXT, state TEXT);
CREATE TABLE asset (id INTEGER PRIMARY KEY, uri TEXT);
CREATE TABLE asset_event (id INTEGER PRIMARY KEY, asset_id INTEGER, extra TEXT, source_dag_id TEXT,
    source_run_id TEXT);
CREATE TABLE dagrun_asset_event (dag_run_id INTEGER, event_id INTEGER);
CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT);
"""


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "airflow.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO dag_run VALUES (1, 'consumer', 'manual_old', 'manual', 'success')")
        db.execute(
            "INSERT INTO dag_run VALUES (2, 'consumer', 'asset_triggered__x', 'asset_triggered', 'success')"
        )
        db.execute("INSERT INTO dag_run VALUES (3, 'producer', 'manual__p', 'manual', 'success')")
        db.execute("INSERT INTO asset VALUES (7, ?)", (URI,))
        db.execute(
            "INSERT INTO asset_event VALUES (9, 7, ?, 'producer', 'manual__p')",
            (json.dumps({"accuracy": 0.5}),),
        )
        db.execute("INSERT INTO dagrun_asset_event VALUES (2, 9)")
        db.execute(
            "INSERT INTO task_instance VALUES ('consumer', 'asset_triggered__x', 'classify', 'success')"
        )
        db.execute("INSERT INTO task_instance VALUES ('consumer', 'manual_old', 'classify', 'failed')")
    return path


def test_the_latest_run_comes_with_its_triggering_events_and_task_states(tmp_path: Path) -> None:
    run = read_run(_database(tmp_path), "consumer")

    assert (run.run_id, run.run_type, run.state) == ("asset_triggered__x", "asset_triggered", "success")
    assert run.events == [
        {"uri": URI, "source_dag_id": "producer", "source_run_id": "manual__p", "extra": {"accuracy": 0.5}}
    ]
    assert run.tasks == {"classify": "success"}


def test_a_dag_without_runs_has_none_and_the_wait_ends_at_its_timeout(tmp_path: Path) -> None:
    run = wait_for_run(_database(tmp_path), "never_started", timeout=0)

    assert run.run_id is None and run.events == []


def test_only_the_providers_log_lines_of_the_run_are_shown_in_time_order(tmp_path: Path) -> None:
    folder = tmp_path / "dag_id=consumer" / "run_id=r1" / "task_id=classify"
    folder.mkdir(parents=True)
    records = [
        {
            "timestamp": "2026-12-01T12:00:02.000000Z",
            "event": "second",
            "logger": "airflow_provider_ttm.hooks",
        },
        {"timestamp": "2026-12-01T12:00:01.000000Z", "event": "first", "logger": "airflow_provider_ttm.x"},
        {"timestamp": "2026-12-01T12:00:00.000000Z", "event": "Airflow's own", "logger": "airflow.task"},
    ]
    (folder / "attempt=1.log").write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")

    assert provider_log_lines(tmp_path, "consumer", "r1") == ["12:00:01.000  first", "12:00:02.000  second"]
    assert provider_log_lines(tmp_path, "consumer", "other") == []
