"""A real Airflow 3 deployment on loopback: private PostgreSQL, api-server, scheduler, dag-processor, triggerer.

Everything lives in one temp dir (``root``)::

    root/pgdata, pgsock, postgresql.log   the PostgreSQL cluster
    root/airflow                          AIRFLOW_HOME (airflow.cfg, logs/)
    root/dags                             the DAGs folder, unless the caller gives one
    root/<component>.log                  stdout+stderr of each component and of ``db migrate``
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

from .airflow_home import AirflowHome, AirflowStartError, free_port, tail
from .postgres import PostgresCluster, ensure_postgres_installed
from .processes import (
    Component,
    crash,
    describe,
    group_members,
    kill_pids,
    marked_processes,
    stop_components,
)
from .rest_client import AirflowRestClient

DATABASE = "airflow"
STOP_INSIST_SECONDS = 5.0  # SIGKILL to the children of a component still running after this
STOP_GRACE_SECONDS = 15.0  # SIGKILL to a component's process group still alive after this


class AirflowDeployment(AirflowHome):
    """Airflow 3 with LocalExecutor on a private PostgreSQL, all on 127.0.0.1, in a temp dir.

    Use as a context manager, or call :meth:`start` and (always) :meth:`stop`.

    :param dags_folder: the DAGs folder; default ``root/dags`` (created, empty)
    :param extra_env: extra environment for every component, e.g. ``AIRFLOW_CONN_TTM_DEFAULT``
    :param start_timeout: seconds allowed for ``db migrate``, and for the components to report healthy
    :param keep: keep the temp dir after :meth:`stop` (logs, for debugging)
    :param bin_dir: the venv bin dir whose ``airflow`` runs the components; default the test's own
    """

    COMPONENTS: dict[str, tuple[str, ...]] = {
        "api-server": ("api-server", "--host", "127.0.0.1", "--port", "{api_port}"),
        "scheduler": ("scheduler", "--skip-serve-logs"),
        "dag-processor": ("dag-processor",),
        "triggerer": ("triggerer", "--skip-serve-logs"),
    }

    REST_TIMEOUT = 10.0  # seconds per REST request

    def __init__(
        self,
        dags_folder: Path | None = None,
        extra_env: dict[str, str] | None = None,
        start_timeout: float = 180.0,
        keep: bool = False,
        bin_dir: Path | None = None,
    ) -> None:
        super().__init__("ttm-e2e-", bin_dir)
        self.root.chmod(0o755)  # the postgres user must reach root/pgdata
        self.dags_folder = dags_folder or self.root / "dags"
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout
        self.keep = keep
        self.components: list[Component] = []
        self.postgres: PostgresCluster | None = None
        self.stop_outcome: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self._client: AirflowRestClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> AirflowDeployment:
        try:
            self.start()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(check=exc is None)

    def start(self) -> None:
        """Start PostgreSQL, migrate the DB, start the components and wait until all are healthy."""
        self.airflow_home.mkdir()
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresCluster(
            self.root, free_port(), ensure_postgres_installed(), self.marker_env()
        )
        self.postgres.start(DATABASE)
        self.start_services()
        self.env = self._airflow_env(self.postgres.url(DATABASE))
        self.migrate(self.env, self.start_timeout)
        self.start_airflow()

    def start_airflow(self, *names: str) -> None:
        """Start the components of :attr:`COMPONENTS` called ``names`` (default: all), then wait until
        every component is healthy.

        :param names: the components' names.
        """
        for name in names or self.COMPONENTS:
            self.start_named(name)
        self.wait_healthy()

    def stop_airflow(self, *names: str) -> dict[str, str]:
        """Stop the components called ``names`` (default: all) as :meth:`stop` does, PostgreSQL (what
        Airflow stored) kept running; :meth:`start_airflow` starts them again. Returns how each ended.

        :param names: the components' names.
        """
        chosen = [c for c in self.components if not names or c.name in names]
        if self._client is not None and (not names or "api-server" in names):
            self._client.close()
            self._client = None
        outcome = stop_components(chosen, STOP_GRACE_SECONDS, STOP_INSIST_SECONDS)
        self.components = [c for c in self.components if c not in chosen]
        return outcome

    def start_services(self) -> None:
        """Start what the components need besides PostgreSQL (nothing here; a subclass adds more)."""

    def start_named(self, name: str) -> Component:
        """Start component ``name`` of :attr:`COMPONENTS` (again, after :meth:`crash`).

        :param name: the component's name.
        """
        argv = [a.format(api_port=self.api_port) for a in self.COMPONENTS[name]]
        component = self.start_component(name, argv, self.component_env(name))
        self.components = [c for c in self.components if c.name != name] + [component]
        return component

    def component_env(self, name: str) -> dict[str, str]:
        """The environment of component ``name`` (the same for all here).

        :param name: the component's name.
        """
        return self.env

    def component(self, name: str) -> Component:
        """The running (or crashed) component called ``name``."""
        return next(c for c in self.components if c.name == name)

    def crash(self, name: str) -> list[int]:
        """``kill -9`` component ``name``: its process group and all its descendants; returns their pids.

        :param name: the component's name.
        """
        return crash(self.component(name))

    def stop(self, check: bool = True) -> None:
        """Stop every component's process group, then PostgreSQL; always safe to call, idempotent.

        :param check: raise :class:`AirflowStartError` if any process of the deployment survived
        """
        try:
            self.stop_outcome.update(self.stop_airflow())
            kill_pids([pid for pid in marked_processes(self.marker) if not self._is_postgres(pid)], 5.0)
        finally:
            if self.postgres is not None:
                self.postgres.stop()
        kill_pids(marked_processes(self.marker), 5.0)
        leftovers = self.leftover_processes()
        self.clean_up(self.keep or bool(leftovers))
        if check and leftovers:
            raise AirflowStartError(f"processes survived stop():\n{describe(leftovers)}")

    def _is_postgres(self, pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/exe").resolve().name == "postgres"
        except OSError:
            return False

    # -- environment -------------------------------------------------------------------------------

    def _airflow_env(self, sql_alchemy_conn: str) -> dict[str, str]:
        env = self.airflow_env(sql_alchemy_conn, self.dags_folder)
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            }
        )
        if AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_1_PLUS:
            # Airflow 3.0 puts [api_auth] jwt_issuer (default: none) into every token's `iss`, and
            # PyJWT 2.15 refuses a non-string `iss`: without an issuer no token is made at all.
            env["AIRFLOW__API_AUTH__JWT_ISSUER"] = "airflow-provider-ttm-e2e"
        env.update(self.extra_env)
        return env

    # -- start helpers -----------------------------------------------------------------------------

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Poll ``/api/v2/monitor/health`` until every component is healthy; fail fast if one exits."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            self._check_running()
            unhealthy = self.client.unhealthy()
            if not unhealthy:
                return
            if time.monotonic() > deadline:
                raise AirflowStartError(f"not healthy in time: {unhealthy}\n{self.describe_logs()}")
            time.sleep(0.5)

    def _check_running(self) -> None:
        for component in self.components:
            code = component.exited()
            if code is not None:
                raise AirflowStartError(f"{component.name} exited with {code}:\n{tail(component.log_path)}")

    # -- use -----------------------------------------------------------------------------------------

    @property
    def client(self) -> AirflowRestClient:
        """A REST API v2 client for this deployment's api-server."""
        if self._client is None:
            self._client = AirflowRestClient(self.api_url, timeout=self.REST_TIMEOUT)
        return self._client

    def add_dag_file(self, name: str, source: str) -> Path:
        """Write a DAG file into the DAGs folder (picked up within the 5 s refresh interval)."""
        path = self.dags_folder / name
        path.write_text(source)
        return path

    def copy_dag(self, path: Path) -> Path:
        """Copy a DAG file (e.g. one of the repo's ``dags/``) into the DAGs folder."""
        return self.add_dag_file(path.name, path.read_text())

    def component_pids(self) -> dict[str, list[int]]:
        """Component name -> live pids in its process group."""
        return {c.name: group_members(c.pgid) for c in self.components}

    def log_files(self) -> list[Path]:
        """Every file under AIRFLOW_HOME/logs (task and trigger logs) plus the component logs."""
        task_logs = sorted(p for p in (self.airflow_home / "logs").rglob("*") if p.is_file())
        return task_logs + sorted(self.root.glob("*.log"))

    def trigger_logs(self, dag_id: str, run_id: str) -> dict[Path, str]:
        """The trigger log files of one DAG run (``<task log>.trigger.<triggerer job id>.log``), with
        their text: what each trigger logged, in the triggerer that ran it."""
        run_dir = self.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        return {
            path: path.read_text(errors="replace") for path in sorted(run_dir.rglob("*.log.trigger.*.log"))
        }

    def grep_logs(self, needle: str) -> list[tuple[Path, str]]:
        """(file, line) for every line of :meth:`log_files` that contains ``needle``."""
        hits = []
        for path in self.log_files():
            for line in path.read_text(errors="replace").splitlines():
                if needle in line:
                    hits.append((path, line))
        return hits

    def describe_logs(self, lines: int = 30) -> str:
        """The last lines of each component log, for failure messages."""
        return "\n".join(f"--- {p.name}\n{tail(p, lines)}" for p in sorted(self.root.glob("*.log")))
