"""The provider in a distributed deployment: CeleryExecutor with two Celery workers and two triggerers
(``distributed.py``), the emulator in its own process, driven through the REST API v2.

The scenarios share one deployment and run in order; each measures with deltas of the emulator's
request counters. The emulator trains no model by itself: each test sets its models' statuses, so
a wait ends when the test says so. ``ttm_default`` is a connection in Airflow's database (not an
environment variable), so that it can be rotated through the REST API.

Run alone: ``.venv/bin/pytest -m e2e tests/e2e/test_distributed.py`` (``-s`` prints the measures).
"""

from __future__ import annotations

import contextlib
import secrets
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from .distributed import TRIGGERERS, WORKERS, DistributedDeployment
from .emulator_process import EmulatorProcess
from .rest_client import AirflowApiError, AirflowRestClient, TaskInstances

pytestmark = [pytest.mark.e2e, pytest.mark.distributed]

CONN_ID = "ttm_default"
POLL_INTERVAL = 2.0  # the sensors' poke_interval, seconds
LIST_ROUTE = "GET /v0/models"
STATUS_ROUTE = "GET /v0/models/{id}/status"
CREATE_ROUTE = "POST /v0/models"
_T = TypeVar("_T")

WAITS_DAG_ID = "ttm_e2e_distributed_waits"
WAITS_DAG = textwrap.dedent(
    f"""
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG, TriggerRule, task

    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    with DAG("{WAITS_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):

        @task
        def models(dag_run=None):
            return dag_run.conf["models"]

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def delete_models(names):
            hook = TuneTheModelHook()
            for name in names:
                hook.delete_model(name)

        names = models()
        wait = TuneTheModelModelReadySensor.partial(
            task_id="wait", deferrable=True, poke_interval={POLL_INTERVAL}, timeout=3600, retries=0
        ).expand(model_name=names)
        wait >> delete_models(names)
    """
)

CREATE_DAG_ID = "ttm_e2e_distributed_create_and_wait"
CREATE_DAG = textwrap.dedent(
    f"""
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import DAG, TriggerRule

    from airflow_provider_ttm.operators.ttm import (
        TuneTheModelCreateModelOperator,
        TuneTheModelDeleteModelOperator,
    )

    with DAG("{CREATE_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
        create = TuneTheModelCreateModelOperator(
            task_id="create_and_wait",
            model_type="generator",
            wait_for_ready=True,
            deferrable=False,
            poll_interval=1,
            timeout=600,
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
        delete = TuneTheModelDeleteModelOperator(
            task_id="delete", model_name=create.output, trigger_rule=TriggerRule.ALL_DONE
        )
        create >> delete
    """
)


def wait_for(what: str, timeout: float, probe: Callable[[], _T | None], interval: float = 0.5) -> _T:
    """Call ``probe`` until it returns something other than None or False; fail after ``timeout`` s.

    A probe that fails to reach the api-server or the emulator (a busy machine) is tried again.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result is not None and result is not False:
                return result
        except (httpx.TransportError, AirflowApiError) as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last error: {last_error}"
            )
        time.sleep(interval)


@dataclass
class Setup:
    """The deployment, its emulator, and the key ``ttm_default`` holds now."""

    deployment: DistributedDeployment
    emulator: EmulatorProcess
    key: str

    @property
    def api(self) -> AirflowRestClient:
        return self.deployment.client

    def counters(self) -> dict[str, int]:
        return dict(self.emulator.state()["counters"])

    def model_names(self) -> set[str]:
        return {model["model_name"] for model in self.emulator.state()["models"]}

    def create_training_models(self, count: int) -> list[str]:
        """``count`` models created with the current key, each held in Training until released."""
        names = []
        with httpx.Client(base_url=self.emulator.url, headers={"Authorization": self.key}) as client:
            for _ in range(count):
                body = {"model_type": "classifier", "model_params": {"num_classes": 2}}
                names.append(
                    str(client.post("/v0/models", json=body).raise_for_status().json()["model_name"])
                )
        for name in names:
            self.emulator.force_status(name, "Training")
        return names

    def release(self, names: list[str]) -> None:
        for name in names:
            self.emulator.force_status(name, "Ready")

    @contextlib.contextmanager
    def waits_on(self, count: int) -> Iterator[tuple[str, list[str]]]:
        """Trigger the waits DAG over ``count`` new models; yields the run id and the models, which
        are released (Ready) on the way out whatever happened, so that a failed test leaves no wait
        taking a triggerer's capacity from the next one."""
        names = self.create_training_models(count)
        try:
            yield self.api.trigger(WAITS_DAG_ID, conf={"models": names})["dag_run_id"], names
        finally:
            self.release(names)

    def waits(self, run_id: str) -> TaskInstances:
        return [ti for ti in self.api.task_instances(WAITS_DAG_ID, run_id) if ti["task_id"] == "wait"]

    def all_deferred(self, run_id: str, count: int, timeout: float = 180) -> TaskInstances:
        """Wait until the ``count`` waits are deferred, each trigger held by a live triggerer."""

        def probe() -> TaskInstances | None:
            waits = self.waits(run_id)
            held = [ti for ti in waits if ti["state"] == "deferred" and ti["triggerer_job"]]
            return waits if len(held) == count else None

        return wait_for(f"{count} waits deferred in triggerers", timeout, probe)

    def all_waiting(self, run_id: str, names: list[str], timeout: float = 90) -> float:
        """Wait until each model's trigger has taken its first reading (its trigger log says the
        model is Training), so that its triggerer's poller runs with the connection as read then;
        returns the seconds waited.

        A deferred task's trigger is assigned to a triggerer (``triggerer_job`` above) a second or
        more, on a busy machine several, before that triggerer starts running it and reads the
        connection: what happens in between is not yet the trigger's doing.
        """

        def probe() -> bool:
            text = "\n".join(self.deployment.trigger_logs(WAITS_DAG_ID, run_id).values())
            return all(f"Model {name} is Training" in text for name in names)

        started = time.monotonic()
        wait_for(f"the first reading of {len(names)} triggers", timeout, probe)
        return time.monotonic() - started


def holders(waits: TaskInstances) -> dict[str, int]:
    """Triggerer hostname -> number of the waits' triggers it holds."""
    counts: dict[str, int] = {}
    for ti in waits:
        name = ti["triggerer_job"]["hostname"]
        counts[name] = counts.get(name, 0) + 1
    return counts


def delta(after: dict[str, int], before: dict[str, int], route: str) -> int:
    return after.get(route, 0) - before.get(route, 0)


def assert_succeeded_once(setup: Setup, dag_id: str, run_id: str) -> TaskInstances:
    """The run succeeded and every task instance in it succeeded on its first try."""
    run = setup.api.wait_for_run(dag_id, run_id, timeout=240)
    tis = setup.api.task_instances(dag_id, run_id)
    assert run["state"] == "success", [(ti["task_id"], ti["map_index"], ti["state"]) for ti in tis]
    assert {(ti["state"], ti["try_number"]) for ti in tis} == {("success", 1)}
    return tis


@pytest.fixture(scope="module")
def setup(
    distributed_deployment: DistributedDeployment, distributed_emulator: EmulatorProcess
) -> Iterator[Setup]:
    """The deployment with ``ttm_default`` in its database, and both DAGs parsed and unpaused."""
    deployment, emulator = distributed_deployment, distributed_emulator
    deployment.client.create_connection(CONN_ID, "ttm", host=emulator.url, password=emulator.api_key)
    deployment.add_dag_file(f"{WAITS_DAG_ID}.py", WAITS_DAG)
    deployment.add_dag_file(f"{CREATE_DAG_ID}.py", CREATE_DAG)
    for dag_id in (WAITS_DAG_ID, CREATE_DAG_ID):
        deployment.client.wait_for_dag(dag_id, timeout=120)
        deployment.client.unpause(dag_id)
    setup = Setup(deployment, emulator, emulator.api_key)
    yield setup
    assert deployment.grep_logs(emulator.api_key) == []
    assert deployment.grep_logs(setup.key) == []


def test_40_waits_share_one_list_request_per_interval_per_triggerer(setup: Setup) -> None:
    count, window = 40, 12.0
    models_before = setup.model_names()
    with setup.waits_on(count) as (run_id, names):
        held = holders(setup.all_deferred(run_id, count))
        starting = setup.all_waiting(run_id, names)  # every poller started: the window sees them steady
        before = setup.counters()
        time.sleep(window)  # a measuring window, not a wait for a condition
        during = setup.counters()
    assert_succeeded_once(setup, WAITS_DAG_ID, run_id)

    lists, statuses = delta(during, before, LIST_ROUTE), delta(during, before, STATUS_ROUTE)
    print(
        f"\n[a] {count} waits held by {held}, all read {starting:.1f}s after all were deferred; "
        f"in {window:.0f}s: {lists} list, {statuses} status requests"
    )
    # Both triggerers hold waits (capacity 25 each), and each lists at most once per poll interval,
    # and at least every other one (a busy machine may hold a triggerer's event loop up for seconds).
    assert set(held) == set(TRIGGERERS), held
    assert lists <= len(held) * (window / POLL_INTERVAL + 1), lists
    assert lists >= len(held) * window / POLL_INTERVAL / 2, lists
    assert statuses <= 2, statuses
    assert setup.model_names() == models_before  # the DAG deleted every model


def test_a_rotated_key_is_picked_up_by_the_waits(setup: Setup) -> None:
    count = 10
    models_before = setup.model_names()
    reread = f"Connection '{CONN_ID}' changed since it was read"
    with setup.waits_on(count) as (run_id, names):
        held = holders(setup.all_deferred(run_id, count))
        # Every trigger has read its model with the old key: each triggerer's poller holds the
        # connection as it was (a trigger not yet started would read the new key at its start).
        starting = setup.all_waiting(run_id, names)
        assert setup.deployment.grep_logs(reread) == []
        old_key, new_key = setup.key, f"ttm-e2e-rotated-{secrets.token_hex(8)}"

        # The service issues a second key of the same account; the connection gets it; the old one is revoked.
        setup.emulator.admin(
            "POST", "config", {"api_keys": [old_key, new_key], "api_key_aliases": {new_key: old_key}}
        )
        setup.api.update_connection(CONN_ID, "ttm", host=setup.emulator.url, password=new_key)
        setup.key = new_key
        setup.emulator.admin("POST", "config", {"api_keys": [new_key]})
        revoked = httpx.get(f"{setup.emulator.url}/v0/models", headers={"Authorization": old_key}, timeout=10)
        assert revoked.status_code == 401

        # Each triggerer's next request is refused; its poller reads the connection again, finds
        # it changed and says so (once per poller, in the triggerer's log), then goes on with the
        # new key. Only then are the models released: their Ready is read with the new key.
        def rereads() -> list[tuple[Path, str]] | None:
            hits = setup.deployment.grep_logs(reread)
            return hits if len(hits) >= len(held) else None

        noticed = wait_for(f"the pollers of {sorted(held)} to read the connection again", 60, rereads, 1.0)
        print(
            f"\n[d] {count} waits held by {held}, all read {starting:.1f}s after all were deferred; "
            f"the rotation noticed in {[path.name for path, _ in noticed]}"
        )

    # No wait failed or ran twice, and the DAG's last task deleted the models with the new key.
    assert_succeeded_once(setup, WAITS_DAG_ID, run_id)
    assert setup.model_names() == models_before


def test_a_killed_triggerers_waits_move_to_the_other(setup: Setup) -> None:
    count = 16
    models_before = setup.model_names()
    with setup.waits_on(count) as (run_id, names):
        held = holders(setup.all_deferred(run_id, count))
        setup.all_waiting(run_id, names)  # killed mid-wait, not while starting its triggers
        victim = max(held, key=lambda name: held[name])
        survivor = next(name for name in TRIGGERERS if name != victim)

        killed = setup.deployment.crash(victim)
        crashed_at = time.monotonic()

        def all_with_survivor() -> TaskInstances | None:
            waits = setup.waits(run_id)
            moved = [
                ti for ti in waits if ti["triggerer_job"] and ti["triggerer_job"]["hostname"] == survivor
            ]
            return waits if len(moved) == count else None

        wait_for(f"the waits to move to {survivor}", 60, all_with_survivor, interval=0.2)
        recovery = time.monotonic() - crashed_at
        print(
            f"\n[b] kill -9 {victim} ({len(killed)} processes, {held[victim]} of {count} waits): all on {survivor} after {recovery:.1f}s"
        )
        # Requests go on from the survivor: the waits are polled again before any is released.
        before = setup.counters()
        wait_for(
            "a list request from the survivor", 30, lambda: delta(setup.counters(), before, LIST_ROUTE) >= 1
        )

    assert_succeeded_once(setup, WAITS_DAG_ID, run_id)
    assert setup.model_names() == models_before
    assert victim not in setup.deployment.live_triggerers()
    assert recovery < 30


def test_a_killed_worker_s_create_and_wait_resumes_its_model_on_the_other(setup: Setup) -> None:
    models_before = setup.model_names()
    before = setup.counters()
    run_id = setup.api.trigger(CREATE_DAG_ID)["dag_run_id"]

    def answered() -> bool:
        # The first status read follows the create's reply (and the model id stored for a retry).
        counters = setup.counters()
        return delta(counters, before, CREATE_ROUTE) >= 1 and delta(counters, before, STATUS_ROUTE) >= 1

    wait_for("the create to be answered", 120, answered, interval=0.05)
    ti = setup.api.task_instance(CREATE_DAG_ID, run_id, "create_and_wait")
    victim = ti["hostname"]
    assert victim in WORKERS, ti
    setup.deployment.crash(victim)
    crashed_at = time.monotonic()
    (model,) = setup.model_names() - models_before
    survivor = next(name for name in WORKERS if name != victim)

    def retried() -> dict[str, Any] | None:
        ti = setup.api.task_instance(CREATE_DAG_ID, run_id, "create_and_wait")
        return ti if ti["try_number"] == 2 and ti["state"] == "running" else None

    retry = wait_for("the retry on the other worker", 120, retried)
    print(
        f"\n[c] kill -9 {victim} after the create; try 2 running on {retry['hostname']} after {time.monotonic() - crashed_at:.1f}s"
    )
    assert retry["hostname"] == survivor
    setup.emulator.force_status(model, "Ready")

    run = setup.api.wait_for_run(CREATE_DAG_ID, run_id, timeout=120)
    assert run["state"] == "success"
    assert setup.api.xcom(CREATE_DAG_ID, run_id, "create_and_wait") == model
    assert delta(setup.counters(), before, CREATE_ROUTE) == 1
    assert setup.model_names() == models_before  # the one model, deleted by the teardown
