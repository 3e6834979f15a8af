"""B1: the ``timeout`` extra bounds each attempt in total, however slowly the reply comes, however it
ends (its framing, the connection kept or closed after it), plain or TLS, direct or through a proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, alist_outcome, call_within
from support.proxy import ConnectProxy

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


# --- every way a reply can end, whatever the server does with the connection, on every route -----

#: A short timeout and a trickle well inside the per-read timeout: only the total bound can stop it.
QUICK = 0.5
DELAY = 0.1
#: 300 bytes at DELAY each: 30 s, where the bound is QUICK + SLACK.
SLOW_BODY = '{"models": [' + " " * 300 + "]}"
#: How a reply tells its end, and what the server does with the connection after it.
SHAPES: dict[str, dict[str, Any]] = {
    "keep-alive, Content-Length": {},
    "keep-alive, chunked": {"framing": "chunked"},
    "Connection: close, Content-Length": {"close": True},
    "Connection: close, chunked": {"close": True, "framing": "chunked"},
    "Connection: close, read until close": {"close": True, "framing": "close"},
    "HTTP/1.0, Content-Length": {"version": "HTTP/1.0"},
    "HTTP/1.0, read until close": {"version": "HTTP/1.0", "framing": "close"},
}
#: The shapes after which the client does not keep the connection.
CLOSING = [name for name in SHAPES if not name.startswith("keep-alive")]
ROUTES = ["direct", "TLS", "TLS through a CONNECT proxy", "through a forward proxy"]


def _slow(shape: str, *, status: int = 200, trickle: str = "body") -> Reply:
    return Reply.json(SLOW_BODY, status=status, trickle=trickle, delay=DELAY, **SHAPES[shape])


@dataclass
class Route:
    """A hostile server reached one way, and the connection (``conn_id``) that reaches it so."""

    server: HostileServer
    conn_id: str
    proxy: ConnectProxy | None

    def hook(self) -> TuneTheModelHook:
        return TuneTheModelHook(self.conn_id)

    def assert_travelled(self) -> None:
        """The requests went the route's way (through its proxy, when it has one)."""
        assert self.server.requests
        if self.proxy is not None:
            assert self.proxy.targets
            assert set(self.proxy.targets) == {f"127.0.0.1:{self.server.port}"}


@pytest.fixture
def route(
    request: pytest.FixtureRequest, tls_files: Any, clean_environment: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Route]:
    """The parametrized route (one of ``ROUTES``, ``direct`` when not parametrized); servers stopped after.

    ``handshake`` in its name: the server trickles its TLS handshake (see ``HostileServer``).
    """
    name = getattr(request, "param", "direct")
    tls = name.startswith("TLS")
    extra: dict[str, Any] = {"timeout": QUICK, "max_attempts": 1, "backoff_cap": 0}
    with contextlib.ExitStack() as stack:
        if "handshake" in name:
            server = stack.enter_context(HostileServer(handshake_delay=DELAY))
        else:
            server = stack.enter_context(HostileServer(tls=tls_files if tls else None))
        proxy = None
        if "proxy" in name:
            proxy = ConnectProxy().start()
            stack.callback(proxy.stop)
            extra["proxy"] = proxy.url
        if tls:
            extra["verify"] = tls_files.cert
        conn = {"conn_type": "ttm", "host": server.url, "password": "route-key-0123456789", "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_TTM_ROUTE", json.dumps(conn))
        yield Route(server, "ttm_route", proxy)


def _assert_quick_timeout(outcome: object, started: float) -> None:
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.timed_out
    assert outcome.sent
    assert time.monotonic() - started < QUICK + SLACK


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_trickled_body_ends_at_the_timeout_however_the_reply_ends(
    route: Route, shape: str, status: int
) -> None:
    """A 200 or an error body, framed any way, the connection kept or closed after it."""
    route.server.respond(_slow(shape, status=status))
    started = time.monotonic()
    _assert_quick_timeout(call_within(QUICK + SLACK, route.hook().list_models), started)
    assert len(route.server.requests) == 1


@pytest.mark.parametrize("shape", ["keep-alive, Content-Length", *CLOSING[::2]])
def test_trickled_headers_end_at_the_timeout_however_the_reply_ends(route: Route, shape: str) -> None:
    route.server.respond(_slow(shape, trickle="headers"))
    started = time.monotonic()
    _assert_quick_timeout(call_within(QUICK + SLACK, route.hook().list_models), started)


@pytest.mark.parametrize("route", ROUTES[1:], indirect=True)
@pytest.mark.parametrize("shape", ["keep-alive, chunked", *CLOSING[::2]])
def test_a_trickled_body_ends_at_the_timeout_over_tls_and_proxies(route: Route, shape: str) -> None:
    route.server.respond(_slow(shape))
    started = time.monotonic()
    _assert_quick_timeout(call_within(QUICK + SLACK, route.hook().list_models), started)
    route.assert_travelled()


ASYNC_CASES = [("direct", shape) for shape in SHAPES] + [
    (name, shape) for name in ROUTES[1:] for shape in ["keep-alive, chunked", *CLOSING[::2]]
]


@pytest.mark.parametrize(("route", "shape"), ASYNC_CASES, indirect=["route"])
def test_a_trickled_body_ends_an_async_call_at_the_timeout_however_the_reply_ends(
    route: Route, shape: str
) -> None:
    route.server.respond(_slow(shape, status=500 if "chunked" in shape else 200))
    started = time.monotonic()
    outcome = asyncio.run(asyncio.wait_for(alist_outcome(route.hook()), QUICK + SLACK))
    _assert_quick_timeout(outcome, started)
    route.assert_travelled()


@pytest.mark.parametrize("route", ["direct", "TLS through a CONNECT proxy"], indirect=True)
@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("shape", CLOSING[::2])
def test_a_trickled_upload_reply_ends_at_the_timeout_however_it_ends(
    route: Route, shape: str, status: int
) -> None:
    """An upload host that closes after each request, answering slowly: a success or an error body."""
    route.server.respond(Reply(status=status, body=b"x" * 300, trickle="body", delay=DELAY, **SHAPES[shape]))
    upload = route.hook().upload_transport
    started = time.monotonic()
    outcome = call_within(QUICK + SLACK, upload.put, f"{route.server.url}/upload?sig=s3cr3t", b"[]")
    _assert_quick_timeout(outcome, started)
    assert "s3cr3t" not in str(outcome)
    route.assert_travelled()


@pytest.mark.parametrize("shape", CLOSING[::2])
def test_a_trickled_batch_item_ends_at_the_timeout_however_it_ends(route: Route, shape: str) -> None:
    route.server.respond(
        lambda request: (
            Reply.json(SCORES + " " * 300, trickle="body", delay=DELAY, **SHAPES[shape])
            if b"slow" in request.body
            else Reply.json(SCORES, **SHAPES[shape])
        )
    )
    started = time.monotonic()
    outcome = call_within(QUICK + SLACK, route.hook().classify_batch, "m1", ["fast", "slow", "fast"])
    assert isinstance(outcome, TuneTheModelBatchItemError), outcome
    assert outcome.index == 1
    assert isinstance(outcome.__cause__, TuneTheModelTransportError)
    assert outcome.__cause__.timed_out
    assert time.monotonic() - started < QUICK + SLACK


@pytest.mark.parametrize("route", ["direct", "TLS"], indirect=True)
@pytest.mark.parametrize("shape", ["Connection: close, read until close", "HTTP/1.0, Content-Length"])
def test_the_test_button_answers_within_the_timeout_however_the_reply_ends(route: Route, shape: str) -> None:
    route.server.respond(_slow(shape))
    started = time.monotonic()
    outcome = call_within(QUICK + SLACK, route.hook().test_connection)
    assert isinstance(outcome, tuple), outcome
    ok, message = outcome
    assert not ok
    assert f"within the {QUICK:g} s timeout" in message
    assert time.monotonic() - started < QUICK + SLACK


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "route", ["TLS, trickled handshake", "TLS through a CONNECT proxy, trickled handshake"], indirect=True
)
def test_a_trickled_tls_handshake_ends_at_the_timeout(route: Route, mode: str) -> None:
    """Each handshake byte well within the per-read timeout, the whole handshake 27 minutes."""
    hook = route.hook()
    started = time.monotonic()
    if mode == "sync":
        outcome = call_within(QUICK + SLACK, hook.list_models)
    else:
        outcome = asyncio.run(asyncio.wait_for(alist_outcome(hook), QUICK + SLACK))
    assert isinstance(outcome, TuneTheModelTransportError), outcome
    assert outcome.timed_out
    assert time.monotonic() - started < QUICK + SLACK
    assert not route.server.requests  # no request got through the handshake
    if route.proxy is not None:
        assert route.proxy.targets == [f"127.0.0.1:{route.server.port}"]
