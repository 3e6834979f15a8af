"""The async path (``AsyncTransport``, ``aget_settings``, ``aget_model``) over ``httpx.MockTransport``.

Each test runs its coroutine with ``asyncio.run``; the transport's ``asyncio.sleep`` only records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import (
    TuneTheModelBadRequestError,
    TuneTheModelError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelTransportError,
)
from airflow_provider_ttm.hooks.transport import AsyncTransport
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS

Handler = Callable[[httpx.Request], httpx.Response]


class FakeService:
    """Answers requests from a script of replies (the last one repeats) and records what came in."""

    def __init__(self, *replies: httpx.Response | Exception | Handler) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def client(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), **options)


@pytest.fixture
def hook(ttm_conn: str) -> TuneTheModelHook:
    return TuneTheModelHook(ttm_conn_id=ttm_conn)


@pytest.fixture
def settings(hook: TuneTheModelHook) -> ConnectionSettings:
    return asyncio.run(hook.aget_settings())


def _run_get_model(hook: TuneTheModelHook, settings: ConnectionSettings, service: FakeService, model_id: str):
    async def go():
        async with service.client() as client:
            transport = AsyncTransport(settings, hook.log, client=client)
            return await hook.aget_model(transport, model_id)

    return asyncio.run(go())


def _run_send(settings: ConnectionSettings, service: FakeService, request: endpoints.ApiRequest):
    async def go():
        async with service.client() as client:
            return await AsyncTransport(settings, TuneTheModelHook().log, client=client).send(request)

    return asyncio.run(go())


def test_aget_settings_reads_the_same_connection_as_the_sync_path(
    hook: TuneTheModelHook, settings: ConnectionSettings, api: str, api_key: str
) -> None:
    assert settings.base_url == api
    assert settings.api_key == api_key
    assert settings.retry.max_attempts == 3
    assert settings == TuneTheModelHook(ttm_conn_id="ttm_test").settings


def test_aget_settings_registers_the_key_with_the_secrets_masker(set_connection) -> None:
    from airflow.providers.common.compat.sdk import redact

    key = "async-mask-me-key-0815"
    conn_id = set_connection(password=key)
    assert redact(f"key={key}") == f"key={key}"

    asyncio.run(TuneTheModelHook(ttm_conn_id=conn_id).aget_settings())

    assert redact(f"key={key}") == "key=***"


def test_aget_settings_validates_like_the_sync_path(set_connection) -> None:
    conn_id = set_connection(host="http://api.example.test")

    with pytest.raises(TuneTheModelError, match="plain http://"):
        asyncio.run(TuneTheModelHook(ttm_conn_id=conn_id).aget_settings())


def test_aget_model_reads_the_status_endpoint(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload
) -> None:
    service = FakeService(httpx.Response(200, json=model_payload(status="InQueue")))

    record = _run_get_model(hook, settings, service, model_id)

    assert record.model_name == model_id
    assert record.status == "InQueue"
    [request] = service.requests
    assert request.method == "GET"
    assert str(request.url) == f"https://api.example.test/v0/models/{model_id}/status"


def test_aget_model_refuses_an_unsafe_id_without_sending(
    hook: TuneTheModelHook, settings: ConnectionSettings
) -> None:
    service = FakeService(httpx.Response(200, json={}))

    with pytest.raises(ValueError, match="model_name must be a model id"):
        _run_get_model(hook, settings, service, "../../admin")
    assert service.requests == []


def test_a_503_is_retried_after_retry_after(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload, waits, logs
) -> None:
    service = FakeService(
        httpx.Response(503, json={"detail": "busy"}, headers={"Retry-After": "4"}),
        httpx.Response(200, json=model_payload()),
    )

    assert _run_get_model(hook, settings, service, model_id).model_name == model_id
    assert waits == [4.0]
    assert len(service.requests) == 2
    assert logs.messages("warning") == [
        f"Tune The Model GET /v0/models/{model_id}/status failed on attempt 1 of 3: "
        "The service failed (HTTP 503): busy. Retrying in 4.0 s."
    ]


def test_a_429_retry_after_is_capped(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload, waits
) -> None:
    service = FakeService(
        httpx.Response(429, headers={"Retry-After": "999"}), httpx.Response(200, json=model_payload())
    )

    _run_get_model(hook, settings, service, model_id)

    assert waits == [10.0]


def test_retries_stop_at_max_attempts(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, waits
) -> None:
    service = FakeService(httpx.Response(429, json={"detail": "slow down"}))

    with pytest.raises(TuneTheModelRateLimitedError, match="slow down"):
        _run_get_model(hook, settings, service, model_id)
    assert len(service.requests) == 3
    assert len(waits) == 2
    assert 0.0 <= waits[0] <= 1.0
    assert 0.0 <= waits[1] <= 2.0


def test_a_404_is_not_retried(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, waits
) -> None:
    service = FakeService(httpx.Response(404, json={"detail": "no such model"}))

    with pytest.raises(TuneTheModelNotFoundError, match="no such model"):
        _run_get_model(hook, settings, service, model_id)
    assert (len(service.requests), waits) == (1, [])


@pytest.mark.parametrize(
    ("failure", "sent", "waits_between"),
    [
        (httpx.ConnectError("Connection refused"), False, 2),
        (httpx.ConnectTimeout("connect timed out"), False, 2),
        (httpx.ReadTimeout("read timed out"), True, 2),
        # The connection closed before any reply (a stale keep-alive one): the second attempt goes
        # at once, without a wait; the three attempts are still all there are.
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True, 1),
        (httpx.ReadError("Connection reset by peer"), True, 1),
    ],
)
def test_a_request_without_an_answer_is_retried_then_reported(
    hook: TuneTheModelHook,
    settings: ConnectionSettings,
    model_id: str,
    waits,
    failure: Exception,
    sent: bool,
    waits_between: int,
) -> None:
    service = FakeService(failure)

    with pytest.raises(TuneTheModelTransportError) as raised:
        _run_get_model(hook, settings, service, model_id)

    assert raised.value.sent is sent
    state = "its outcome is unknown" if sent else "it was not sent"
    assert str(raised.value) == (
        f"Tune The Model GET /v0/models/{model_id}/status got no answer ({failure}); {state}."
    )
    assert len(service.requests) == 3  # max_attempts, however the attempts were spent
    assert len(waits) == waits_between


def test_a_dropped_poll_recovers_at_once(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload, waits, logs
) -> None:
    service = FakeService(httpx.ReadError("reset"), httpx.Response(200, json=model_payload(status="Ready")))

    assert _run_get_model(hook, settings, service, model_id).is_ready
    assert len(service.requests) == 2
    assert waits == []
    assert logs.messages("warning") == []


def test_a_poll_whose_reply_broke_off_waits_before_the_next_attempt(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload, waits
) -> None:
    service = FakeService(
        httpx.ReadTimeout("read timed out"), httpx.Response(200, json=model_payload(status="Ready"))
    )

    assert _run_get_model(hook, settings, service, model_id).is_ready
    assert len(waits) == 1


@pytest.mark.parametrize(
    ("first", "attempts"),
    [
        (httpx.Response(500, json={"detail": "internal"}), 1),
        (httpx.Response(502, text="Bad Gateway"), 1),
        (httpx.ReadTimeout("read timed out"), 1),
        (httpx.Response(503, headers={"Retry-After": "1"}), 2),
        (httpx.Response(429, headers={"Retry-After": "1"}), 2),
        (httpx.ConnectError("Connection refused"), 2),
    ],
)
def test_a_non_idempotent_request_is_only_repeated_when_it_surely_did_not_happen(
    settings: ConnectionSettings, model_payload, waits, first: httpx.Response | Exception, attempts: int
) -> None:
    service = FakeService(first, httpx.Response(200, json=model_payload()))
    create = endpoints.create_model(endpoints.ModelSpec("classifier", name="tweets"))

    if attempts == 1:
        with pytest.raises(TuneTheModelError):
            _run_send(settings, service, create)
    else:
        assert _run_send(settings, service, create)["model_name"] == model_payload()["model_name"]
    assert len(service.requests) == attempts
    assert json.loads(service.requests[0].content) == {"model_type": "classifier", "name": "tweets"}


def test_a_reply_of_exactly_the_size_cap_is_read(settings: ConnectionSettings) -> None:
    body = b'{"models": []}'
    service = FakeService(httpx.Response(200, content=body + b" " * (MAX_REPLY_BYTES - len(body))))

    assert _run_send(settings, service, endpoints.list_models()) == {"models": []}


def test_a_reply_over_the_size_cap_is_refused(settings: ConnectionSettings, waits) -> None:
    body = b'{"models": []}'
    service = FakeService(httpx.Response(200, content=body + b" " * (MAX_REPLY_BYTES + 1 - len(body))))

    with pytest.raises(TuneTheModelMalformedResponseError, match=f"larger than {MAX_REPLY_BYTES} bytes"):
        _run_send(settings, service, endpoints.list_models())
    assert (len(service.requests), waits) == (1, [])


def test_a_success_that_is_not_json_is_malformed(settings: ConnectionSettings) -> None:
    service = FakeService(httpx.Response(200, text="<html>maintenance</html>"))

    with pytest.raises(TuneTheModelMalformedResponseError, match="'<html>maintenance"):
        _run_send(settings, service, endpoints.list_models())


def test_a_redirect_is_not_followed(settings: ConnectionSettings) -> None:
    service = FakeService(
        httpx.Response(307, headers={"Location": "https://elsewhere.example.test/v0/models"}),
        httpx.Response(200, json={"models": []}),
    )

    with pytest.raises(TuneTheModelBadRequestError, match=r"redirect \(HTTP 307\)"):
        _run_send(settings, service, endpoints.list_models())
    assert [str(request.url) for request in service.requests] == ["https://api.example.test/v0/models"]


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(401, json={"detail": "Invalid API key"}),
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(200, text="<html>"),
        httpx.ReadTimeout("read timed out"),
    ],
)
def test_the_api_key_never_appears_in_async_errors_or_logs(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, api_key: str, waits, logs, reply
) -> None:
    service = FakeService(reply)

    with pytest.raises(TuneTheModelError) as raised:
        _run_get_model(hook, settings, service, model_id)

    assert api_key not in str(raised.value)
    assert api_key not in logs.everything()


# ---- the hook's own client --------------------------------------------------------------------


@pytest.fixture
def mocked_httpx(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeService], list[httpx.AsyncClient]]:
    """Make every ``httpx.AsyncClient`` the transport builds answer from a fake service."""
    real_client = httpx.AsyncClient
    built: list[httpx.AsyncClient] = []

    def install(service: FakeService) -> list[httpx.AsyncClient]:
        def build(**options: Any) -> httpx.AsyncClient:
            client = real_client(transport=httpx.MockTransport(service), **options)
            built.append(client)
            return client

        monkeypatch.setattr(httpx, "AsyncClient", build)
        return built

    return install


def test_the_hooks_own_client_sends_the_raw_key_and_refuses_redirects(
    hook: TuneTheModelHook, mocked_httpx, model_id: str, model_payload, api_key: str
) -> None:
    service = FakeService(httpx.Response(200, json=model_payload()))
    built = mocked_httpx(service)

    async def go():
        transport = await hook.async_transport()
        try:
            return transport, await hook.aget_model(transport, model_id)
        finally:
            await transport.aclose()

    transport, record = asyncio.run(go())

    assert record.model_name == model_id
    [request] = service.requests
    assert request.headers["Authorization"] == api_key
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("airflow-provider-ttm/")
    [client] = built
    assert client.follow_redirects is False
    assert client.timeout == httpx.Timeout(transport.settings.timeout)
    assert client.is_closed  # aclose() closes a client the transport opened


def test_the_hooks_own_client_uses_the_connection_timeout(set_connection, mocked_httpx) -> None:
    conn_id = set_connection(extra={"timeout": 4.5})
    built = mocked_httpx(FakeService(httpx.Response(200, json={"models": []})))

    async def go():
        transport = await TuneTheModelHook(ttm_conn_id=conn_id).async_transport()
        await transport.aclose()

    asyncio.run(go())

    assert built[0].timeout == httpx.Timeout(4.5)


def test_aclose_leaves_a_callers_client_open(settings: ConnectionSettings) -> None:
    async def go():
        async with FakeService(httpx.Response(200, json={})).client() as client:
            transport = AsyncTransport(settings, TuneTheModelHook().log, client=client)
            await transport.aclose()
            return client.is_closed

    assert asyncio.run(go()) is False


def test_a_callers_client_still_sends_the_api_key(
    hook: TuneTheModelHook, settings: ConnectionSettings, model_id: str, model_payload, api_key: str
) -> None:
    service = FakeService(httpx.Response(200, json=model_payload()))

    _run_get_model(hook, settings, service, model_id)

    assert service.requests[0].headers["Authorization"] == api_key


def test_a_callers_client_that_follows_redirects_does_not_make_the_transport_follow(
    settings: ConnectionSettings,
) -> None:
    service = FakeService(
        httpx.Response(302, headers={"Location": "https://elsewhere.example.test/v0/models"}),
        httpx.Response(200, json={"models": []}),
    )

    async def go() -> None:
        async with service.client(follow_redirects=True) as client:
            transport = AsyncTransport(settings, TuneTheModelHook().log, client=client)
            with contextlib.suppress(TuneTheModelBadRequestError):
                await transport.send(endpoints.list_models())

    asyncio.run(go())

    assert [str(request.url) for request in service.requests] == ["https://api.example.test/v0/models"]


# ---- the event loop is never blocked by the supervisor -----------------------------------------


class _RecordingComms:
    """A stand-in for a task's SUPERVISOR_COMMS that records blocking sends made on an event loop.

    The real ``CommsDecoder.send`` raises ``DeadlockImminentError`` when called on the loop thread
    while an ``asend`` holds its lock; a blocking send there also stalls every coroutine.
    """

    def __init__(self) -> None:
        self.blocking_sends_on_loop: list[str] = []
        self.blocking_sends_off_loop: list[str] = []
        self.async_sends: list[str] = []

    def send(self, msg: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.blocking_sends_off_loop.append(type(msg).__name__)
            return None
        self.blocking_sends_on_loop.append(type(msg).__name__)
        return None

    async def asend(self, msg: Any) -> None:
        self.async_sends.append(type(msg).__name__)


@pytest.fixture
def supervisor_comms(monkeypatch: pytest.MonkeyPatch) -> _RecordingComms:
    if not AIRFLOW_V_3_0_PLUS:
        pytest.skip("Airflow 2.11 has no task supervisor: a trigger masks secrets in its own process")
    from airflow.sdk.execution_time import task_runner

    comms = _RecordingComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    return comms


def test_aget_settings_under_a_supervisor_masks_secrets(
    set_connection, supervisor_comms: _RecordingComms
) -> None:
    conn_id = set_connection(extra={"timeout": 5})

    settings = asyncio.run(TuneTheModelHook(ttm_conn_id=conn_id).aget_settings())

    assert settings.timeout == 5.0
    # Airflow 3.3's own amask_secret, or on 3.0-3.2 the provider's stand-in (Airflow's own connection
    # lookup there also masks, from its sync_to_async thread).
    assert "MaskSecret" in supervisor_comms.async_sends


def test_aget_settings_never_makes_a_blocking_supervisor_call(
    set_connection, supervisor_comms: _RecordingComms
) -> None:
    conn_id = set_connection(extra={"timeout": 5})

    asyncio.run(TuneTheModelHook(ttm_conn_id=conn_id).aget_settings())

    assert supervisor_comms.blocking_sends_on_loop == []
