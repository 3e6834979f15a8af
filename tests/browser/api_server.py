"""Just Airflow's api-server (which serves the UI) on loopback, on SQLite, in a temp AIRFLOW_HOME.

The UI's connection form and its Test action need nothing else: no scheduler, no PostgreSQL.
"""

from __future__ import annotations

import time
from types import TracebackType

import httpx
from e2e.airflow_home import AirflowHome, AirflowStartError
from e2e.processes import Component, kill_pids, stop_components
from e2e.rest_client import AirflowRestClient


class AirflowApiServer(AirflowHome):
    """``airflow api-server`` on 127.0.0.1 with ``[core] test_connection = Enabled``, all users admins.

    :param extra_env: more environment for the server (e.g. ``AIRFLOW_CONN_*``).
    :param start_timeout: seconds for ``db migrate`` and for the server to answer.
    :param keep: keep the temp dir (AIRFLOW_HOME, logs) after :meth:`stop`.
    """

    def __init__(
        self, extra_env: dict[str, str] | None = None, start_timeout: float = 120.0, keep: bool = False
    ) -> None:
        super().__init__("ttm-browser-")
        self.start_timeout = start_timeout
        self.keep = keep
        sql_alchemy_conn = f"sqlite:///{self.airflow_home / 'airflow.db'}"
        self.env = {**self.airflow_env(sql_alchemy_conn, self.root / "dags"), **(extra_env or {})}
        self.component: Component | None = None
        self.client = AirflowRestClient(self.api_url)

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
        self.migrate(self.env, self.start_timeout)
        args = ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]
        self.component = self.start_component("api-server", args, self.env)
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self.component.exited()
            if code is not None:
                raise AirflowStartError(f"the api-server exited with {code}:\n{self.tail('api-server')}")
            try:
                if self.client.health()["metadatabase"]["status"] == "healthy":
                    return
            except (httpx.HTTPError, KeyError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise AirflowStartError(f"the api-server did not answer in time:\n{self.tail('api-server')}")
            time.sleep(0.3)

    def stop(self, check: bool = True) -> None:
        """Stop the api-server's process group; remove the temp dir unless kept. Idempotent."""
        if self.component is not None:
            stop_components([self.component], grace=15.0, insist_after=5.0)
            self.component = None
        self.client.close()
        leftovers = self.leftover_processes()
        kill_pids(leftovers, 5.0)
        self.clean_up(self.keep or bool(leftovers))
        if check and leftovers:
            raise AirflowStartError(f"processes of the api-server survived stop(): {leftovers}")
