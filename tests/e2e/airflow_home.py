"""Airflow run from a temp dir on loopback: its environment, ``db migrate``, and starting a component.

Both the deployment (``deployment.py``: PostgreSQL, api-server, scheduler, dag-processor, triggerer)
and the browser tests' lone api-server (``tests/browser/api_server.py``: SQLite) start Airflow here::

    root/airflow          AIRFLOW_HOME (airflow.cfg, logs/)
    root/<name>.log       stdout+stderr of each component and of ``db migrate``
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_ttm.testing.lifetime import die_with_parent, reaper

from .processes import MARKER_VAR, Component, marked_processes, start_component

_FOREIGN_ENV = ("AIRFLOW", "COV_CORE_", "COVERAGE_")  # never inherited from the test process


class AirflowStartError(RuntimeError):
    """Airflow did not start, or left processes behind."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_bin() -> Path:
    """The bin dir of the running interpreter's venv (its ``airflow`` sees the installed provider)."""
    return Path(sys.executable).parent


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the file at ``path``, or ``(no log)``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class AirflowHome:
    """A temp dir for one Airflow: AIRFLOW_HOME, the logs, the api-server's port, and a marker.

    The marker (the temp dir's name) is set in the environment of every process started from here,
    so that :meth:`leftover_processes` finds them however they detached.

    :param prefix: the start of the temp dir's name.
    :param bin_dir: the venv bin dir whose ``airflow`` runs here; default :func:`venv_bin`.
    """

    def __init__(self, prefix: str, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or venv_bin()
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.airflow_home = self.root / "airflow"
        self.marker = self.root.name
        reaper().watch_marker(f"{MARKER_VAR}={self.marker}")  # should the test run die before stop()
        reaper().watch_path(self.root)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"

    def marker_env(self) -> dict[str, str]:
        """The caller's environment without Airflow or coverage settings, plus the marker."""
        env = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith(_FOREIGN_ENV)}
        env[MARKER_VAR] = self.marker
        env["SPT_NOENV"] = "1"  # else setproctitle overwrites /proc/PID/environ, hiding the marker
        return env

    def airflow_env(self, sql_alchemy_conn: str, dags_folder: Path) -> dict[str, str]:
        """The environment of every component: :meth:`marker_env`, :attr:`bin_dir` first on PATH, and an
        Airflow on ``sql_alchemy_conn`` whose api-server listens on 127.0.0.1 with every user an
        admin and the connection form's Test action enabled.

        :param sql_alchemy_conn: the metadata database.
        :param dags_folder: the DAGs folder.
        """
        env = self.marker_env()
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            }
        )
        return env

    def log_path(self, name: str) -> Path:
        """Where component ``name``'s stdout and stderr go."""
        return self.root / f"{name}.log"

    def tail(self, name: str, lines: int = 40) -> str:
        """The last lines of ``<name>.log``."""
        return tail(self.log_path(name), lines)

    def migrate(self, env: dict[str, str], timeout: float) -> None:
        """Run ``airflow db migrate`` (output in ``db-migrate.log``).

        :param env: the components' environment.
        :param timeout: seconds it may take.
        :raises AirflowStartError: when it fails.
        """
        with self.log_path("db-migrate").open("wb") as out:
            migrate = subprocess.run(
                [str(self.bin_dir / "airflow"), "db", "migrate"],
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
        if migrate.returncode != 0:
            raise AirflowStartError(
                f"airflow db migrate failed ({migrate.returncode}):\n{self.tail('db-migrate')}"
            )

    def start_component(self, name: str, args: Sequence[str], env: dict[str, str]) -> Component:
        """Start ``airflow <args>`` in its own process group, its output in ``<name>.log``.

        :param name: the component's name (and its log's).
        :param args: the ``airflow`` command's arguments.
        :param env: its environment.
        """
        argv = [str(self.bin_dir / "airflow"), *args]
        return start_component(name, argv, env, self.root, self.log_path(name))

    def clean_up(self, keep: bool) -> None:
        """Remove the temp dir, or keep it (then it is no longer the watchdog's to remove).

        :param keep: keep it (logs, for inspection).
        """
        if keep:
            reaper().forget_path(self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def leftover_processes(self) -> list[int]:
        """Live processes started from here (found by the marker in their environment)."""
        return marked_processes(self.marker)
