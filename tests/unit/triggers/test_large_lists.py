"""Long model lists: the coalesced poller keeps the event loop free, and a list over the size cap
leaves waits and creates working.

The server is a local one (``tests/support/hostile_server.py``) answering a canned list, so building the
list costs the test process nothing while a poll is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections.abc import Iterator

import pytest
from support.conditions import until
from support.hostile_server import HostileServer, Reply, Request

from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES
from airflow_provider_ttm.exceptions import TuneTheModelError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.poller import StatusPoller, active_pollers
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

try:  # Airflow 3 hooks log through structlog; Airflow 2.11 through the standard library (caplog).
    from structlog.testing import capture_logs
except ImportError:  # pragma: no cover - Airflow 2.11
    capture_logs = None

API_KEY = "ttm-large-list-key-0123"
#: The goal of issue 11 (B4): the longest event-loop stall of one poll of 10,000 models.
STALL_GOAL_SECONDS = 0.050
#: A list reply larger than the provider reads (its content never matters: it is refused unparsed).
OVERSIZED_LIST = b'{"models": [' + b" " * MAX_REPLY_BYTES + b"]}"


def _model(index: int, status: str = "Created") -> dict:
    """A model as the service lists it, timestamps with 1 to 6 fraction digits."""
    model_id = f"{index:032x}"
    fraction = str(index % 999_999 + 1)[: index % 6 + 1]
    return {
        "status": status,
        "model_name": model_id,
        "model_id": model_id,
        "model_type": "classifier",
        "user_name": f"model-{index}",
        "name": f"model-{index}",
        "last_updated_time": f"2026-11-30 12:{index // 60 % 60:02d}:{index % 60:02d}.{fraction}",
    }


@pytest.fixture
def server(monkeypatch) -> Iterator[HostileServer]:
    """A local server, set as the connection ``ttm_large``."""
    with HostileServer() as started:
        fields = {"conn_type": "ttm", "host": started.url, "password": API_KEY, "extra": {"max_attempts": 1}}
        monkeypatch.setenv("AIRFLOW_CONN_TTM_LARGE", json.dumps(fields))
        yield started


def _trigger(model_name: str, poll_interval: float) -> TuneTheModelModelStatusTrigger:
    return TuneTheModelModelStatusTrigger("ttm_large", model_name, poll_interval, deadline=time.time() + 120)


async def _first_event(trigger: TuneTheModelModelStatusTrigger) -> dict:
    return (await trigger.run().asend(None)).payload


def _poller() -> StatusPoller:
    (poller,) = active_pollers()
    return poller


class StallMeter:
    """Measures how long the event loop is kept from other tasks, from a task ticking every 1 ms.

    Between two ticks the loop ran other callbacks; the CPU time this thread spent meanwhile is
    their stall. CPU time of this thread, not wall time, so that other processes on a busy machine
    (and the server's thread, waiting for the GIL) do not count against the code under test. The
    longest wall-clock gap is kept too, for the report.
    """

    def __init__(self) -> None:
        self.longest_cpu = 0.0
        self.longest_wall = 0.0

    async def run(self) -> None:
        """Tick until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            cpu, wall = time.thread_time(), loop.time()
            await asyncio.sleep(0.001)
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - cpu)
            self.longest_wall = max(self.longest_wall, loop.time() - wall - 0.001)


@pytest.fixture
def heap_of_this_test_only() -> Iterator[None]:
    """Move what earlier tests of this process left on the heap out of the collector's sight.

    A full collection walks every live object: in a test process that has run a thousand tests
    first, that alone stalls for over 100 ms, which a triggerer's own heap would not cost. Frozen
    (``gc.freeze``), those objects are not walked; what this test makes still is.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("heap_of_this_test_only")
def test_a_poll_of_10000_models_stalls_the_event_loop_at_most_50_ms(server, capsys) -> None:
    models = [_model(index) for index in range(10_000)]
    body = json.dumps({"models": models}).encode()
    server.respond(Reply(body=body, headers={"Content-Type": "application/json"}))
    waited = [model["model_name"] for model in models[::500]]  # 20 waits, spread over the list
    meter = StallMeter()

    async def scenario() -> tuple[int, list[BaseException | dict]]:
        tasks = [asyncio.create_task(_first_event(_trigger(name, 0.1))) for name in waited]
        await until(
            lambda: len(active_pollers()) == 1 and _poller().polls >= 2,
            "the first poll is done",
            timeout=60.0,
        )
        ticking = asyncio.create_task(meter.run())  # from the second poll: imports and TLS set-up are done
        poller = _poller()
        measured_from = poller.polls
        await until(lambda: poller.polls >= measured_from + 20, "twenty more polls", timeout=60.0)
        for task in [ticking, *tasks]:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        return poller.polls - measured_from, outcomes

    polls, outcomes = asyncio.run(scenario())

    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes
    assert [request.path for request in server.requests] == ["/v0/models"] * len(server.requests)
    with capsys.disabled():
        print(
            f"\n{len(body) / 2**20:.1f} MiB list of 10,000 models, {polls} polls: longest event-loop stall "
            f"{meter.longest_cpu * 1000:.1f} ms of CPU ({meter.longest_wall * 1000:.1f} ms wall)"
        )
    assert meter.longest_cpu <= STALL_GOAL_SECONDS, (
        f"a poll of 10,000 models kept the event loop busy for {meter.longest_cpu * 1000:.0f} ms "
        f"(goal: at most {STALL_GOAL_SECONDS * 1000:.0f} ms)"
    )


def test_a_list_over_the_size_cap_makes_each_wait_read_its_own_status(server, caplog) -> None:
    ready, training = "b" * 32, "c" * 32
    statuses = {ready: "Ready", training: "Training"}
    fits = {"now": False}

    def serve(request: Request) -> Reply:
        if request.path == "/v0/models":
            if fits["now"]:
                return Reply.json({"models": [_model(0)]})
            return Reply(body=OVERSIZED_LIST, headers={"Content-Type": "application/json"})
        model_name = request.path.split("/")[3]
        return Reply.json({"model_name": model_name, "status": statuses[model_name]})

    server.respond(serve)
    caplog.set_level(logging.INFO, logger="airflow_provider_ttm.triggers.poller")

    async def scenario() -> tuple[dict, bool]:
        ready_task = asyncio.create_task(_first_event(_trigger(ready, 30)))
        training_task = asyncio.create_task(_first_event(_trigger(training, 0.05)))
        payload = await asyncio.wait_for(ready_task, 30)
        poller = _poller()
        await until(lambda: poller.polls >= 4, "four polls", timeout=60.0)
        oversized = poller.oversized
        fits["now"] = True
        polls = poller.polls
        await until(lambda: poller.polls >= polls + 2, "a list that fits", timeout=60.0)
        statuses[training] = "Ready"  # not in the list that fits: read from its status endpoint
        await asyncio.wait_for(training_task, 30)
        return payload, oversized

    payload, oversized = asyncio.run(scenario())

    assert payload["status"] == "success"
    assert payload["model"]["model_name"] == ready
    assert oversized
    too_large = [record for record in caplog.records if "too large to read" in record.getMessage()]
    assert len(too_large) == 1, "logged once, not at every poll"
    assert too_large[0].levelno == logging.WARNING
    assert any("fits again" in record.getMessage() for record in caplog.records)
    paths = [request.path for request in server.requests]
    assert paths.count(f"/v0/models/{ready}/status") == 1
    assert paths.count(f"/v0/models/{training}/status") >= 2
    assert active_pollers() == []


CREATED = {
    "model_name": "d" * 32,
    "status": "Created",
    "model_type": "classifier",
    "user_name": "nightly",
}


def _create_server(server: HostileServer, what: str, create_reply: Reply) -> None:
    def serve(request: Request) -> Reply:
        if request.method == "GET" and request.path == f"/v0/{what}":
            return Reply(body=OVERSIZED_LIST, headers={"Content-Type": "application/json"})
        return create_reply

    server.respond(serve)


@pytest.mark.parametrize("adopt_existing", [False, True])
def test_create_proceeds_without_the_duplicate_check_when_the_list_is_too_large(
    server, caplog, adopt_existing: bool
) -> None:
    _create_server(server, "models", Reply.json(CREATED, status=201))

    with capture_logs() if capture_logs is not None else contextlib.nullcontext([]) as events:
        record = TuneTheModelHook("ttm_large").create_model(
            "classifier", name="nightly", num_classes=2, adopt_existing=adopt_existing
        )

    assert record.model_name == CREATED["model_name"]
    assert [(request.method, request.path) for request in server.requests] == [
        ("GET", "/v0/models"),
        ("POST", "/v0/models"),
    ]
    lines = [(event["log_level"], event["event"]) for event in events]
    lines += [(record.levelname.lower(), record.getMessage()) for record in caplog.records]
    (warning,) = [line for level, line in lines if level == "warning" and "Cannot look for an" in line]
    assert "existing model named 'nightly'" in warning
    assert f"larger than {MAX_REPLY_BYTES} bytes" in warning
    assert API_KEY not in repr(lines)


def test_create_with_a_lost_reply_is_not_resent_when_the_list_is_too_large(server) -> None:
    _create_server(server, "models", Reply(drop=True))

    with pytest.raises(
        TuneTheModelError, match="It was not retried: the list of models is too large"
    ) as raised:
        TuneTheModelHook("ttm_large").create_model("classifier", name="nightly", num_classes=2)

    assert [request.method for request in server.requests].count("POST") == 1
    assert API_KEY not in str(raised.value)


def test_create_file_proceeds_and_is_not_resent_when_the_file_list_is_too_large(server) -> None:
    upload = f"{server.url}/upload/f1?signature=x"
    _create_server(
        server, "files", Reply.json({"id": "f1", "status": "FileCreated", "upload_url": upload}, status=201)
    )

    record = TuneTheModelHook("ttm_large").create_file("train.jsonl", "classifier")

    assert record.file_id == "f1"
    assert [(request.method, request.path) for request in server.requests] == [
        ("GET", "/v0/files"),
        ("POST", "/v0/files"),
    ]
