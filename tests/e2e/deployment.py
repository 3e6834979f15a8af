"""A real Airflow 3 deployment on loopback: private PostgreSQL, api-server, scheduler, dag-processor, triggerer.

Everything lives in one temp dir (``root``)::

    root/pgdata, pgsock, postgresql.log   the PostgreSQL cluster
    root/airflow                          AIRFLOW_HOME (airflow.cfg, logs/)
    root/dags                             the DAGs folder, unless the caller gives one
    root/<component>.log                  stdout+stderr of each component and of ``db migrate``
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

from .postgres import PostgresCluster, ensure_postgres_installed
from .processes import (
    MARKER_VAR,
    Component,
    describe,
    group_members,
    kill_pids,
    marked_processes,
    start_component,
    stop_components,
)
from .rest_client import AirflowRestClient

DATABASE = "airflow"
STOP_INSIST_SECONDS = 5.0  # SIGKILL to the children of a component still running after this
STOP_GRACE_SECONDS = 15.0  # SIGKILL to a component's process group still alive after this


_FOREIGN_ENV = ("AIRFLOW", "COV_CORE_", "COVERAGE_")  # never inherited from the test process


class DeploymentError(RuntimeError):
    """The deployment failed to start, or left processes behind."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_bin() -> Path:
    """The bin dir of the running interpreter's venv (its ``airflow`` sees the installed provider)."""
    return Path(sys.executable).parent


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class AirflowDeployment:
    """Airflow 3 with LocalExecutor on a private PostgreSQL, all on 127.0.0.1, in a temp dir.

    Use as a context manager, or call :meth:`start` and (always) :meth:`stop`.

    :param dags_folder: the DAGs folder; default ``root/dags`` (created, empty)
    :param extra_env: extra environment for every component, e.g. ``AIRFLOW_CONN_TTM_DEFAULT``
    :param start_timeout: seconds allowed for ``db migrate``, and for the components to report healthy
    :param keep: keep the temp dir after :meth:`stop` (logs, for debugging)
    """

    COMPONENTS: dict[str, tuple[str, ...]] = {
        "api-server": ("api-server", "--host", "127.0.0.1", "--port", "{api_port}"),
        "scheduler": ("scheduler", "--skip-serve-logs"),
        "dag-processor": ("dag-processor",),
        "triggerer": ("triggerer", "--skip-serve-logs"),
    }

    def __init__(
        self,
        dags_folder: Path | None = None,
        extra_env: dict[str, str] | None = None,
        start_timeout: float = 180.0,
        keep: bool = False,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ttm-e2e-"))
        self.root.chmod(0o755)  # the postgres user must reach root/pgdata
        self.airflow_home = self.root / "airflow"
        self.dags_folder = dags_folder or self.root / "dags"
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout
        self.keep = keep
        self.marker = self.root.name
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
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
            self.root, free_port(), ensure_postgres_installed(), self._marker_env()
        )
        self.postgres.start(DATABASE)
        self.env = self._airflow_env(self.postgres.url(DATABASE))
        self._migrate()
        for name, args in self.COMPONENTS.items():
            argv = [str(venv_bin() / "airflow"), *(a.format(api_port=self.api_port) for a in args)]
            self.components.append(start_component(name, argv, self.env, self.root, self.log_path(name)))
        self.wait_healthy()

    def stop(self, check: bool = True) -> None:
        """Stop every component's process group, then PostgreSQL; always safe to call, idempotent.

        :param check: raise :class:`DeploymentError` if any process of the deployment survived
        """
        try:
            if self._client is not None:
                self._client.close()
                self._client = None
            self.stop_outcome.update(
                stop_components(self.components, STOP_GRACE_SECONDS, STOP_INSIST_SECONDS)
            )
            self.components.clear()
            kill_pids([pid for pid in marked_processes(self.marker) if not self._is_postgres(pid)], 5.0)
        finally:
            if self.postgres is not None:
                self.postgres.stop()
        kill_pids(marked_processes(self.marker), 5.0)
        leftovers = self.leftover_processes()
        if not self.keep and not leftovers:
            shutil.rmtree(self.root, ignore_errors=True)
        if check and leftovers:
            raise DeploymentError(f"processes survived stop():\n{describe(leftovers)}")

    def leftover_processes(self) -> list[int]:
        """Live processes started by this deployment (found by the marker in their environment)."""
        return marked_processes(self.marker)

    def _is_postgres(self, pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/exe").resolve().name == "postgres"
        except OSError:
            return False

    # -- environment -------------------------------------------------------------------------------

    def _marker_env(self) -> dict[str, str]:
        """The caller's environment without Airflow or coverage settings, plus the deployment marker."""
        env = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith(_FOREIGN_ENV)}
        env[MARKER_VAR] = self.marker
        env["SPT_NOENV"] = "1"  # else setproctitle overwrites /proc/PID/environ, hiding the marker
        return env

    def _airflow_env(self, sql_alchemy_conn: str) -> dict[str, str]:
        env = self._marker_env()
        env["PATH"] = f"{venv_bin()}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
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

    def log_path(self, name: str) -> Path:
        """Where component ``name``'s stdout and stderr go."""
        return self.root / f"{name}.log"

    def _migrate(self) -> None:
        log = self.log_path("db-migrate")
        with log.open("wb") as out:
            proc = subprocess.run(
                [str(venv_bin() / "airflow"), "db", "migrate"],
                env=self.env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=self.start_timeout,
                check=False,
            )
        if proc.returncode != 0:
            raise DeploymentError(f"airflow db migrate failed ({proc.returncode}):\n{_tail(log)}")

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Poll ``/api/v2/monitor/health`` until every component is healthy; fail fast if one exits."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            self._check_running()
            unhealthy = self.client.unhealthy()
            if not unhealthy:
                return
            if time.monotonic() > deadline:
                raise DeploymentError(f"not healthy in time: {unhealthy}\n{self.describe_logs()}")
            time.sleep(0.5)

    def _check_running(self) -> None:
        for component in self.components:
            code = component.exited()
            if code is not None:
                raise DeploymentError(f"{component.name} exited with {code}:\n{_tail(component.log_path)}")

    # -- use -----------------------------------------------------------------------------------------

    @property
    def client(self) -> AirflowRestClient:
        """A REST API v2 client for this deployment's api-server."""
        if self._client is None:
            self._client = AirflowRestClient(self.api_url)
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
        return "\n".join(f"--- {p.name}\n{_tail(p, lines)}" for p in sorted(self.root.glob("*.log")))
