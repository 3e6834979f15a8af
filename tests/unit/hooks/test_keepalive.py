"""B10: a request the server's idle close cut off is sent again at once, quietly, on a new connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, Request, call_within

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.endpoints import ApiRequest
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import TuneTheModelTransportError
from airflow_provider_ttm.hooks.deadline import KEEPALIVE_EXPIRY_SECONDS
from airflow_provider_ttm.hooks.transport import AsyncTransport, SyncTransport

EMPTY_LIST = {"models": []}
BOUND = 10  # seconds any call here may take before the test calls it hung


class RecordingLog:
    """Collects the transports' warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, event: Any, /, *args: Any, **kwargs: Any) -> None:
        self.warnings.append(event % args)


def _settings(server: HostileServer, *, max_attempts: int = 3) -> ConnectionSettings:
    return ConnectionSettings.from_connection(
        "ttm_hostile", server.url, "key-for-keepalive-tests", {"max_attempts": max_attempts, "timeout": 5}
    )


def _drop_on_reused(request: Request) -> Reply:
    """What a server closing an idle connection just as a request arrives looks like to the client."""
    return Reply(drop=True) if request.reused else Reply.json(EMPTY_LIST)


def _create() -> ApiRequest:
    return endpoints.create_model(endpoints.ModelSpec("classifier", name="keepalive-test"))


def _sync_calls(
    server: HostileServer, count: int, *, pauses: Sequence[float] = (), **settings: Any
) -> tuple[list[Any], RecordingLog]:
    """Results (or transport errors) of ``count`` list calls on one transport, pausing in between."""
    log = RecordingLog()
    transport = SyncTransport(_settings(server, **settings), log)
    results: list[Any] = []
    try:
        for index in range(count):
            results.append(call_within(BOUND, transport.send, endpoints.list_models()))
            time.sleep(pauses[index] if index < len(pauses) else 0)
    finally:
        transport.close()
    return results, log


def _async_calls(
    server: HostileServer, count: int, *, pauses: Sequence[float] = (), **settings: Any
) -> tuple[list[Any], RecordingLog]:
    """The same through the async transport."""
    log = RecordingLog()

    async def calls() -> list[Any]:
        transport = AsyncTransport(_settings(server, **settings), log)
        results: list[Any] = []
        try:
            for index in range(count):
                try:
                    results.append(await transport.send(endpoints.list_models()))
                except TuneTheModelTransportError as error:
                    results.append(error)
                await asyncio.sleep(pauses[index] if index < len(pauses) else 0)
        finally:
            await transport.aclose()
        return results

    return asyncio.run(asyncio.wait_for(calls(), BOUND * count)), log


@pytest.mark.parametrize("calls", [_sync_calls, _async_calls], ids=["sync", "async"])
def test_a_request_cut_off_on_a_reused_connection_is_resent_quietly(
    hostile_server: HostileServer, calls: Any
) -> None:
    hostile_server.respond(_drop_on_reused)
    results, log = calls(hostile_server, 3)
    assert results == [EMPTY_LIST] * 3
    assert log.warnings == []
    # Each call after the first: one request cut off on the reused connection, one on a new one.
    assert len(hostile_server.requests) == 5
    assert hostile_server.connections == 3


@pytest.mark.parametrize("calls", [_sync_calls, _async_calls], ids=["sync", "async"])
@pytest.mark.parametrize("max_attempts", [1, 2, 3])
def test_the_quiet_resend_is_one_of_max_attempts(
    hostile_server: HostileServer, calls: Any, max_attempts: int
) -> None:
    hostile_server.queue(Reply.json(EMPTY_LIST))
    hostile_server.respond(Reply(drop=True))
    results, log = calls(hostile_server, 2, max_attempts=max_attempts)
    assert results[0] == EMPTY_LIST
    assert isinstance(results[1], TuneTheModelTransportError)
    # The list that succeeded, then the failing one: cut off on the reused connection, resent at
    # once on a new one (when a second attempt is allowed), then retried with a backoff and a log line.
    assert len(hostile_server.requests) == 1 + max_attempts
    assert len(log.warnings) == max(0, max_attempts - 2)


def test_a_create_cut_off_on_a_reused_connection_is_not_resent_blindly(
    hostile_server: HostileServer,
) -> None:
    hostile_server.respond(_drop_on_reused)
    transport = SyncTransport(_settings(hostile_server, max_attempts=1), RecordingLog())
    try:
        assert call_within(BOUND, transport.send, endpoints.list_models()) == EMPTY_LIST
        outcome = call_within(BOUND, transport.send_once, _create())
    finally:
        transport.close()
    assert isinstance(outcome, TuneTheModelTransportError)
    assert outcome.sent  # so the hook's recovery by name decides, not a blind resend
    assert [request.method for request in hostile_server.requests] == ["GET", "POST"]


@pytest.mark.parametrize("calls", [_sync_calls, _async_calls], ids=["sync", "async"])
def test_polling_at_the_servers_idle_close_never_warns(hostile_server: HostileServer, calls: Any) -> None:
    """The race itself, at the boundary: a request that reaches a connection idle for 0.3 s or more
    finds it closing (its idle timer fired while the request was on its way); idle 0.4 s: closed.
    """
    hostile_server.idle_close = 0.4
    hostile_server.respond(
        lambda request: Reply(drop=True) if request.idle >= 0.3 else Reply.json(EMPTY_LIST)
    )
    pauses = (0.25, 0.29, 0.31, 0.33, 0.35, 0.37, 0.39, 0.41, 0.45)
    results, log = calls(hostile_server, 10, pauses=pauses, max_attempts=2)
    assert results == [EMPTY_LIST] * 10
    assert log.warnings == []
    assert any(request.idle >= 0.3 for request in hostile_server.requests)  # the race did happen


def test_idle_pooled_connections_expire_before_common_server_idle_timeouts(
    hostile_server: HostileServer,
) -> None:
    assert KEEPALIVE_EXPIRY_SECONDS < 5  # uvicorn and Node.js close idle connections after 5 s
    hostile_server.respond(Reply.json(EMPTY_LIST))
    transport = SyncTransport(_settings(hostile_server), RecordingLog())
    pools = transport.session.get_adapter(hostile_server.url).poolmanager.pools
    try:
        transport.send(endpoints.list_models())
        transport.send(endpoints.list_models())
        assert hostile_server.connections == 1
        idle = [c for key in list(pools.keys()) for c in pools[key].pool.queue if c is not None]
        assert idle
        for connection in idle:  # as if it had sat idle past the expiry
            connection._ttm_idle_since -= KEEPALIVE_EXPIRY_SECONDS + 0.5
        transport.send(endpoints.list_models())
    finally:
        transport.close()
    assert hostile_server.connections == 2
    assert [request.reused for request in hostile_server.requests] == [False, True, False]


def test_the_async_client_expires_idle_connections_early(hostile_server: HostileServer) -> None:
    async def expiry() -> float | None:
        transport = AsyncTransport(_settings(hostile_server), RecordingLog())
        try:
            return transport.client._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
        finally:
            await transport.aclose()

    assert asyncio.run(expiry()) == KEEPALIVE_EXPIRY_SECONDS
