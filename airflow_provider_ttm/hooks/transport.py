"""The hook's two transports: ``requests`` for tasks, ``httpx`` (async) for triggers.

Both send an ``ApiRequest`` from the pure API module, read at most ``MAX_REPLY_BYTES`` of the
reply, hand it to the same decoder and retry with the same policy, so they behave alike. The API
key travels only in the ``Authorization`` header, never in a log line or an exception (it is
redacted, in any encoding, from every text that leaves here); redirects are not followed.

The ``timeout`` setting bounds each attempt in total (connecting, sending, the whole reply):
``asyncio.timeout`` around the async attempt, ``AttemptDeadline`` (see ``deadline.py``) around the
blocking one. A request that fails on a pooled keep-alive connection before any byte of a reply
(the server closed it for idleness just as it was reused) is sent again at once on a new
connection, without a log line or a backoff wait, when it is idempotent; that resend is one of the
request's ``max_attempts`` like any retry (``Retries.resend_at_once``), so a server that drops
every request still sees each at most ``max_attempts`` times.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import http.client
import os
import ssl
from asyncio import timeout as total_timeout
from typing import TYPE_CHECKING, Any

import requests
import urllib3.exceptions
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from airflow_provider_ttm import __version__
from airflow_provider_ttm.api.errors import TuneTheModelError, TuneTheModelTransportError
from airflow_provider_ttm.api.redaction import redact
from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES, decode_reply
from airflow_provider_ttm.api.retry import Retries
from airflow_provider_ttm.hooks.deadline import KEEPALIVE_EXPIRY_SECONDS, AttemptDeadline, BoundedAdapter
from airflow_provider_ttm.hooks.retrying import acall_with_retries, call_with_retries
from airflow_provider_ttm.network import Egress, causes, proxy_failure

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    import httpx

    from airflow_provider_ttm.api.endpoints import ApiRequest
    from airflow_provider_ttm.api.retry import RetryLog
    from airflow_provider_ttm.connection_settings import ConnectionSettings
    from airflow_provider_ttm.hooks.retrying import Recovery

_CHUNK_BYTES = 64 * 1024
#: What a blocking attempt may raise when the network or the deadline cuts it short (``requests``
#: wraps most of it; a socket shut by the deadline can surface as a bare library error).
_SYNC_FAILURES = (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException)
#: Errors of a request that got no byte of a reply because its connection was closed under it.
_DISCONNECTS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_USER_AGENT = f"airflow-provider-ttm/{__version__}"


def request_headers(settings: ConnectionSettings) -> dict[str, str]:
    """Headers of every API request: the raw key as ``Authorization``, as the reference shows."""
    return {
        "Authorization": settings.api_key,
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
    }


class _Transport:
    """What both transports share: settings, the retries of a request, the error of no answer."""

    def __init__(self, settings: ConnectionSettings, log: RetryLog) -> None:
        self.settings = settings
        self.log = log
        self.proxy: str | None = None  # the proxy requests go through, set by each transport

    def _retries(self, request: ApiRequest, max_attempts: int | None = None) -> Retries:
        return Retries(
            self.settings.retry,
            f"Tune The Model {request.method} {request.path}",
            self.log,
            idempotent=request.idempotent,
            max_attempts=max_attempts,
        )

    def _transport_error(
        self, request: ApiRequest, error: BaseException, *, sent: bool, timed_out: bool
    ) -> TuneTheModelTransportError:
        """The error of an attempt that got no HTTP answer; the library's text is quoted redacted."""
        refused = proxy_failure(error, self.proxy)
        sent = sent and refused is None  # a proxy that failed the tunnel passed nothing on
        state = "its outcome is unknown" if sent else "it was not sent"
        if timed_out and isinstance(error, TimeoutError):
            reason = f"no complete reply within the {self.settings.timeout:g} s timeout"
        else:
            reason = redact(str(refused or error), self.settings.api_key)[:300] or type(error).__name__
        return TuneTheModelTransportError(
            f"Tune The Model {request.method} {request.path} got no answer ({reason}); {state}.",
            sent=sent,
            timed_out=timed_out,
            retryable=refused is None or not refused.wants_credentials,
        )


class _StaleConnection(Exception):
    """An attempt failed on a reused connection before any byte of a reply; ``error`` says how."""

    def __init__(self, error: TuneTheModelTransportError) -> None:
        super().__init__(str(error))
        self.error = error


class SyncTransport(_Transport):
    """Blocking transport over one pooled ``requests.Session``.

    :param settings: the connection's settings.
    :param log: where retries are logged.
    """

    def __init__(self, settings: ConnectionSettings, log: RetryLog) -> None:
        super().__init__(settings, log)
        self.session = requests.Session()
        self.session.headers.update(request_headers(settings))
        egress = Egress.resolve(settings)  # the environment is read here, not per request
        self.session.verify = egress.verify
        self.proxy = egress.proxy_for(settings.base_url)
        self.session.proxies = egress.requests_proxies(settings.base_url)
        self.session.trust_env = False
        self.session.mount("https://", BoundedAdapter(pool_maxsize=16))
        self.session.mount("http://", BoundedAdapter(pool_maxsize=16))

    def send(self, request: ApiRequest, *, recover: Recovery | None = None) -> Any:
        """Send ``request``, retrying what the policy allows; return the decoded JSON reply.

        :param request: what to send.
        :param recover: for a non-idempotent request whose attempt may have taken effect (see
            ``hooks.retrying.Recovery``).
        """
        retries = self._retries(request)
        return call_with_retries(lambda: self._send(request, retries), retries, recover=recover)

    def send_once(self, request: ApiRequest) -> Any:
        """Send ``request`` exactly once, never again; return the decoded JSON reply."""
        return self._send(request, self._retries(request, max_attempts=1))

    def _send(self, request: ApiRequest, retries: Retries) -> Any:
        """One attempt, resent at once if a stale connection cut it off and ``retries`` has one left."""
        try:
            return self._attempt(request)
        except _StaleConnection as stale:
            if not (request.idempotent and retries.resend_at_once()):
                raise stale.error from None
        try:
            return self._attempt(request)
        except _StaleConnection as stale:
            raise stale.error from None

    def _attempt(self, request: ApiRequest) -> Any:
        url = f"{self.settings.base_url}{request.path}"
        answered = False
        with AttemptDeadline(self.settings.timeout) as attempt:
            try:
                with self.session.request(
                    request.method,
                    url,
                    json=request.json,
                    timeout=self.settings.timeout,
                    allow_redirects=False,
                    stream=True,
                ) as response:
                    answered = True
                    body, truncated = _read_capped(response.iter_content(_CHUNK_BYTES))
                    status, retry_after = response.status_code, response.headers.get("Retry-After")
            except _SYNC_FAILURES as error:
                timed_out = attempt.expired or timed_out_reading(error)
                sent = attempt.expired or _requests_error_was_sent(error)
                # Sent and timed out: the total deadline or the read timeout, whichever came first.
                cause = TimeoutError() if timed_out and sent else error
                failure = self._transport_error(request, cause, sent=sent, timed_out=timed_out)
                if (
                    attempt.reused
                    and not answered
                    and not attempt.expired
                    and _caused_by(error, _DISCONNECTS)
                ):
                    raise _StaleConnection(failure) from None
                raise failure from None
            if attempt.expired:
                raise self._transport_error(request, TimeoutError(), sent=True, timed_out=True)
        try:
            return decode_reply(
                status, body, retry_after=retry_after, truncated=truncated, secret=self.settings.api_key
            )
        except TuneTheModelError as error:
            refused = error
        del body  # see _bare
        raise _bare(refused)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


class AsyncTransport(_Transport):
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
        egress = Egress.resolve(settings)  # the environment is read here, not per request
        self.proxy = egress.proxy_for(settings.base_url) if client is None else None
        self.client = client or httpx.AsyncClient(
            headers=request_headers(settings),
            timeout=settings.timeout,
            verify=tls_verification(egress.verify),
            proxy=_httpx_proxy(self.proxy, egress.verify),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS),
        )

    async def send(self, request: ApiRequest, *, parse: Callable[[Any], Any] | None = None) -> Any:
        """Send ``request``, retrying what the policy allows; return the decoded JSON reply.

        :param request: what to send.
        :param parse: made of the decoded reply in the same step as the decoding, with Python's
            cyclic garbage collector paused (see ``collector_paused``); its result is returned.
        """
        retries = self._retries(request)
        return await acall_with_retries(lambda: self._send(request, parse, retries), retries)

    async def send_once(self, request: ApiRequest, *, parse: Callable[[Any], Any] | None = None) -> Any:
        """Send ``request`` exactly once, never again; return the decoded JSON reply.

        :param request: what to send.
        :param parse: as for ``send``.
        """
        return await self._send(request, parse, self._retries(request, max_attempts=1))

    async def _send(self, request: ApiRequest, parse: Callable[[Any], Any] | None, retries: Retries) -> Any:
        """One attempt, resent at once if a stale connection cut it off and ``retries`` has one left."""
        try:
            return await self._attempt(request, parse)
        except _StaleConnection as stale:
            if not (request.idempotent and retries.resend_at_once()):
                raise stale.error from None
        try:
            return await self._attempt(request, parse)
        except _StaleConnection as stale:
            raise stale.error from None

    async def _attempt(self, request: ApiRequest, parse: Callable[[Any], Any] | None) -> Any:
        import httpx

        url = f"{self.settings.base_url}{request.path}"
        answered = False
        try:
            async with total_timeout(self.settings.timeout):
                async with self.client.stream(
                    request.method,
                    url,
                    json=request.json,
                    headers=request_headers(self.settings),
                    timeout=self.settings.timeout,
                    follow_redirects=False,
                ) as response:
                    answered = True
                    body, truncated = await _aread_capped(response.aiter_bytes(_CHUNK_BYTES))
        except TimeoutError as error:
            raise self._transport_error(request, error, sent=True, timed_out=True) from None
        except httpx.HTTPError as error:
            sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
            timed_out = isinstance(error, httpx.TimeoutException)
            failure = self._transport_error(request, error, sent=sent, timed_out=timed_out)
            if not answered and _httpx_disconnected(error):
                raise _StaleConnection(failure) from None
            raise failure from None
        try:
            with collector_paused() if parse is not None else contextlib.nullcontext():
                payload = decode_reply(
                    response.status_code,
                    body,
                    retry_after=response.headers.get("Retry-After"),
                    truncated=truncated,
                    secret=self.settings.api_key,
                )
                return payload if parse is None else parse(payload)
        except TuneTheModelError as error:
            refused = error
        del body  # see _bare
        raise _bare(refused)

    async def aclose(self) -> None:
        """Close the client, if this transport opened it."""
        if self._owns_client:
            await self.client.aclose()


def _bare(error: TuneTheModelError) -> TuneTheModelError:
    """``error`` without its traceback, to be raised from a frame that no longer holds the reply.

    A failed task's traceback may be logged with each frame's local variables (Airflow 3.0 does in
    ``airflow dags test``): the frames that decoded the reply hold its raw body, which may echo the
    API key in an encoding the log masker does not know, and the key itself.
    """
    return error.with_traceback(None)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, if it runs, for a moment without ``await``.

    Decoding a list of 10,000 models makes 10,000 dicts at once. Collections during the decoding
    would move them to the oldest generation, and every few polls a full collection of the whole
    heap would follow (over 100 ms of stalled event loop in a triggerer). Paused while the reply is
    decoded and indexed, the dicts the index does not keep are freed by reference counting first.
    """
    if not gc.isenabled():  # paused by someone else: theirs to resume
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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


def _httpx_proxy(url: str | None, verify: bool | str) -> httpx.Proxy | str | None:
    """The ``httpx`` proxy of ``url``; TLS to an ``https://`` proxy is verified as the service's is
    (``requests`` does so itself; ``httpx`` would use its own default CA bundle)."""
    if url is None or not url.startswith("https://"):
        return url
    import httpx

    context = tls_verification(verify)
    if not isinstance(context, ssl.SSLContext):  # verify is False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return httpx.Proxy(url, ssl_context=context)


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


def _requests_error_was_sent(error: BaseException) -> bool:
    """Whether the request may have reached the service (False only when connecting failed)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return False
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def timed_out_reading(error: BaseException) -> bool:
    """Whether a ``requests`` error is a timeout, however it is wrapped (a read timeout while the
    body streams comes as a ``ConnectionError`` around urllib3's ``ReadTimeoutError``)."""
    return isinstance(error, requests.exceptions.Timeout) or _caused_by(
        error, (urllib3.exceptions.TimeoutError, TimeoutError)
    )


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``error`` or anything that caused it is one of ``kinds``."""
    return any(isinstance(cause, kinds) for cause in causes(error))


def _httpx_disconnected(error: Exception) -> bool:
    """Whether an ``httpx`` error means the server closed the connection before any reply."""
    import httpx

    if isinstance(error, httpx.RemoteProtocolError):
        return "without sending a response" in str(error)
    return isinstance(error, (httpx.ReadError, httpx.WriteError))
