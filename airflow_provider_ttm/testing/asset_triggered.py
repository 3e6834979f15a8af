"""Let Airflow's scheduler start a DAG from the asset events another DAG's run recorded (the demo's second act).

``airflow dags test`` always makes a manual run, so it cannot show a DAG started by an asset event.
Here the real components do it on the producer's (SQLite) database once the producer is done: an
``airflow api-server --apps execution`` (the task runners' API) and, once it answers, an
``airflow scheduler`` with the ``LocalExecutor``. The producer's task queued the consumer when its
asset event was recorded; the scheduler creates the consumer's run from the queue and runs it as in
a deployment; :func:`wait_for_run` reads the outcome from the database.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_ttm.testing.lifetime import start_guarded, stop_group

_STOP_SECONDS = 15.0


@dataclass
class TriggeredRun:
    """The consumer's run as the scheduler left it.

    :param run_id: the run's id (None when no run was made in time).
    :param run_type: ``asset_triggered`` for a run started by asset events.
    :param state: the run's state (``success``, ``failed``, ...).
    :param events: the asset events that started it: uri, source DAG and run, extra.
    :param tasks: each task's state.
    """

    run_id: str | None = None
    run_type: str | None = None
    state: str | None = None
    events: list[dict[str, object]] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)


class SchedulerStage:
    """An execution API server and a scheduler on one Airflow database, started by :meth:`start`.

    :param env: the Airflow environment of the producer's ``airflow dags test`` (same home and database).
    :param logs: the folder for the components' output.
    :param timeout: seconds allowed for the execution API to start, and for the consumer's run.
    """

    def __init__(self, env: dict[str, str], logs: Path, timeout: float) -> None:
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__WORKERS": "1",
        }
        self.logs = logs
        self.timeout = timeout
        self.started: float | None = None
        self.processes: list[subprocess.Popen[bytes]] = []
        self._starter: threading.Thread | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._scheduler_started = threading.Event()
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the execution API, and the scheduler once the API answers (in the background)."""
        self.started = time.monotonic()
        self._start("api-server", "--apps", "execution", "--host", "127.0.0.1", "--port", str(self.port))
        self._starter = threading.Thread(target=self._start_scheduler_when_ready, daemon=True)
        self._starter.start()

    def wait_started(self) -> None:
        """Wait until the scheduler is started; raise RuntimeError if the execution API did not start."""
        if self._starter is not None:
            self._scheduler_started.wait()
        if self._error:
            raise RuntimeError(self._error)

    def _start(self, name: str, *args: str) -> None:
        """Start ``airflow <name> <args>`` in a group of its own that ends with the demo (``lifetime``)."""
        airflow = Path(sys.executable).with_name("airflow")
        with (self.logs / f"{name}.log").open("wb") as log:
            process = start_guarded(
                [str(airflow), name, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)

    def _start_scheduler_when_ready(self) -> None:
        """Start the scheduler once the execution API answers, then live until :meth:`stop`: the
        scheduler gets SIGTERM when the thread that started it ends (``PR_SET_PDEATHSIG``)."""
        try:
            if self._wait_execution_api():
                with self._lock:
                    if not self._stopping.is_set():
                        self._start("scheduler", "--skip-serve-logs")
            else:
                self._error = f"The execution API did not start (see {self.logs / 'api-server.log'})."
        except OSError as error:
            self._error = f"The scheduler did not start: {error}"
        finally:
            self._scheduler_started.set()
        self._stopping.wait()

    def _wait_execution_api(self) -> bool:
        deadline = time.monotonic() + self.timeout
        while not self._stopping.is_set():
            try:
                with urllib.request.urlopen(f"{self.api_url}/execution/health", timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except OSError:
                pass
            if time.monotonic() > deadline or self.processes[0].poll() is not None:
                return False
            self._stopping.wait(0.3)
        return False

    def stop(self) -> None:
        """Stop what was started (each process group: the scheduler's task runners too)."""
        with self._lock:
            self._stopping.set()
        for process in reversed(self.processes):  # the scheduler, then the API its task runners use
            stop_group(process, _STOP_SECONDS)
        if self._starter is not None:
            self._starter.join()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_run(database: Path, dag_id: str, timeout: float) -> TriggeredRun:
    """Wait until ``dag_id`` has a finished run (or ``timeout`` seconds pass); describe its latest run.

    :param database: the SQLite database file.
    :param dag_id: the consumer DAG.
    :param timeout: seconds to wait at most.
    """
    deadline = time.monotonic() + timeout
    while True:
        run = read_run(database, dag_id)
        if run.state in ("success", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


def read_run(database: Path, dag_id: str) -> TriggeredRun:
    """The latest run of ``dag_id`` in the database, with its triggering events and task states.

    :param database: the SQLite database file.
    :param dag_id: the DAG.
    """
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        row = db.execute(
            "SELECT id, run_id, run_type, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        if row is None:
            return TriggeredRun()
        key, run_id, run_type, state = row
        events = [
            {
                "uri": uri,
                "source_dag_id": dag,
                "source_run_id": source_run,
                "extra": json.loads(extra or "{}"),
            }
            for uri, dag, source_run, extra in db.execute(
                "SELECT a.uri, e.source_dag_id, e.source_run_id, e.extra FROM dagrun_asset_event d "
                "JOIN asset_event e ON e.id = d.event_id JOIN asset a ON a.id = e.asset_id "
                "WHERE d.dag_run_id = ? ORDER BY e.id",
                (key,),
            )
        ]
        tasks = dict(
            db.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
            )
        )
    return TriggeredRun(run_id, run_type, state, events, tasks)


def provider_log_lines(logs: Path, dag_id: str, run_id: str) -> list[str]:
    """The provider's log lines of the run's tasks (``HH:MM:SS.fff  message``), in time order.

    :param logs: Airflow's base log folder.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    lines: list[tuple[str, str]] = []
    for path in (logs / f"dag_id={dag_id}" / f"run_id={run_id}").glob("**/*.log"):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "airflow_provider_ttm" in str(record.get("logger", "")):
                lines.append((str(record.get("timestamp", "")), str(record.get("event", ""))))
    return [f"{stamp[11:23]}  {message}" for stamp, message in sorted(lines)]
