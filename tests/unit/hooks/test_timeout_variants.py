"""B1, other variants: no byte at all, a body cut short, fast endless chunks, the Test button."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, alist_outcome, call_within

from airflow_provider_ttm.exceptions import TuneTheModelTransportError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

TIMEOUT = 1
#: How long past the timeout a call may take before the test calls it hung (generous: shared CPUs).
SLACK = 4
#: Replies that never complete within the timeout, each in its own way.
STALLS = {
    # Accepts the request and never sends a byte (the first byte is a minute away).
    "silent": Reply.json({"models": []}, trickle="headers", delay=60),
    # Headers with a Content-Length at once, then nothing.
    "headers-then-nothing": Reply.json('{"models": []}' + " " * 100, trickle="body", delay=60),
    # 100 bytes at 0.3 s each: every byte well within the timeout, the whole reply 30 s.
    "slow-total-fast-bytes": Reply.json('{"models": [' + " " * 100 + "]}", trickle="body", delay=0.3),
    # One-byte chunks as fast as the server can write them, for longer than the timeout.
    "endless-fast-chunks": Reply.json('{"models": [' + " " * 3_000_000 + "]}", trickle="chunks", delay=0),
}


def _hook(hostile_conn, **extra: Any) -> TuneTheModelHook:
    return TuneTheModelHook(hostile_conn(**{"timeout": TIMEOUT, "max_attempts": 1, **extra}))


@pytest.mark.parametrize("stall", list(STALLS))
def test_a_stalled_reply_ends_a_blocking_call_at_the_timeout(
    hostile_server: HostileServer, hostile_conn, stall: str
) -> None:
    hostile_server.respond(STALLS[stall])
    started = time.monotonic()
    outcome = call_within(TIMEOUT + SLACK, _hook(hostile_conn).list_models)
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.timed_out
    assert outcome.sent
    assert time.monotonic() - started < TIMEOUT + SLACK


@pytest.mark.parametrize("stall", ["silent", "headers-then-nothing", "endless-fast-chunks"])
def test_a_stalled_reply_ends_an_async_call_at_the_timeout(
    hostile_server: HostileServer, hostile_conn, stall: str
) -> None:
    hostile_server.respond(STALLS[stall])
    hook = _hook(hostile_conn)

    async def get_model() -> object:
        transport = await hook.async_transport()
        try:
            return await hook.aget_model(transport, "a" * 32)
        except TuneTheModelTransportError as error:
            return error
        finally:
            await transport.aclose()

    outcome = asyncio.run(asyncio.wait_for(get_model(), TIMEOUT + SLACK))
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.timed_out


@pytest.mark.parametrize("stall", ["silent", "slow-total-fast-bytes"])
def test_the_test_button_answers_within_the_timeout(
    hostile_server: HostileServer, hostile_conn, stall: str
) -> None:
    """The api-server's Test button runs ``test_connection``: it must not hold a web worker."""
    hostile_server.respond(STALLS[stall])
    outcome = call_within(TIMEOUT + SLACK, _hook(hostile_conn, max_attempts=5).test_connection)
    assert isinstance(outcome, tuple), outcome
    ok, message = outcome
    assert not ok
    assert f"within the {TIMEOUT} s timeout" in message
    assert len(hostile_server.requests) == 1  # one attempt, however many the connection allows


def test_a_body_cut_short_is_a_quick_retryable_failure(hostile_server: HostileServer, hostile_conn) -> None:
    hostile_server.respond(
        Reply(
            raw=b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"models": ['
        )
    )
    outcome = call_within(TIMEOUT + SLACK, _hook(hostile_conn, max_attempts=2, backoff_cap=0).list_models)
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.retryable
    assert not outcome.timed_out
    assert len(hostile_server.requests) == 2


#: Header lines without end, sent as fast as the server can: the libraries' header limits or the
#: timeout must end the attempt, whichever comes first.
ENDLESS_HEADERS = Reply(
    headers={f"X-Filler-{index}": "y" * 50 for index in range(20_000)}, trickle="headers", delay=0
)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_endless_header_lines_end_the_attempt(hostile_server: HostileServer, hostile_conn, mode: str) -> None:
    hostile_server.respond(ENDLESS_HEADERS)
    hook = _hook(hostile_conn)

    started = time.monotonic()
    if mode == "sync":
        outcome = call_within(TIMEOUT + SLACK, hook.list_models)
    else:
        outcome = asyncio.run(asyncio.wait_for(alist_outcome(hook), TIMEOUT + SLACK))
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert time.monotonic() - started < TIMEOUT + SLACK
