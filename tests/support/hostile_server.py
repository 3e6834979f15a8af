"""A scripted, deliberately hostile HTTP/1.1 server on loopback, for sync and async tests.

A raw asyncio socket server on ``127.0.0.1`` (random port) runs its own event loop in a background
thread, so a blocking ``requests`` call and an ``httpx`` call in the test's own loop can both talk
to it. It parses just enough HTTP/1.1 (request line, headers, ``Content-Length`` body) and answers
each request as scripted, byte by byte when asked to.

Use it as a context manager, or through the ``hostile_server`` fixture of ``tests/unit/conftest.py``::

    from support.hostile_server import HostileServer, Reply

    with HostileServer() as server:
        server.respond(Reply.json([]))                          # every request, by default
        server.queue(Reply(trickle="body", delay=1.0, body=b"[" + b" " * 100 + b"]"))  # next one only
        server.respond(lambda request: Reply(drop=True) if request.reused else Reply.json([]))
        server.idle_close = 1.0                                 # close keep-alive connections idle 1 s
        ... server.url ...                                      # "http://127.0.0.1:<port>"
        server.requests, server.connections                     # what arrived, and how

``Reply`` fields:

- ``status``, ``headers``, ``body`` (bytes; ``str`` is UTF-8 encoded): what to answer.
  ``Reply.json(payload, status=200)`` serializes ``payload`` (or takes a ``str`` as the raw JSON
  text, for hand-written escapes and constants such as ``NaN``).
- ``trickle``: ``"headers"`` (status line and headers one byte at a time, then the body at once),
  ``"body"`` (headers at once, then the body one byte at a time), ``"chunks"`` (chunked transfer
  encoding, one byte per chunk) or ``"all"``; ``delay`` is the pause before each trickled byte.
- ``framing``: how the body's end is told: ``"length"`` (``Content-Length``, the default),
  ``"chunked"`` (the default with ``trickle="chunks"``; a trickled body then comes one byte per
  chunk) or ``"close"`` (neither: the body ends when the server closes the connection).
- ``version``: the status line's protocol, ``"HTTP/1.1"`` or ``"HTTP/1.0"`` (then the connection is
  closed after the reply, as an HTTP/1.0 server without keep-alive does).
- ``drop``: close the connection after reading the request, without answering a byte.
- ``close``: answer with ``Connection: close`` and close the connection afterwards.
- ``raw``: send these bytes instead of a well-formed reply (a broken status line, say), then close.

A reply keeps the connection alive unless told otherwise. ``HostileServer(tls=files)`` serves
``https://`` with a certificate of ``support.proxy.make_self_signed``;
``HostileServer(handshake_delay=0.1)`` poses as an ``https://`` server whose TLS handshake never
ends: it answers every connection with the header of a full-size handshake record, then its bytes
one per ``handshake_delay`` (no request ever arrives). ``idle_close`` (seconds, or None) closes a connection that waits that long for its
next request, as servers with a keep-alive timeout do (uvicorn: 5 s).

``call_within(seconds, function, *args)`` runs a blocking call in a thread and returns what it
returned or raised, failing the test if it is still running after ``seconds`` (a test of a hung call
must not hang itself).

Each arriving request is recorded as a ``Request`` in ``server.requests`` (method, path, lower-case
headers, body, connection number, whether it came on a reused connection, and how long that
connection had sat idle before it); ``connections`` counts
accepted connections. The handler runs in the server's thread: keep it quick and non-blocking.
Stopping the server cancels every reply still trickling, so a test never waits for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from support.proxy import TlsFiles

T = TypeVar("T")

#: The API key of ``hostile_conn``: long enough for Airflow's secrets masker, with characters JSON and
#: URLs escape.
API_KEY = "ttm/Ab3+xK9/q7Zr=key"
Trickle = Literal["headers", "body", "chunks", "all"]
Framing = Literal["length", "chunked", "close"]
_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    500: "Internal Server Error",
}
_START_TIMEOUT_SECONDS = 10.0


@dataclass
class Reply:
    """One scripted answer (see the module docstring)."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: Trickle | None = None
    delay: float = 1.0
    framing: Framing | None = None
    version: str = "HTTP/1.1"
    drop: bool = False
    close: bool = False
    raw: bytes | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, **options: Any) -> Reply:
        """A JSON reply; a ``str`` payload is sent as the raw JSON text."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return cls(status=status, body=text, headers=headers, **options)

    def encoded_body(self) -> bytes:
        """The body as bytes."""
        return self.body.encode() if isinstance(self.body, str) else self.body

    @property
    def body_framing(self) -> Framing:
        """How the body's end is told (see ``framing``)."""
        return self.framing or ("chunked" if self.trickle == "chunks" else "length")

    @property
    def ends_connection(self) -> bool:
        """Whether the server closes the connection after this reply."""
        return self.close or self.body_framing == "close" or self.version == "HTTP/1.0"


@dataclass(frozen=True)
class Request:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int
    reused: bool
    idle: float = 0.0


Handler = Callable[[Request], Reply]


class HostileServer:
    """The server; a context manager that starts it in a thread and stops it on exit."""

    def __init__(self, tls: TlsFiles | None = None, handshake_delay: float | None = None) -> None:
        self.tls = tls
        self.handshake_delay = handshake_delay
        self.requests: list[Request] = []
        self.connections = 0
        self.idle_close: float | None = None
        self.port = 0
        self._handler: Handler = lambda request: Reply.json([])
        self._queued: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (``https`` with TLS)."""
        secure = self.tls is not None or self.handshake_delay is not None
        return f"{'https' if secure else 'http'}://127.0.0.1:{self.port}"

    def respond(self, reply: Reply | Handler) -> None:
        """Answer every request (after the queued ones) with ``reply``, or what ``reply(request)`` returns."""
        self._handler = reply if callable(reply) else (lambda request: reply)

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, one each, before the default."""
        with self._lock:
            self._queued.extend(replies)

    def start(self) -> HostileServer:
        """Start listening; return the server."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=_START_TIMEOUT_SECONDS)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, cancelling replies in progress."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(
                timeout=_START_TIMEOUT_SECONDS
            )
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=_START_TIMEOUT_SECONDS)
        self._loop.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _listen(self) -> None:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert, self.tls.key)
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        number = self.connections
        try:
            if self.handshake_delay is not None:
                await _trickle_handshake(writer, self.handshake_delay)
            else:
                await self._serve(reader, writer, number)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # the server stops; ending quietly keeps asyncio from logging the cancellation
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        served = 0
        idle_since = time.monotonic()
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_close)
            except TimeoutError:
                return  # idle for too long: close, as a server with a keep-alive timeout does
            method, path, headers = _parse(head)
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            idle = time.monotonic() - idle_since if served else 0.0
            request = Request(method, path, headers, body, number, reused=served > 0, idle=idle)
            self.requests.append(request)
            served += 1
            with self._lock:
                reply = self._queued.popleft() if self._queued else None
            reply = reply or self._handler(request)
            if reply.drop:
                return
            if reply.raw is not None:
                writer.write(reply.raw)
                await writer.drain()
                return
            await _write(writer, reply)
            if reply.ends_connection:
                return
            idle_since = time.monotonic()


async def _trickle_handshake(writer: asyncio.StreamWriter, delay: float) -> None:
    """A TLS record header announcing a 16 KiB handshake record, then its bytes, one per ``delay``."""
    writer.write(b"\x16\x03\x03\x40\x00")
    await _send(writer, bytes(0x4000), delay)


def _parse(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


async def _write(writer: asyncio.StreamWriter, reply: Reply) -> None:
    body = reply.encoded_body()
    framing = reply.body_framing
    headers = dict(reply.headers)
    if framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
    elif framing == "length":
        headers["Content-Length"] = str(len(body))
    if reply.close:
        headers["Connection"] = "close"
    reason = _REASONS.get(reply.status, "Status")
    head = f"{reply.version} {reply.status} {reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    head_bytes = (head + "\r\n").encode("latin-1")
    slow_head = reply.trickle in ("headers", "all")
    slow_body = reply.trickle in ("body", "chunks", "all")
    await _send(writer, head_bytes, reply.delay if slow_head else None)
    if framing == "chunked":
        chunks = [body[index : index + 1] for index in range(len(body))] if slow_body else [body]
        for chunk in filter(None, chunks):  # an empty chunk would end the body
            if slow_body:
                await asyncio.sleep(reply.delay)
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    else:
        await _send(writer, body, reply.delay if slow_body else None)


async def _send(writer: asyncio.StreamWriter, data: bytes, delay: float | None) -> None:
    if delay is None:
        writer.write(data)
        await writer.drain()
        return
    for index in range(len(data)):
        await asyncio.sleep(delay)
        writer.write(data[index : index + 1])
        await writer.drain()


async def alist_outcome(hook: Any) -> object:
    """What ``hook.alist_models`` returned, or the transport error it raised, over a transport of its own."""
    from airflow_provider_ttm.exceptions import TuneTheModelTransportError

    transport = await hook.async_transport()
    try:
        return await hook.alist_models(transport)
    except TuneTheModelTransportError as error:
        return error
    finally:
        await transport.aclose()


def outcome_of(function: Callable[..., T], *args: Any) -> T | BaseException:
    """What ``function(*args)`` returned or raised, run in this thread: for an operator's ``execute``,
    which Airflow 2 allows in the thread that imported it only (its executor safeguard).
    Every network wait the provider makes is bounded, so this cannot hang."""
    try:
        return function(*args)
    except Exception as error:
        return error


def call_within(seconds: float, function: Callable[..., T], *args: Any) -> T | BaseException:
    """What ``function(*args)`` returned or raised; fail the test if it runs longer than ``seconds``."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(function(*args))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, name="call-within", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"{function!r} still running after {seconds} s")
    return outcome[0]
