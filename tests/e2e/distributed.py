"""Airflow 3 as several machines would run it, on loopback: CeleryExecutor with two Celery workers and
two triggerers, besides the scheduler, dag-processor and api-server, on PostgreSQL and Redis.

Everything lives in one temp dir, as in :class:`~tests.e2e.deployment.AirflowDeployment`, plus::

    root/redis, redis.log    the Redis server (the Celery broker)
    root/site                on every component's PYTHONPATH: the hostname callable

Each component reports its own name as its hostname (``[core] hostname_callable``), so a task
instance's ``hostname`` names the Celery worker that ran it, and a triggerer job's ``hostname`` the
triggerer. Heartbeats are short, so that a dead triggerer's triggers, and a dead worker's task, are
taken over within seconds rather than minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .airflow_home import AirflowStartError, free_port
from .deployment import DATABASE, AirflowDeployment
from .redis_server import start_redis

WORKERS = ("celery-worker-1", "celery-worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKER_CONCURRENCY = 4
TRIGGERER_CAPACITY = 25  # below the 40 waits of the test, so both triggerers hold some
HOSTNAME_MODULE = "ttm_e2e_hostname"
HOSTNAME_SOURCE = '"""The hostname each Airflow component reports: its name in the e2e deployment."""\n\nimport os\n\n\ndef hostname() -> str:\n    return os.environ["TTM_E2E_HOSTNAME"]\n'

# The short heartbeats, and what they lead to (option names from Airflow 3.3's config.yml).
FAST_FAILOVER = {
    # A triggerer heartbeats every second; one silent for 5 s is dead and its triggers are taken over.
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    "AIRFLOW__TRIGGERER__CAPACITY": str(TRIGGERER_CAPACITY),
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    # A running task heartbeats every 2 s; one silent for 10 s failed (and is retried).
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
}


class DistributedDeployment(AirflowDeployment):
    """PostgreSQL + Redis + CeleryExecutor with two workers and two triggerers, all on 127.0.0.1.

    Use as :class:`~tests.e2e.deployment.AirflowDeployment`; :meth:`crash` and :meth:`start_named`
    take a component down with ``kill -9`` and bring it back.

    :param dags_folder: the DAGs folder; default ``root/dags`` (created, empty)
    :param extra_env: extra environment for every component
    :param start_timeout: seconds allowed for ``db migrate``, and for the components to be ready
    :param keep: keep the temp dir after :meth:`stop` (logs, for debugging)
    """

    COMPONENTS: dict[str, tuple[str, ...]] = {
        "api-server": AirflowDeployment.COMPONENTS["api-server"],
        "scheduler": AirflowDeployment.COMPONENTS["scheduler"],
        "dag-processor": AirflowDeployment.COMPONENTS["dag-processor"],
        **{name: ("triggerer", "--skip-serve-logs") for name in TRIGGERERS},
        **{
            name: (
                *("celery", "worker", "--celery-hostname", f"{name}@localhost"),
                *("--concurrency", str(WORKER_CONCURRENCY), "--skip-serve-logs"),
                *("--without-gossip", "--without-mingle"),
            )
            for name in WORKERS
        },
    }

    # One api-server answers the REST API and the execution API of every task start and heartbeat:
    # on a busy 2-core machine a REST reply can take longer than 10 s while 40 tasks start.
    REST_TIMEOUT = 30.0

    def __init__(
        self,
        dags_folder: Path | None = None,
        extra_env: dict[str, str] | None = None,
        start_timeout: float = 240.0,
        keep: bool = False,
    ) -> None:
        super().__init__(dags_folder, extra_env, start_timeout, keep)
        self.redis_port = free_port()

    def start_services(self) -> None:
        """Start Redis (stopped with the components), and write the hostname callable."""
        site = self.root / "site"
        site.mkdir()
        (site / f"{HOSTNAME_MODULE}.py").write_text(HOSTNAME_SOURCE)
        self.components.append(start_redis(self.root, self.redis_port, self.marker_env()))

    def _airflow_env(self, sql_alchemy_conn: str) -> dict[str, str]:
        env = super()._airflow_env(sql_alchemy_conn)
        assert self.postgres is not None
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.postgres.url(DATABASE, 'psycopg2')}",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{HOSTNAME_MODULE}.hostname",
                "PYTHONPATH": str(self.root / "site"),
                "TTM_E2E_HOSTNAME": "airflow-cli",
                **FAST_FAILOVER,
            }
        )
        env.update(self.extra_env)
        return env

    def component_env(self, name: str) -> dict[str, str]:
        """The common environment, with the component's name as its hostname."""
        return {**self.env, "TTM_E2E_HOSTNAME": name}

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until the health endpoint is all green, both triggerers run and both workers are ready."""
        super().wait_healthy(timeout)
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            self._check_running()
            missing = [*self.missing_triggerers(), *self.unready_workers()]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AirflowStartError(f"not ready in time: {missing}\n{self.describe_logs()}")
            time.sleep(0.5)

    def live_triggerers(self) -> dict[str, Any]:
        """Hostname -> job of each triggerer the database holds alive."""
        return {job["hostname"]: job for job in self.client.jobs("TriggererJob", alive=True)}

    def missing_triggerers(self) -> list[str]:
        """The triggerers that have no live job."""
        live = self.live_triggerers()
        return [name for name in TRIGGERERS if name not in live]

    def unready_workers(self) -> list[str]:
        """The Celery workers whose log (appended to on a restart) does not say ``ready`` yet."""
        return [
            name
            for name in WORKERS
            if f"{name}@localhost ready" not in self.component(name).log_path.read_text(errors="replace")
        ]
