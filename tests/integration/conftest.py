"""Running the example DAGs with ``airflow dags test`` (``dag.test()``) against the emulator."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dags_test import checked_output, command

from airflow_provider_ttm.testing.lifetime import die_with_parent

OUR_TRIGGER = "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"


@dataclass(frozen=True)
class DagTestResult:
    """What one ``airflow dags test`` run left behind.

    :param state: the DAG run's final state.
    :param task_states: each task id with the sorted states of its task instances.
    :param output: everything the command printed (its task and trigger logs).
    :param trigger_kwargs: the serialized kwargs of the provider's triggers the run created.
    """

    state: str
    task_states: dict[str, list[str]]
    output: str
    trigger_kwargs: list[str]


class DagRunner:
    """Runs an example DAG in its own process, as a user would, and reads the result from the DB."""

    def run(self, dag_id: str) -> DagTestResult:
        """Run ``dag_id`` with ``airflow dags test``; the emulator connection comes from the env."""
        known_triggers = {trigger_id for trigger_id, _ in _our_triggers()}
        completed = subprocess.run(
            command(dag_id),
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=300,
            check=False,
            preexec_fn=die_with_parent(signal.SIGKILL),  # even if this worker is killed
        )
        output = checked_output(completed.stdout + completed.stderr)
        state, task_states = _last_run(dag_id)
        kwargs = [encoded for trigger_id, encoded in _our_triggers() if trigger_id not in known_triggers]
        return DagTestResult(state=state, task_states=task_states, output=output, trigger_kwargs=kwargs)


def _last_run(dag_id: str) -> tuple[str, dict[str, list[str]]]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        ).one()
        states: dict[str, list[str]] = {}
        for ti in dag_run.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(ti.state))
        return str(dag_run.state), {task: sorted(values) for task, values in states.items()}


def _our_triggers() -> list[tuple[int, str]]:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(Trigger.id, Trigger.encrypted_kwargs).where(Trigger.classpath == OUR_TRIGGER)
        ).all()
        return [(row[0], str(row[1])) for row in rows]


@pytest.fixture
def dag_runner(airflow_db: Path) -> DagRunner:
    """A runner whose DAG runs use this session's migrated SQLite database."""
    return DagRunner()
