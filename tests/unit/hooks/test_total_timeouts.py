"""B1: the ``timeout`` extra bounds each attempt in total, however slowly the reply comes."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import types
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, alist_outcome, call_within

from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError, TuneTheModelTransportError
from airflow_provider_ttm.hooks import deadline
from airflow_provider_ttm.hooks.deadline import AttemptDeadline
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

TIMEOUT = 2
#: How long past the timeout a call may take before the test calls it hung (generous: shared CPUs).
SLACK = 3
#: A reply that takes 60 s or more at one byte per ``delay`` (0.5 s).
SLOW_LIST = '{"models": [' + " " * 120 + "]}"
EMPTY_LIST = {"models": []}
SCORES = '{"answer": {"scores": [0.5]}}'

TRICKLES: list[Any] = ["body", "headers", "chunks", "all"]


def _hook(hostile_conn, **extra: Any) -> TuneTheModelHook:
    return TuneTheModelHook(hostile_conn(timeout=TIMEOUT, max_attempts=1, **extra))


def _assert_timed_out(outcome: object, started: float) -> TuneTheModelTransportError:
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.timed_out
    assert outcome.sent
    assert time.monotonic() - started < TIMEOUT + SLACK
    return outcome


@pytest.mark.parametrize("trickle", TRICKLES)
def test_a_trickled_reply_ends_a_blocking_call_at_the_timeout(
    hostile_server: HostileServer, hostile_conn, trickle: str
) -> None:
    hostile_server.respond(Reply.json(SLOW_LIST, trickle=trickle, delay=0.5))
    hook = _hook(hostile_conn)
    started = time.monotonic()
    error = _assert_timed_out(call_within(TIMEOUT + SLACK, hook.list_models), started)
    assert f"within the {TIMEOUT} s timeout" in str(error)
    assert len(hostile_server.requests) == 1


def test_each_retry_gets_its_own_total_timeout(hostile_server: HostileServer, hostile_conn) -> None:
    hostile_server.queue(Reply.json(SLOW_LIST, trickle="body", delay=0.5))
    hostile_server.respond(Reply.json(EMPTY_LIST))
    hook = TuneTheModelHook(hostile_conn(timeout=TIMEOUT, max_attempts=2, backoff_cap=0))
    assert call_within(TIMEOUT * 2 + SLACK, hook.list_models) == []
    assert len(hostile_server.requests) == 2


def test_a_trickle_slower_than_the_read_timeout_still_times_out(
    hostile_server: HostileServer, hostile_conn
) -> None:
    """The per-read timeout alone would also stop this; the total bound must not get in its way."""
    hostile_server.respond(Reply.json(SLOW_LIST, trickle="body", delay=30))
    started = time.monotonic()
    _assert_timed_out(call_within(TIMEOUT + SLACK, _hook(hostile_conn).list_models), started)


def test_a_timely_reply_after_a_timed_out_one_reuses_nothing_broken(
    hostile_server: HostileServer, hostile_conn
) -> None:
    hostile_server.queue(Reply.json(SLOW_LIST, trickle="body", delay=0.5))
    hostile_server.respond(Reply.json(EMPTY_LIST))
    hook = _hook(hostile_conn)
    assert isinstance(call_within(TIMEOUT + SLACK, hook.list_models), TuneTheModelTransportError)
    assert call_within(TIMEOUT + SLACK, hook.list_models) == []


@pytest.mark.parametrize("trickle", TRICKLES)
def test_a_trickled_reply_ends_an_async_call_at_the_timeout(
    hostile_server: HostileServer, hostile_conn, trickle: str
) -> None:
    hostile_server.respond(Reply.json(SLOW_LIST, trickle=trickle, delay=0.5))
    hook = _hook(hostile_conn)

    started = time.monotonic()
    outcome = asyncio.run(asyncio.wait_for(alist_outcome(hook), TIMEOUT + SLACK))
    _assert_timed_out(outcome, started)


@pytest.mark.parametrize("trickle", TRICKLES)
def test_a_trickled_upload_reply_ends_at_the_timeout(
    hostile_server: HostileServer, hostile_conn, trickle: str
) -> None:
    hostile_server.respond(Reply(status=200, body=b"x" * 100, trickle=trickle, delay=0.5))
    upload = _hook(hostile_conn).upload_transport
    started = time.monotonic()
    outcome = call_within(TIMEOUT + SLACK, upload.put, f"{hostile_server.url}/upload?sig=s3cr3t", b"[]")
    error = _assert_timed_out(outcome, started)
    assert "s3cr3t" not in str(error)


def test_a_trickled_batch_item_ends_at_the_timeout(hostile_server: HostileServer, hostile_conn) -> None:
    hostile_server.respond(
        lambda request: (
            Reply.json(SCORES + " " * 100, trickle="body", delay=0.5)
            if b"slow" in request.body
            else Reply.json(SCORES)
        )
    )
    hook = _hook(hostile_conn)
    texts = ["fast", "slow", "fast", "fast"]
    started = time.monotonic()
    outcome = call_within(TIMEOUT + SLACK, lambda: hook.classify_batch("m1", texts, retries=0))
    assert isinstance(outcome, TuneTheModelBatchItemError), outcome
    assert outcome.index == 1
    assert isinstance(outcome.__cause__, TuneTheModelTransportError)
    assert outcome.__cause__.timed_out
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_deadlines_cost_one_watchdog_thread_not_one_per_call(
    hostile_server: HostileServer, hostile_conn
) -> None:
    hostile_server.respond(Reply.json(EMPTY_LIST))
    hook = _hook(hostile_conn)
    for _ in range(50):
        assert hook.list_models() == []
    watchdogs = [thread for thread in threading.enumerate() if thread.name == "ttm-deadlines"]
    assert len(watchdogs) == 1
    assert len(threading.enumerate()) < 20
    assert len(deadline._WATCHDOG._heap) <= 1  # finished attempts leave no entries behind


def test_a_connection_still_connecting_at_the_deadline_is_shut_once_it_has_a_socket() -> None:
    """The watchdog looks again at a late attempt whose connection had no socket to shut yet."""
    ours, theirs = socket.socketpair()
    connection = types.SimpleNamespace(sock=None)
    try:
        with AttemptDeadline(0.2) as attempt:
            assert attempt.watch(connection)  # type: ignore[arg-type]
            limit = time.monotonic() + SLACK
            while not attempt.expired and time.monotonic() < limit:
                time.sleep(0.01)
            assert attempt.expired
            connection.sock = ours  # the connect finished after the deadline
            ours.settimeout(SLACK)
            assert ours.recv(1) == b""  # shut by the watchdog, not timed out by the socket
            assert not attempt.watch(types.SimpleNamespace(sock=None))  # type: ignore[arg-type]
    finally:
        ours.close()
        theirs.close()


def test_a_read_timeout_while_the_body_streams_counts_as_a_timeout() -> None:
    """requests wraps it as a ConnectionError (``iter_content``): still a timeout, whichever of the
    read timeout and the total deadline fires first."""
    import requests
    import urllib3.exceptions

    from airflow_provider_ttm.hooks.transport import timed_out_reading

    read_timeout = urllib3.exceptions.ReadTimeoutError(None, "/v0/models", "Read timed out.")  # type: ignore[arg-type]

    assert timed_out_reading(requests.exceptions.ConnectionError(read_timeout))
    assert timed_out_reading(requests.exceptions.ReadTimeout("slow"))
    assert not timed_out_reading(requests.exceptions.ConnectionError(ConnectionResetError()))
