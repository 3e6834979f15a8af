"""A small client for Airflow 3's REST API v2, enough to drive and observe DAG runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_HEALTH = "healthy"
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")

TaskInstances = list[dict[str, Any]]


class AirflowApiError(RuntimeError):
    """An unexpected reply, or a wait that ran out of time."""


def wait_for(what: str, probe: Callable[[], Any], timeout: float, *, poll_interval: float = 0.5) -> Any:
    """Call ``probe`` until it returns something truthy, and return that; a request that fails (a busy
    api-server timing out) counts as not yet. Raise ``AirflowApiError`` after ``timeout`` seconds.

    :param what: the awaited state, for the failure message.
    :param probe: returns the awaited value, or something falsy while it is not there yet.
    :param timeout: seconds before giving up.
    :param poll_interval: seconds between two probes.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (httpx.TransportError, AirflowApiError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AirflowApiError(
                f"timed out after {timeout:.0f}s waiting for {what}; last error: {last_error}"
            )
        time.sleep(poll_interval)


def _q(value: str) -> str:
    return quote(value, safe="")


class AirflowRestClient:
    """REST API v2 client; fetches a token from ``GET /auth/token`` (all-admins mode) on first use.

    :param base_url: the api-server's URL, e.g. ``http://127.0.0.1:8080``
    :param timeout: per-request timeout in seconds
    :param poll_interval: seconds between polls in the ``wait_*`` methods
    """

    def __init__(self, base_url: str, timeout: float = 10.0, poll_interval: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            reply = self._http.get("/auth/token")
            self._check(reply)
            self._token = reply.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    @staticmethod
    def _check(reply: httpx.Response) -> None:
        if reply.is_error:
            raise AirflowApiError(
                f"{reply.request.method} {reply.request.url} -> {reply.status_code}: {reply.text}"
            )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send an authenticated request to ``/api/v2/<path>``; the reply is not checked."""
        return self._http.request(method, f"/api/v2/{path.lstrip('/')}", headers=self._auth(), **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.request(method, path, **kwargs)
        self._check(reply)
        return reply.json()

    def _wait(self, what: str, timeout: float, probe: Callable[[], Any]) -> Any:
        return wait_for(what, probe, timeout, poll_interval=self.poll_interval)

    # -- health ------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no auth needed)."""
        reply = self._http.get("/api/v2/monitor/health")
        self._check(reply)
        return reply.json()

    def unhealthy(self) -> list[str]:
        """Components of ``HEALTH_COMPONENTS`` not reported healthy (all of them if unreachable)."""
        try:
            health = self.health()
        except (httpx.TransportError, AirflowApiError):
            return list(HEALTH_COMPONENTS)
        return [c for c in HEALTH_COMPONENTS if (health.get(c) or {}).get("status") != TERMINAL_HEALTH]

    def jobs(self, job_type: str, *, alive: bool) -> list[dict[str, Any]]:
        """The jobs (``SchedulerJob``, ``TriggererJob``, ...) of a type, only the live ones if ``alive``."""
        params = {"job_type": job_type, "is_alive": alive, "limit": 100}
        return self._json("GET", "jobs", params=params)["jobs"]

    # -- connections -------------------------------------------------------------------------------

    def create_connection(self, conn_id: str, conn_type: str, **fields: Any) -> dict[str, Any]:
        """Create a connection (``host``, ``password``, ``port``, ``extra`` as a JSON string, ...).

        An alternative to ``AIRFLOW_CONN_*`` in the deployment's env for values known only later.
        """
        return self._json(
            "POST", "connections", json={"connection_id": conn_id, "conn_type": conn_type, **fields}
        )

    def update_connection(self, conn_id: str, conn_type: str, **fields: Any) -> dict[str, Any]:
        """Replace a connection's fields (``PATCH``), e.g. to rotate its ``password``."""
        body = {"connection_id": conn_id, "conn_type": conn_type, **fields}
        return self._json("PATCH", f"connections/{_q(conn_id)}", json=body)

    # -- DAGs and runs -----------------------------------------------------------------------------

    def get_dag(self, dag_id: str) -> dict[str, Any]:
        return self._json("GET", f"dags/{_q(dag_id)}")

    def import_errors(self) -> list[dict[str, Any]]:
        return self._json("GET", "importErrors")["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the DAG has been parsed and is known to the API; import errors go in the error."""

        def probe() -> dict[str, Any] | None:
            reply = self.request("GET", f"dags/{_q(dag_id)}")
            if reply.status_code == 404:
                return None
            self._check(reply)
            return reply.json()

        try:
            return self._wait(f"DAG {dag_id} to be parsed", timeout, probe)
        except AirflowApiError as exc:
            raise AirflowApiError(f"{exc}\nimport errors: {self.import_errors()}") from None

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self._json("PATCH", f"dags/{_q(dag_id)}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create a manual run now (``logical_date`` null); returns the run, with ``dag_run_id``."""
        return self._json(
            "POST", f"dags/{_q(dag_id)}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of the DAG (each with ``dag_run_id``, ``run_type`` and ``state``)."""
        return self._json("GET", f"dags/{_q(dag_id)}/dagRuns", params={"limit": 100})["dag_runs"]

    def asset_events(self, asset_name: str) -> list[dict[str, Any]]:
        """Every event of the asset called ``asset_name`` (each with its ``extra``)."""
        assets = self._json("GET", "assets", params={"limit": 1000})["assets"]
        (asset_id,) = [asset["id"] for asset in assets if asset["name"] == asset_name]
        return self._json("GET", "assets/events", params={"asset_id": asset_id, "limit": 100})["asset_events"]

    def task_instances(self, dag_id: str, run_id: str) -> TaskInstances:
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances"
        return self._json("GET", path, params={"limit": 1000})["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        if map_index >= 0:
            path += f"/{map_index}"
        return self._json("GET", path)

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> Any:
        """Mark one task instance ``failed`` or ``success``, as the UI's buttons do."""
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        return self._json("PATCH", path, json={"new_state": state})

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> Any:
        """Clear one task instance of a run (whatever its state), as the UI's Clear button does."""
        body = {"dry_run": False, "only_failed": False, "task_ids": [task_id], "dag_run_id": run_id}
        return self._json("POST", f"dags/{_q(dag_id)}/clearTaskInstances", json=body)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The (JSON-decoded) value of one XCom, e.g. a task's return value."""
        path = f"dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/xcomEntries/{_q(key)}"
        return self._json("GET", path, params={"deserialize": True})["value"]

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 120.0,
        on_poll: Callable[[TaskInstances], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the run is ``success`` or ``failed`` and return it.

        :param on_poll: called on every poll with the run's task instances (each has ``state``,
            ``trigger`` and ``triggerer_job``), so a caller can catch short-lived states like ``deferred``
        """

        def probe() -> dict[str, Any] | None:
            if on_poll is not None:
                on_poll(self.task_instances(dag_id, run_id))
            run = self.get_run(dag_id, run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        try:
            return self._wait(f"run {dag_id}/{run_id} to finish", timeout, probe)
        except AirflowApiError as exc:
            states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
            raise AirflowApiError(f"{exc}\ntask states: {states}") from None

    def run_dag(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        timeout: float = 120.0,
        on_poll: Callable[[TaskInstances], None] | None = None,
    ) -> dict[str, Any]:
        """Wait for the DAG to be parsed, unpause it, trigger it and wait for the run to finish."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        run = self.trigger(dag_id, conf)
        return self.wait_for_run(dag_id, run["dag_run_id"], timeout, on_poll)
