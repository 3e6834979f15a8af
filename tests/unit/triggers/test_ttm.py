"""The status trigger, run the way the triggerer runs it, against the emulator.

Behaviour tests run in both modes: coalesced (the default: one list request per interval shared by
the waits on a connection) and per-model (``coalesce=False``: each trigger reads its own status).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Callable, Iterator

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from support.hostile_server import HostileServer, Reply, Request

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.events import model_from_event
from airflow_provider_ttm.triggers.poller import active_pollers
from airflow_provider_ttm.triggers.ttm import CLASSPATH, TuneTheModelModelStatusTrigger

#: The route each mode polls.
POLL_ROUTE = {True: "GET /v0/models", False: "GET /v0/models/{id}/status"}


@pytest.fixture(params=[True, False], ids=["coalesced", "per-model"])
def coalesce(request) -> bool:
    return request.param


def _create(ttm_emulator, **kwargs) -> str:
    return TuneTheModelHook().create_model("classifier", num_classes=2, **kwargs).model_name


async def _first_event(trigger: TuneTheModelModelStatusTrigger, timeout: float = 10.0) -> dict:
    return (await _only_event(trigger, timeout)).payload


async def _only_event(trigger: TuneTheModelModelStatusTrigger, timeout: float = 10.0) -> TriggerEvent:
    """The trigger's one event; the trigger must end right after it."""
    events = trigger.run()
    event = await asyncio.wait_for(events.asend(None), timeout)
    with pytest.raises(StopAsyncIteration):
        await events.asend(None)
    return event


def test_serialize_round_trip_keeps_every_argument_and_no_secret(ttm_emulator) -> None:
    trigger = TuneTheModelModelStatusTrigger(
        ttm_conn_id="ttm_default",
        model_name="abc123",
        poll_interval=7.5,
        deadline=1_900_000_000.0,
        max_consecutive_errors=3,
        strict=True,
        started_at=1_800_000_000.0,
        coalesce=False,
        end_from_trigger=True,
        skip_on_failure=True,
        do_xcom_push=False,
    )
    classpath, kwargs = trigger.serialize()
    assert (kwargs["end_from_trigger"], kwargs["skip_on_failure"], kwargs["do_xcom_push"]) == (
        True,
        True,
        False,
    )
    assert classpath == "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"
    assert TuneTheModelModelStatusTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert all(isinstance(value, (str, int, float, bool, type(None))) for value in kwargs.values())
    assert ttm_emulator.api_key not in repr(kwargs)


def test_serialized_classpath_is_the_literal_and_imports_the_trigger() -> None:
    classpath, _ = TuneTheModelModelStatusTrigger("ttm_default", "abc123").serialize()
    assert classpath == CLASSPATH
    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is TuneTheModelModelStatusTrigger


def test_a_subclass_serializes_its_own_path_and_leaves_the_literal_alone() -> None:
    class Mine(TuneTheModelModelStatusTrigger):
        pass

    mine, _ = Mine("ttm_default", "abc123").serialize()
    ours, _ = TuneTheModelModelStatusTrigger("ttm_default", "abc123").serialize()
    assert mine == f"{__name__}.{Mine.__qualname__}"
    assert ours == "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"


def test_serialized_coalesce_defaults_to_true_for_triggers_serialized_before_it() -> None:
    trigger = TuneTheModelModelStatusTrigger("ttm_default", "abc123")
    _, kwargs = trigger.serialize()
    assert kwargs["coalesce"] is True
    del kwargs["coalesce"]
    assert TuneTheModelModelStatusTrigger(**kwargs).coalesce is True


def test_success_event_carries_the_ready_model(ttm_emulator, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "Ready")

    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_default", model_name, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "success"
    assert payload["model_name"] == model_name
    assert payload["model_status"] == "Ready"
    assert payload["model"]["model_name"] == model_name


def test_serialized_end_from_trigger_is_off_for_triggers_serialized_before_it() -> None:
    _, kwargs = TuneTheModelModelStatusTrigger("ttm_default", "abc123").serialize()
    assert (kwargs["end_from_trigger"], kwargs["skip_on_failure"], kwargs["do_xcom_push"]) == (
        False,
        False,
        True,
    )
    del kwargs["end_from_trigger"], kwargs["skip_on_failure"], kwargs["do_xcom_push"]
    trigger = TuneTheModelModelStatusTrigger(**kwargs)
    assert (trigger.end_from_trigger, trigger.skip_on_failure, trigger.do_xcom_push) == (False, False, True)


@pytest.mark.parametrize("name", ["end_from_trigger", "skip_on_failure", "do_xcom_push"])
def test_end_flags_must_be_booleans(ttm_emulator, name) -> None:
    event = asyncio.run(_only_event(TuneTheModelModelStatusTrigger("ttm_default", "abc123", **{name: "no"})))
    assert type(event) is TriggerEvent
    assert event.payload["status"] == "error"
    assert f"{name} must be True or False" in event.payload["message"]


def test_end_from_trigger_succeeds_the_task_with_the_record_a_worker_would_return(
    ttm_emulator, coalesce, logs
) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "Ready")
    arguments = {"ttm_conn_id": "ttm_default", "model_name": model_name, "poll_interval": 0.05}

    resumed = asyncio.run(_only_event(TuneTheModelModelStatusTrigger(**arguments, coalesce=coalesce)))
    ended = asyncio.run(
        _only_event(TuneTheModelModelStatusTrigger(**arguments, coalesce=coalesce, end_from_trigger=True))
    )

    assert type(ended) is TaskSuccessEvent
    assert ended.xcoms == {"return_value": model_from_event(resumed.payload, model_name)}
    assert f"Model {model_name} is Ready. Ending the task from the triggerer: success." in logs.messages(
        "info"
    )
    assert ttm_emulator.api_key not in repr(ended) + repr(ended.xcoms) + logs.everything()


@pytest.mark.parametrize(
    ("skip_on_failure", "expected"), [(False, TaskFailedEvent), (True, TaskSkippedEvent)]
)
def test_end_from_trigger_ends_a_failed_fit_with_the_reason_in_the_trigger_log(
    ttm_emulator, coalesce, logs, skip_on_failure, expected
) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "FitFailed")
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default",
        model_name,
        0.05,
        coalesce=coalesce,
        end_from_trigger=True,
        skip_on_failure=skip_on_failure,
    )

    event = asyncio.run(_only_event(trigger))

    assert type(event) is expected
    assert not event.xcoms
    (message,) = [m for m in logs.messages("error") if "Ending the task from the triggerer" in m]
    assert "FitFailed" in message
    assert message.endswith(f": {event.payload}.")


def test_end_from_trigger_fails_the_task_at_the_deadline(ttm_emulator, coalesce, logs) -> None:
    model_name = _create(ttm_emulator)
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default", model_name, 0.05, deadline=time.time() + 0.2, coalesce=coalesce, end_from_trigger=True
    )

    event = asyncio.run(_only_event(trigger))

    assert type(event) is TaskFailedEvent
    assert any("was not Ready by the deadline" in m for m in logs.messages("error"))


def test_end_from_trigger_fails_a_wait_that_cannot_start_even_with_skip_on_failure(logs) -> None:
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default", "not a model id!", 0.05, end_from_trigger=True, skip_on_failure=True
    )

    event = asyncio.run(_only_event(trigger))

    assert type(event) is TaskFailedEvent
    assert any("Cannot wait on model not a model id!" in m for m in logs.messages("error"))


def test_waits_through_training_until_ready(ttm_emulator, coalesce) -> None:
    ttm_emulator.control.configure(auto_train_seconds=0.5)
    model_name = _create(ttm_emulator)

    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_default", model_name, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "success"
    assert ttm_emulator.control.count(POLL_ROUTE[coalesce]) >= 2
    assert ttm_emulator.control.count(POLL_ROUTE[not coalesce]) == 0


def test_failed_fit_yields_failed(ttm_emulator, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "FitFailed")

    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_default", model_name, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "failed"
    assert payload["model_status"] == "FitFailed"
    assert "FitFailed" in payload["message"]


def test_deadline_yields_timeout(ttm_emulator, coalesce) -> None:
    model_name = _create(ttm_emulator)
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default", model_name, 0.05, deadline=time.time() + 0.2, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "timeout"
    assert payload["model_status"] == "Created"


def test_deadline_already_passed_yields_timeout_without_a_request(ttm_emulator, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "Ready")
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default", model_name, 60, deadline=time.time() - 1, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "timeout"
    assert "last status unknown" in payload["message"]
    assert ttm_emulator.control.counters() == {"POST /v0/models": 1}


def test_unknown_model_yields_error_at_once(ttm_emulator, coalesce) -> None:
    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_default", "f" * 32, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "error"
    assert "404" in payload["message"]


def test_rejected_key_yields_error_without_the_key(ttm_emulator, monkeypatch, coalesce) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_WRONG",
        f'{{"conn_type": "ttm", "host": "{ttm_emulator.url}", "password": "wrong-key-987654"}}',
    )
    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_wrong", "a" * 32, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "error"
    assert "rejected" in payload["message"]
    assert "wrong-key-987654" not in repr(payload)


def test_invalid_model_name_yields_error_without_a_request(ttm_emulator, coalesce) -> None:
    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger("ttm_default", "../x", 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "error"
    assert "model_name" in payload["message"]
    assert ttm_emulator.control.counters() == {}


def test_transient_errors_are_tolerated_up_to_the_limit(ttm_emulator, one_attempt_conn, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "Ready")
    ttm_emulator.control.add_fault(kind="error", status=503, route=POLL_ROUTE[coalesce], times=2)
    trigger = TuneTheModelModelStatusTrigger(
        one_attempt_conn, model_name, 0.05, max_consecutive_errors=2, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "success"
    assert ttm_emulator.control.count(POLL_ROUTE[coalesce]) == 3


def test_too_many_transient_errors_in_a_row_yield_error(ttm_emulator, one_attempt_conn, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.add_fault(kind="error", status=503, route=POLL_ROUTE[coalesce])
    trigger = TuneTheModelModelStatusTrigger(
        one_attempt_conn, model_name, 0.05, max_consecutive_errors=2, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "error"
    assert "after 3 failed polls in a row" in payload["message"]


def test_failures_seen_before_deferring_count_toward_the_limit(
    ttm_emulator, one_attempt_conn, coalesce
) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.add_fault(kind="error", status=503, route=POLL_ROUTE[coalesce])
    trigger = TuneTheModelModelStatusTrigger(
        one_attempt_conn, model_name, 0.05, max_consecutive_errors=2, coalesce=coalesce, errors_in_a_row=1
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "error"
    assert "after 3 failed polls in a row" in payload["message"]
    assert ttm_emulator.control.count(POLL_ROUTE[coalesce]) == 2


def test_pending_while_training_and_cancellation_closes_the_client(
    ttm_emulator, monkeypatch, coalesce
) -> None:
    model_name = _create(ttm_emulator)
    opened = []
    original = TuneTheModelHook.async_transport

    async def recording_transport(self):
        transport = await original(self)
        opened.append(transport)
        return transport

    monkeypatch.setattr(TuneTheModelHook, "async_transport", recording_transport)

    async def scenario() -> None:
        task = asyncio.create_task(
            TuneTheModelModelStatusTrigger("ttm_default", model_name, 0.05, coalesce=coalesce)
            .run()
            .asend(None)
        )
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())

    assert len(opened) == 1
    assert opened[0].client.is_closed
    assert ttm_emulator.control.count(POLL_ROUTE[coalesce]) >= 2


# --- against a hostile server: the deadline holds whatever the reply does; a rotated key ------------

MODEL = "a" * 32
OLD_KEY, NEW_KEY = "ttm-old-key-0123456789", "ttm-new-key-9876543210"


def _status(status: str) -> dict:
    return {"model_name": MODEL, "status": status, "last_updated_time": "2026-12-01 04:00:00.5"}


def _reply(path: str, status: str, **options) -> Reply:
    """The list or the status reply (whichever ``path`` asks for) showing MODEL in ``status``."""
    payload = {"models": [_status(status)]} if path == "/v0/models" else _status(status)
    return Reply.json(payload, **options)


@pytest.fixture
def hostile(monkeypatch) -> Iterator[tuple[HostileServer, Callable[..., str]]]:
    """A hostile server, and a function that (re)defines a connection to it; returns its id."""
    with HostileServer() as server:

        def define(password: str = OLD_KEY, **extra) -> str:
            fields = {"conn_type": "ttm", "host": server.url, "password": password, "extra": extra}
            monkeypatch.setenv("AIRFLOW_CONN_TTM_HOSTILE", json.dumps(fields))
            return "ttm_hostile"

        yield server, define


@pytest.mark.parametrize("trickle", ["headers", "body", "chunks", "all"])
@pytest.mark.parametrize("reading", ["first", "second"])
def test_the_deadline_holds_for_every_reading_whatever_the_reply_does(
    hostile, coalesce, trickle: str, reading: str
) -> None:
    server, define = hostile
    # One byte every 0.5 s: the reply would take minutes; the connection's own timeout is longer.
    server.respond(lambda request: _reply(request.path, "Ready", trickle=trickle, delay=0.5))
    if reading == "second":
        server.queue(_reply("/v0/models" if coalesce else "", "Created"))
    conn_id = define(timeout=600, max_attempts=1)
    trigger = TuneTheModelModelStatusTrigger(
        conn_id, MODEL, 0.05, deadline=time.time() + 1.5, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger, timeout=20))

    assert payload["status"] == "timeout"
    assert payload["model_status"] == ("Created" if reading == "second" else None)
    assert len(server.requests) == (2 if reading == "second" else 1)


def test_one_stalled_list_holds_no_shared_wait_past_its_deadline(hostile) -> None:
    server, define = hostile
    server.respond(lambda request: _reply(request.path, "Ready", trickle="body", delay=0.5))
    conn_id = define(timeout=600, max_attempts=1)
    now = time.time()
    bounded = [TuneTheModelModelStatusTrigger(conn_id, MODEL, 0.05, deadline=now + s) for s in (1, 2)]
    unbounded = TuneTheModelModelStatusTrigger(conn_id, MODEL, 0.05)

    async def scenario() -> tuple[list[dict], bool]:
        waiting = asyncio.create_task(_first_event(unbounded, timeout=60))
        payloads = await asyncio.gather(*(_first_event(trigger, timeout=20) for trigger in bounded))
        still_waiting = not waiting.done()
        waiting.cancel()
        await asyncio.wait([waiting])
        return payloads, still_waiting

    payloads, still_waiting = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["timeout", "timeout"]
    assert still_waiting  # the list is still trickling: the wait without a deadline goes on
    assert [request.path for request in server.requests] == ["/v0/models"]


def test_a_rotated_key_is_picked_up_mid_wait(hostile, coalesce, monkeypatch) -> None:
    server, define = hostile
    accepted = {"key": OLD_KEY}

    def serve(request: Request) -> Reply:
        if request.headers.get("authorization") != accepted["key"]:
            return Reply.json({"detail": "Invalid API key"}, status=401)
        return _reply(request.path, "Ready" if accepted["key"] == NEW_KEY else "Created")

    server.respond(serve)
    conn_id = define(OLD_KEY)
    opened: list = []
    original = TuneTheModelHook.async_transport

    async def recording(self):
        opened.append(await original(self))
        return opened[-1]

    monkeypatch.setattr(TuneTheModelHook, "async_transport", recording)
    triggers = [TuneTheModelModelStatusTrigger(conn_id, MODEL, 0.05, coalesce=coalesce) for _ in range(2)]

    async def scenario() -> list[dict]:
        tasks = [asyncio.create_task(_first_event(trigger)) for trigger in triggers]
        loop = asyncio.get_running_loop()
        ends = loop.time() + 10
        while len(server.requests) < 4 and loop.time() < ends:
            await asyncio.sleep(0.01)
        define(NEW_KEY)  # the connection first, then the service: as an operator rotates a key
        accepted["key"] = NEW_KEY
        return list(await asyncio.gather(*tasks))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["success", "success"]
    keys = [request.headers["authorization"] for request in server.requests]
    assert keys[:4] == [OLD_KEY] * 4
    assert keys[-1] == NEW_KEY
    assert keys.count(NEW_KEY) <= 2 * (1 if coalesce else 2)  # each reading that was refused, once more
    # One client per trigger (or one shared), each read again once; every client closed at the end.
    assert len(opened) == (2 if coalesce else 4)
    assert all(transport.client.is_closed for transport in opened)
    assert OLD_KEY not in repr(payloads)
    assert NEW_KEY not in repr(payloads)


def test_a_rejected_key_of_an_unchanged_connection_is_reported_after_one_rereading(hostile, coalesce) -> None:
    server, define = hostile
    server.queue(_reply("/v0/models" if coalesce else "", "Created"))
    server.respond(Reply.json({"detail": "Invalid API key"}, status=401))
    conn_id = define(OLD_KEY)

    payload = asyncio.run(
        _first_event(TuneTheModelModelStatusTrigger(conn_id, MODEL, 0.05, coalesce=coalesce))
    )

    assert payload["status"] == "error"
    assert "rejected" in payload["message"]
    assert OLD_KEY not in repr(payload)
    assert len(server.requests) == 2  # the same key is not sent again


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "x?y=1", "has space", "a" * 129])
def test_an_id_in_a_reply_that_is_not_a_model_id_never_reaches_an_event(hostile, coalesce, bad_id) -> None:
    server, define = hostile
    bad = {"model_name": bad_id, "status": "Ready"}
    # The list shows the waited model too: the bad entry of another model is passed over unread
    # (only waited-on entries are kept and checked); a status reply about it is malformed.
    server.respond(
        lambda request: Reply.json(
            {"models": [_status("Ready"), bad]} if request.path == "/v0/models" else bad
        )
    )
    conn_id = define(max_attempts=1)
    trigger = TuneTheModelModelStatusTrigger(
        conn_id, MODEL, 0.05, max_consecutive_errors=1, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    if coalesce:
        assert payload["status"] == "success"
        assert payload["model"]["model_name"] == MODEL
        assert bad_id not in repr(payload)
        return
    assert payload["status"] == "error"
    assert "after 2 failed polls in a row" in payload["message"]
    assert "the model id in the reply must be a model id" in payload["message"]
    assert "model" not in payload


def test_the_deadline_holds_while_the_connection_is_read(monkeypatch, coalesce) -> None:
    async def never(self):
        await asyncio.Event().wait()  # a secrets backend that does not answer

    monkeypatch.setattr(TuneTheModelHook, "aget_settings", never)
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_any", MODEL, 0.05, deadline=time.time() + 0.5, coalesce=coalesce
    )

    payload = asyncio.run(_first_event(trigger))

    assert payload["status"] == "timeout"
    assert payload["model_status"] is None
    assert active_pollers() == []
