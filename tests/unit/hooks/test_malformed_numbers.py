"""B5: numbers JSON cannot carry, or Python cannot parse, are malformed replies, retried like any."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, call_within

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import TuneTheModelMalformedResponseError
from airflow_provider_ttm.hooks.transport import AsyncTransport, SyncTransport

BOUND = 20

#: Bodies of 200 replies that ``json.loads`` would turn into a ``ValueError`` or a non-finite float.
BAD_BODIES = {
    "huge-integer": '{"models": [], "count": ' + "9" * 4301 + "}",
    "huge-negative-integer": '{"answer": {"scores": [-' + "1" * 5000 + "]}}",
    "nan": '{"answer": {"scores": [NaN]}}',
    "infinity": '{"answer": {"scores": [Infinity, 0.5]}}',
    "minus-infinity": '{"models": [{"id": "m1", "status": "Ready", "x": -Infinity}]}',
    "float-overflow": '{"answer": {"scores": [1e999]}}',
    "negative-float-overflow": '{"answer": {"scores": [-1.5e400]}}',
    "deep-nesting": "[" * 200_000 + "]" * 200_000,
    "not-utf8": '{"models": ["\xff\xfe"]}',
}


class QuietLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, event: Any, /, *args: Any, **kwargs: Any) -> None:
        self.lines.append(event % args)


def _settings(server: HostileServer) -> ConnectionSettings:
    return ConnectionSettings.from_connection(
        "ttm_hostile", server.url, "key-for-number-tests", {"max_attempts": 2, "backoff_cap": 0}
    )


def _sync_send(server: HostileServer) -> tuple[object, QuietLog]:
    log = QuietLog()
    transport = SyncTransport(_settings(server), log)
    try:
        return call_within(BOUND, transport.send, endpoints.list_models()), log
    finally:
        transport.close()


def _async_send(server: HostileServer) -> tuple[object, QuietLog]:
    log = QuietLog()

    async def send() -> object:
        transport = AsyncTransport(_settings(server), log)
        try:
            return await transport.send(endpoints.list_models())
        except Exception as error:
            return error
        finally:
            await transport.aclose()

    return asyncio.run(asyncio.wait_for(send(), BOUND)), log


@pytest.mark.parametrize("send", [_sync_send, _async_send], ids=["sync", "async"])
@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_number_json_cannot_carry_is_a_malformed_reply_and_retried(
    hostile_server: HostileServer, send: Any, name: str
) -> None:
    body = BAD_BODIES[name].encode("latin-1")
    hostile_server.respond(Reply(status=200, body=body))
    outcome, log = send(hostile_server)
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
    assert outcome.retryable
    assert len(hostile_server.requests) == 2  # retried once, like any garbled reply
    assert len(log.lines) == 1
    assert len(str(outcome)) < 1000


@pytest.mark.parametrize("send", [_sync_send, _async_send], ids=["sync", "async"])
def test_a_garbled_reply_then_a_good_one_succeeds(hostile_server: HostileServer, send: Any) -> None:
    hostile_server.queue(Reply(status=200, body=BAD_BODIES["nan"]))
    hostile_server.respond(Reply.json({"models": [], "count": 10**300, "score": 1e300}))
    outcome, _ = send(hostile_server)
    assert outcome == {"models": [], "count": 10**300, "score": 1e300}


@pytest.mark.parametrize("status", [400, 401, 500])
@pytest.mark.parametrize("name", ["huge-integer", "nan", "deep-nesting"])
def test_an_error_body_with_such_numbers_still_maps_to_its_status(
    hostile_server: HostileServer, status: int, name: str
) -> None:
    hostile_server.respond(Reply(status=status, body=BAD_BODIES[name]))
    outcome, _ = _sync_send(hostile_server)
    assert getattr(outcome, "status_code", None) == status, repr(outcome)
