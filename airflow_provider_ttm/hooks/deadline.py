"""A total time limit for each blocking request attempt, and keep-alive hygiene, for ``requests``.

``requests`` only bounds each socket operation: a server trickling one byte per second never trips
its timeout. Here every attempt runs inside ``AttemptDeadline``; the sessions mount
``BoundedAdapter``, whose connection pools hand each connection they give out to the attempt of the
calling thread. One watchdog thread per process keeps the attempts' deadlines in a heap and, when
one passes with the attempt still running, shuts the sockets of its connections: the blocked read
returns at once and the transport reports a timeout. Attempts cost a heap push and pop under a
lock; the watchdog wakes only when a deadline is due, not per request.

A connection remembers the socket it connected with (TLS, or TLS through a proxy's tunnel,
included), because it does not always keep it: when a reply ends the connection (``Connection:
close``, HTTP/1.0, a body read until the server closes), ``http.client`` hands the socket to the
reply and drops it from the connection. The watchdog shuts that socket all the same, so the bound
holds whatever the framing of the reply and whatever the server does with the connection.

The pools also close a connection that sat idle longer than ``KEEPALIVE_EXPIRY_SECONDS`` before
reusing it, so a request is rarely sent on a connection the server is just closing for idleness.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

if TYPE_CHECKING:
    from types import TracebackType

    from urllib3._base_connection import BaseHTTPConnection

#: Idle pooled connections older than this are closed rather than reused: below the shortest common
#: server keep-alive timeouts (uvicorn and Node.js close idle connections after 5 s).
KEEPALIVE_EXPIRY_SECONDS = 4.0
_IDLE_SINCE = "_ttm_idle_since"
_CONNECTED = "_ttm_connected"
#: How soon a late attempt whose connection was still connecting is looked at again.
_RECHECK_SECONDS = 0.1


class AttemptDeadline:
    """The deadline of one attempt on the calling thread; a context manager.

    :param seconds: the attempt's total time limit.
    """

    __slots__ = ("_connections", "_done", "_outer", "deadline", "expired", "reused")

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        #: Whether the deadline passed while the attempt ran (its sockets were then shut).
        self.expired = False
        #: Whether the last connection the attempt got had served a request before.
        self.reused = False
        self._connections: list[BaseHTTPConnection] = []
        self._done = False
        self._outer: AttemptDeadline | None = None

    def __enter__(self) -> AttemptDeadline:
        self._outer = _current.attempt
        _current.attempt = self
        _WATCHDOG.add(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        _current.attempt = self._outer
        _WATCHDOG.finish(self)

    def watch(self, connection: BaseHTTPConnection) -> bool:
        """Shut ``connection`` when the deadline passes; False if it already has."""
        self.reused = getattr(connection, "sock", None) is not None
        with _WATCHDOG.lock:
            if self.expired:
                return False
            self._connections.append(connection)
            return True

    def expire(self) -> bool:
        """Mark the attempt late and shut its connections; called by the watchdog, under its lock.

        :return: False while a connection is still connecting (it has no socket to shut yet).
        """
        self.expired = True
        return all([_shut(connection) for connection in self._connections])


class _Watchdog:
    """The single thread that expires late attempts."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked task starts with no thread, no lock held

    def reset(self) -> None:
        """Start empty, with a fresh lock and no thread (the watchdog starts with the first attempt)."""
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, AttemptDeadline]] = []
        self._order = itertools.count()
        self._wakes_at: float | None = None
        self._thread: threading.Thread | None = None

    def add(self, attempt: AttemptDeadline) -> None:
        with self.lock:
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ttm-deadlines", daemon=True)
                self._thread.start()
            elif self._wakes_at is None or attempt.deadline < self._wakes_at:
                self._wake.notify()

    def finish(self, attempt: AttemptDeadline) -> None:
        with self.lock:
            attempt._done = True
            attempt._connections.clear()
            while self._heap and self._heap[0][2]._done:
                heapq.heappop(self._heap)

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    attempt = heapq.heappop(self._heap)[2]
                    if not attempt._done and not attempt.expire():
                        entry = (now + _RECHECK_SECONDS, next(self._order), attempt)
                        heapq.heappush(self._heap, entry)
                self._wakes_at = self._heap[0][0] if self._heap else None
                self._wake.wait(None if self._wakes_at is None else self._wakes_at - now)


_WATCHDOG = _Watchdog()


class _CurrentAttempt(threading.local):
    attempt: AttemptDeadline | None = None


_current = _CurrentAttempt()


def _shut(connection: BaseHTTPConnection) -> bool:
    """Shut the TCP connection under the connection's socket, or under the one a reply took from it
    (TLS or not); False when there is no open one yet (still connecting, or about to reconnect)."""
    sock = getattr(connection, "sock", None) or getattr(connection, _CONNECTED, None)
    while sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # TLS inside a proxy's TLS: the tunnel's socket
    if sock is None or sock.fileno() == -1:
        return False
    with contextlib.suppress(OSError):  # closed meanwhile
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return True


class _RememberingConnection:
    """Connection behaviour: remember the socket of the last connect, which a reply may take away."""

    def connect(self) -> None:
        setattr(self, _CONNECTED, None)
        super().connect()  # type: ignore[misc]
        setattr(self, _CONNECTED, self.sock)  # type: ignore[attr-defined]


class _BoundedHTTPConnection(_RememberingConnection, HTTPConnection):
    pass


class _BoundedHTTPSConnection(_RememberingConnection, HTTPSConnection):
    pass


class _BoundedPool:
    """Pool behaviour: idle-expired connections are closed; handed-out ones join the attempt."""

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        connection: BaseHTTPConnection = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(connection, _IDLE_SINCE, None)
        if idle_since is not None and time.monotonic() - idle_since > KEEPALIVE_EXPIRY_SECONDS:
            connection.close()
        attempt = _current.attempt
        if attempt is not None and not attempt.watch(connection):
            connection.close()
            raise TimeoutError("the attempt's total timeout passed")
        return connection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        if conn is not None:
            setattr(conn, _IDLE_SINCE, time.monotonic())
        super()._put_conn(conn)  # type: ignore[misc]


class _BoundedHTTPPool(_BoundedPool, HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(_BoundedPool, HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


_POOLS = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}


class BoundedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections obey ``AttemptDeadline`` and the keep-alive expiry."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _bound(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        return _bound(super().proxy_manager_for(proxy, **proxy_kwargs))


def _bound(manager: PoolManager) -> PoolManager:
    """Give ``manager`` the bounded pools, unless it brings its own (a SOCKS proxy does)."""
    if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = _POOLS  # type: ignore[assignment]
    return manager
