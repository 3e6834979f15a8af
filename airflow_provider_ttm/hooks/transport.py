"""The hook's two transports: ``requests`` for tasks, ``httpx`` (async) for triggers.

Both send an ``ApiRequest`` from the pure API module, read at most ``MAX_REPLY_BYTES`` of the
reply, hand it to the same decoder and retry with the same policy, so they behave alike. The API
key travels only in the ``Authorization`` header, never in a log line; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from typing import TYPE_CHECKING, Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from airflow_provider_ttm import __version__
from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES, decode_reply
from airflow_provider_ttm.api.retry import may_have_taken_effect
from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelTransportError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from typing import TypeAlias

    import httpx

    from airflow_provider_ttm.api.endpoints import ApiRequest
    from airflow_provider_ttm.connection_settings import ConnectionSettings

    #: Called when a non-idempotent request may have taken effect; see ``SyncTransport.send``.
    Recovery: TypeAlias = Callable[[TuneTheModelError], Any | None]

_CHUNK_BYTES = 64 * 1024
_USER_AGENT = f"airflow-provider-ttm/{__version__}"


def request_headers(settings: ConnectionSettings) -> dict[str, str]:
    """Headers of every API request: the raw key as ``Authorization``, as the reference shows."""
    return {
        "Authorization": settings.api_key,
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
    }


class RetryLog(Protocol):
    """The part of a logger the transports use."""

    def warning(self, event: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log a warning."""


class _RetryingTransport:
    """What both transports share: settings, and the decision and log line of each retry."""

    def __init__(self, settings: ConnectionSettings, log: RetryLog) -> None:
        self.settings = settings
        self.log = log

    def _wait_before_retry(
        self, request: ApiRequest, error: TuneTheModelError, attempt: int, *, idempotent: bool
    ) -> float:
        """Seconds to wait before the next attempt, logged once at WARNING; re-raise if none."""
        wait = self.settings.retry.plan_retry(error, attempt, idempotent=idempotent)
        if wait is None:
            raise error
        self.log.warning(
            "Tune The Model %s %s failed on attempt %d of %d: %s. Retrying in %.1f s.",
            request.method,
            request.path,
            attempt,
            self.settings.retry.max_attempts,
            str(error).rstrip("."),
            wait,
        )
        return wait


class SyncTransport(_RetryingTransport):
    """Blocking transport over one pooled ``requests.Session``.

    :param settings: the connection's settings.
    :param log: where retries are logged.
    """

    def __init__(self, settings: ConnectionSettings, log: RetryLog) -> None:
        super().__init__(settings, log)
        self.session = requests.Session()
        self.session.headers.update(request_headers(settings))
        self.session.verify = settings.verify
        self.session.trust_env = False
        self.session.mount("https://", HTTPAdapter(pool_maxsize=16))
        self.session.mount("http://", HTTPAdapter(pool_maxsize=16))

    def send(self, request: ApiRequest, *, recover: Recovery | None = None) -> Any:
        """Send ``request``, retrying what the policy allows; return the decoded JSON reply.

        :param request: what to send.
        :param recover: for a non-idempotent request whose attempt may have taken effect: returns
            the reply the service would have given (found another way), None when it surely did
            not take effect (so it may be sent again), or raises.
        """
        attempt = 1
        while True:
            try:
                return self.send_once(request)
            except TuneTheModelError as error:
                idempotent = request.idempotent
                if recover is not None and not idempotent and may_have_taken_effect(error):
                    recovered = recover(error)
                    if recovered is not None:
                        return recovered
                    idempotent = True
                time.sleep(self._wait_before_retry(request, error, attempt, idempotent=idempotent))
                attempt += 1

    def send_once(self, request: ApiRequest) -> Any:
        """Send ``request`` exactly once; return the decoded JSON reply or raise."""
        url = f"{self.settings.base_url}{request.path}"
        try:
            with self.session.request(
                request.method,
                url,
                json=request.json,
                timeout=self.settings.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                body, truncated = _read_capped(response.iter_content(_CHUNK_BYTES))
                return decode_reply(
                    response.status_code,
                    body,
                    retry_after=response.headers.get("Retry-After"),
                    truncated=truncated,
                    secret=self.settings.api_key,
                )
        except requests.exceptions.RequestException as error:
            timed_out = isinstance(error, requests.exceptions.Timeout)
            sent = _requests_error_was_sent(error)
            raise _transport_error(request, error, sent=sent, timed_out=timed_out) from None

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


class AsyncTransport(_RetryingTransport):
    """Non-blocking transport over one ``httpx.AsyncClient``, for triggers.

    :param settings: the connection's settings.
    :param log: where retries are logged.
    :param client: an existing client to use (it is then not closed here); the key, timeout and
        no-redirect rule are set on every request, whatever the client's own defaults.
    """

    def __init__(
        self, settings: ConnectionSettings, log: RetryLog, client: httpx.AsyncClient | None = None
    ) -> None:
        import httpx

        super().__init__(settings, log)
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            headers=request_headers(settings),
            timeout=settings.timeout,
            verify=tls_verification(settings.verify),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, request: ApiRequest) -> Any:
        """Send ``request``, retrying what the policy allows; return the decoded JSON reply."""
        attempt = 1
        while True:
            try:
                return await self.send_once(request)
            except TuneTheModelError as error:
                idempotent = request.idempotent
                await asyncio.sleep(self._wait_before_retry(request, error, attempt, idempotent=idempotent))
                attempt += 1

    async def send_once(self, request: ApiRequest) -> Any:
        """Send ``request`` exactly once; return the decoded JSON reply or raise."""
        import httpx

        url = f"{self.settings.base_url}{request.path}"
        try:
            async with self.client.stream(
                request.method,
                url,
                json=request.json,
                headers=request_headers(self.settings),
                timeout=self.settings.timeout,
                follow_redirects=False,
            ) as response:
                body, truncated = await _aread_capped(response.aiter_bytes(_CHUNK_BYTES))
                return decode_reply(
                    response.status_code,
                    body,
                    retry_after=response.headers.get("Retry-After"),
                    truncated=truncated,
                    secret=self.settings.api_key,
                )
        except httpx.HTTPError as error:
            sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
            timed_out = isinstance(error, httpx.TimeoutException)
            raise _transport_error(request, error, sent=sent, timed_out=timed_out) from None

    async def aclose(self) -> None:
        """Close the client, if this transport opened it."""
        if self._owns_client:
            await self.client.aclose()


@functools.cache
def tls_verification(verify: bool | str) -> ssl.SSLContext | bool:
    """The TLS context of ``verify`` (True, False or a CA bundle path), built once per process.

    Loading the CA certificates costs tens of milliseconds of CPU; a triggerer running many triggers
    would otherwise pay it, inside its event loop, for every new client.
    """
    if verify is False:
        return False
    if verify is True:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def _read_capped(chunks: Iterator[bytes]) -> tuple[bytes, bool]:
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        if len(buffer) > MAX_REPLY_BYTES:
            return bytes(buffer[:MAX_REPLY_BYTES]), True
    return bytes(buffer), False


async def _aread_capped(chunks: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer.extend(chunk)
        if len(buffer) > MAX_REPLY_BYTES:
            return bytes(buffer[:MAX_REPLY_BYTES]), True
    return bytes(buffer), False


def _requests_error_was_sent(error: requests.exceptions.RequestException) -> bool:
    """Whether the request may have reached the service (False only when connecting failed)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return False
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _transport_error(
    request: ApiRequest, error: Exception, *, sent: bool, timed_out: bool
) -> TuneTheModelTransportError:
    state = "its outcome is unknown" if sent else "it was not sent"
    reason = str(error)[:300] or type(error).__name__
    return TuneTheModelTransportError(
        f"Tune The Model {request.method} {request.path} got no answer ({reason}); {state}.",
        sent=sent,
        timed_out=timed_out,
    )
