"""The status trigger, run the way the triggerer runs it, against the emulator.

Behaviour tests run in both modes: coalesced (the default: one list request per interval shared by
the waits on a connection) and per-model (``coalesce=False``: each trigger reads its own status).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

#: The route each mode polls.
POLL_ROUTE = {True: "GET /v0/models", False: "GET /v0/models/{id}/status"}


@pytest.fixture(params=[True, False], ids=["coalesced", "per-model"])
def coalesce(request) -> bool:
    return request.param


def _create(ttm_emulator, **kwargs) -> str:
    return TuneTheModelHook().create_model("classifier", num_classes=2, **kwargs).model_name


async def _first_event(trigger: TuneTheModelModelStatusTrigger, timeout: float = 10.0) -> dict:
    event = await asyncio.wait_for(trigger.run().asend(None), timeout)
    return event.payload


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
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"
    assert TuneTheModelModelStatusTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert all(isinstance(value, (str, int, float, bool, type(None))) for value in kwargs.values())
    assert ttm_emulator.api_key not in repr(kwargs)


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


def test_deadline_already_passed_still_reads_once(ttm_emulator, coalesce) -> None:
    model_name = _create(ttm_emulator)
    ttm_emulator.control.force_status(model_name, "Ready")
    trigger = TuneTheModelModelStatusTrigger(
        "ttm_default", model_name, 60, deadline=time.time() - 1, coalesce=coalesce
    )

    assert asyncio.run(_first_event(trigger))["status"] == "success"


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
