"""Just Airflow's api-server (which serves the UI) on loopback, on SQLite, in a temp AIRFLOW_HOME.

The UI's connection form and its Test action need nothing else: no scheduler, no PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
from e2e.deployment import free_port, venv_bin
from e2e.processes import MARKER_VAR, Component, kill_pids, marked_processes, start_component, stop_components
from e2e.rest_client import AirflowRestClient

_FOREIGN_ENV = ("AIRFLOW", "COV_CORE_", "COVERAGE_")  # never inherited from the test process


class ApiServerError(RuntimeError):
    """The api-server did not start, or left processes behind."""


class AirflowApiServer:
    """``airflow api-server`` on 127.0.0.1 with ``[core] test_connection = Enabled``, all users admins.

    :param extra_env: more environment for the server (e.g. ``AIRFLOW_CONN_*``).
    :param start_timeout: seconds for ``db migrate`` and for the server to answer.
    :param keep: keep the temp dir (AIRFLOW_HOME, logs) after :meth:`stop`.
    """

    def __init__(
        self, extra_env: dict[str, str] | None = None, start_timeout: float = 120.0, keep: bool = False
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ttm-browser-"))
        self.airflow_home = self.root / "airflow"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.keep = keep
        self.marker = self.root.name
        self.env = self._env(extra_env or {})
        self.component: Component | None = None
        self.client = AirflowRestClient(self.url)

    def _env(self, extra_env: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith(_FOREIGN_ENV)}
        env.update(
            {
                MARKER_VAR: self.marker,
                "SPT_NOENV": "1",  # else setproctitle overwrites /proc/PID/environ, hiding the marker
                "PATH": f"{venv_bin()}{os.pathsep}{env.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / 'airflow.db'}",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.root / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                **extra_env,
            }
        )
        return env

    @property
    def log_path(self) -> Path:
        return self.root / "api-server.log"

    def __enter__(self) -> AirflowApiServer:
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
        """Migrate a fresh SQLite DB, start the api-server, wait until its health endpoint answers."""
        self.airflow_home.mkdir()
        (self.root / "dags").mkdir()
        with (self.root / "db-migrate.log").open("wb") as out:
            migrate = subprocess.run(
                [str(venv_bin() / "airflow"), "db", "migrate"],
                env=self.env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=self.start_timeout,
                check=False,
            )
        if migrate.returncode != 0:
            raise ApiServerError(
                f"airflow db migrate failed ({migrate.returncode}):\n{self.tail('db-migrate')}"
            )
        argv = [str(venv_bin() / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(self.port)]
        self.component = start_component("api-server", argv, self.env, self.root, self.log_path)
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self.component.exited()
            if code is not None:
                raise ApiServerError(f"the api-server exited with {code}:\n{self.tail('api-server')}")
            try:
                if self.client.health()["metadatabase"]["status"] == "healthy":
                    return
            except (httpx.HTTPError, KeyError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise ApiServerError(f"the api-server did not answer in time:\n{self.tail('api-server')}")
            time.sleep(0.3)

    def stop(self, check: bool = True) -> None:
        """Stop the api-server's process group; remove the temp dir unless kept. Idempotent."""
        if self.component is not None:
            stop_components([self.component], grace=15.0, insist_after=5.0)
            self.component = None
        self.client.close()
        leftovers = marked_processes(self.marker)
        kill_pids(leftovers, 5.0)
        if not self.keep and not leftovers:
            shutil.rmtree(self.root, ignore_errors=True)
        if check and leftovers:
            raise ApiServerError(f"processes of the api-server survived stop(): {leftovers}")

    def tail(self, name: str, lines: int = 40) -> str:
        """The last lines of ``<name>.log`` in the temp dir."""
        try:
            return "\n".join((self.root / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
