"""Where a status trigger gets its readings: its own status requests, or one list shared by all.

Airflow runs every deferred task's trigger on its own, so N waits would send N status requests per
poll interval. The triggers of one triggerer share one event loop, though, and ``GET /v0/models``
returns the status of every model of a key at once. So, by default, the waits on one connection
share a ``StatusPoller``: one per (event loop, connection id), it lists the models once per
interval (the shortest among its waiters) and hands each waiter the ``ModelRecord`` of its model.

- A model the list does not show (a public model, or one created after the list was read) is read
  from its own status endpoint by its waiter, at most about once per that waiter's interval.
- A failed list reaches every waiter as that error, so each counts it as its trigger would count
  a failed status check (transient or not).
- The list is indexed by id and only the waiters' models are parsed into records, so a list of
  10,000 models holds the event loop about 20 ms at a time (see ``docs/scaling.md``).
- A list larger than the provider reads (``replies.MAX_REPLY_BYTES``) is not an error for the
  waiters: for that interval each reads its own status endpoint instead (logged once).
- The poller starts with its first waiter and stops with its last, closing its HTTP client. It
  reads the connection when it starts, and again when the service rejects the key (a rotated key
  is picked up); it uses the transport's retry policy like any request.
- The trigger stays stateless: run on another triggerer, it simply registers with the poller there.

``open_status_feed(..., coalesce=False)`` gives the per-model behaviour instead: one HTTP client
per trigger and one status request per interval. Either way a reading may take as long as the
transport lets it: the trigger bounds its whole wait by its deadline.

``open_model_list_feed`` gives a waiter the list itself (every model, or the ids it names), for
watchers that look for models rather than wait on one: it shares the same list request.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import functools
import logging
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_ttm.exceptions import (
    TuneTheModelAuthenticationError,
    TuneTheModelError,
    TuneTheModelReplyTooLargeError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from airflow_provider_ttm.api.records import ModelIndex, ModelRecord
    from airflow_provider_ttm.hooks.transport import AsyncTransport

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: A fallback read is due once this share of the waiter's interval has passed since the last one
#: (list replies arrive with some jitter; a strict 100 % would skip every other interval).
_FALLBACK_SHARE = 0.9


class _Marker:
    """A named sentinel (readable in reprs and debuggers)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: No reading has arrived since the waiter took the last one.
_NOTHING = _Marker("NOTHING")
#: The list reply did not show the waiter's model.
MISSING = _Marker("MISSING")
#: The list reply was read for other waiters' ids, not all the waiter needs.
PARTIAL = _Marker("PARTIAL")


class StatusFeed(Protocol):
    """The status readings of one model, paced by its poll interval (unbounded: the caller bounds it)."""

    async def next_reading(self) -> ModelRecord:
        """The model's next reading: the first at once, then about one poll interval apart.

        :raises TuneTheModelError: when the reading failed.
        """

    async def aclose(self) -> None:
        """Release what the feed holds (its HTTP client, or its place with the poller)."""


async def open_status_feed(
    ttm_conn_id: str, model_name: str, poll_interval: float, *, coalesce: bool = True
) -> StatusFeed:
    """A feed of ``model_name``'s status: shared with the other waits on the connection, or its own.

    :param ttm_conn_id: the Airflow connection to use.
    :param model_name: the model's id (already validated).
    :param poll_interval: seconds between two readings.
    :param coalesce: share one list request per interval (True) or send this model's own status
        request each interval (False).
    :raises TuneTheModelError: when the connection is unusable.
    :raises AirflowNotFoundException: when the connection does not exist.
    """
    if not coalesce:
        return OwnStatusFeed(await ConnectionClient.open(ttm_conn_id), model_name, poll_interval)
    poller = _poller_for(ttm_conn_id)
    feed = SharedStatusFeed(poller, model_name, poll_interval)
    await poller.join(feed)
    return feed


async def open_model_list_feed(
    ttm_conn_id: str, poll_interval: float, wanted: frozenset[str] | None = None
) -> ModelListFeed:
    """A feed of the connection's model list, read with the other waits on the connection.

    :param ttm_conn_id: the Airflow connection to use.
    :param poll_interval: the longest to go without a list, in seconds.
    :param wanted: the only ids the feed needs (None: every model of the key).
    :raises TuneTheModelError: when the connection is unusable.
    :raises AirflowNotFoundException: when the connection does not exist.
    """
    poller = _poller_for(ttm_conn_id)
    feed = ModelListFeed(poller, poll_interval, wanted)
    await poller.join(feed)
    return feed


class ConnectionClient:
    """The async transport of a connection, opened again when the service rejects its key.

    The connection is read once when opened, and again on a 401/403: if it changed meanwhile (a
    rotated key), the request is sent once more over a transport with the new settings, which is
    kept from then on. A connection that did not change leaves the rejection as it is.

    :param hook: the connection's hook.
    :param transport: an open async transport with the connection's settings.
    """

    def __init__(self, hook: TuneTheModelHook, transport: AsyncTransport) -> None:
        self.hook = hook
        self.transport = transport
        self._retired: list[AsyncTransport] = []
        self._reopening = asyncio.Lock()

    @classmethod
    async def open(cls, ttm_conn_id: str) -> ConnectionClient:
        """Read the connection and open a transport to it.

        :param ttm_conn_id: the Airflow connection.
        :raises TuneTheModelError: when the connection is unusable.
        :raises AirflowNotFoundException: when the connection does not exist.
        """
        hook = TuneTheModelHook(ttm_conn_id=ttm_conn_id)
        return cls(hook, await hook.async_transport())

    async def call(self, request: Callable[[AsyncTransport], Awaitable[_T]]) -> _T:
        """``request(transport)``, sent once more over a new transport if the key was rotated.

        :param request: sends one API call over the transport it is given.
        """
        transport = self.transport
        try:
            return await request(transport)
        except TuneTheModelAuthenticationError:
            if not await self._reopen(transport):
                raise
        return await request(self.transport)

    async def _reopen(self, rejected: AsyncTransport) -> bool:
        """Read the connection again; whether its settings changed (then used from here on)."""
        async with self._reopening:
            if self.transport is not rejected:
                return True  # another request saw the rejection and already read it again
            try:
                fresh = await self.hook.async_transport()
            except (TuneTheModelError, AirflowNotFoundException) as error:
                log.warning("Reading connection %r again failed: %s", self.hook.ttm_conn_id, error)
                return False
            if fresh.settings == rejected.settings:
                await fresh.aclose()
                return False
            log.info("Connection %r changed since it was read; using it from now on.", self.hook.ttm_conn_id)
            self.transport = fresh
            self._retired.append(rejected)  # requests still under way on it end by themselves
            return True

    async def aclose(self) -> None:
        """Close the transport, and those it replaced."""
        for transport in [*self._retired, self.transport]:
            await transport.aclose()


class OwnStatusFeed:
    """One status request per interval, over the trigger's own HTTP client (per-model polling).

    :param client: the connection's client, closed by ``aclose``.
    :param model_name: the model's id.
    :param poll_interval: seconds between two readings.
    """

    def __init__(self, client: ConnectionClient, model_name: str, poll_interval: float) -> None:
        self.client = client
        self.model_name = model_name
        self.poll_interval = poll_interval
        self._has_read = False

    async def next_reading(self) -> ModelRecord:
        """Read at once the first time, then after one interval."""
        if self._has_read:
            await asyncio.sleep(self.poll_interval)
        self._has_read = True
        return await self.client.call(self._read)

    async def _read(self, transport: AsyncTransport) -> ModelRecord:
        return await self.client.hook.aget_model(transport, self.model_name)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


class PollerWaiter(abc.ABC):
    """A waiter's place with a ``StatusPoller``: the latest reading it delivered, taken once.

    :param poller: the poller of the connection.
    :param poll_interval: the longest the waiter wants to go without a reading.
    """

    def __init__(self, poller: StatusPoller, poll_interval: float) -> None:
        self.poller = poller
        self.poll_interval = poll_interval
        self._latest: object = _NOTHING
        self._arrived = asyncio.Event()

    @property
    @abc.abstractmethod
    def wanted(self) -> frozenset[str] | None:
        """The ids the waiter needs from the list (None: every model)."""

    @abc.abstractmethod
    def reading_from(self, models: ModelIndex) -> object:
        """The waiter's reading of a list reply."""

    @abc.abstractmethod
    def reading_when_oversized(self, error: TuneTheModelReplyTooLargeError) -> object:
        """The waiter's reading when the list was too large to read."""

    def deliver(self, reading: object) -> None:
        """Called by the poller: the waiter's reading, or the exception the list raised."""
        self._latest = reading
        self._arrived.set()

    async def _take(self) -> object:
        while self._latest is _NOTHING:
            self._arrived.clear()
            await self._arrived.wait()
        reading, self._latest = self._latest, _NOTHING
        return reading

    async def aclose(self) -> None:
        """Leave the poller (the last waiter to leave stops it)."""
        await self.poller.leave(self)


class SharedStatusFeed(PollerWaiter):
    """A waiter of a ``StatusPoller``: takes the readings the poller delivers for its model.

    :param poller: the poller of the connection.
    :param model_name: the model's id.
    :param poll_interval: the longest the waiter wants to go without a reading.
    """

    def __init__(self, poller: StatusPoller, model_name: str, poll_interval: float) -> None:
        super().__init__(poller, poll_interval)
        self.model_name = model_name
        self._last_fallback: float | None = None

    @property
    def wanted(self) -> frozenset[str]:
        """The waiter's model."""
        return frozenset((self.model_name,))

    def reading_from(self, models: ModelIndex) -> object:
        """The model's record, or ``MISSING`` when the list does not show it."""
        return models.get(self.model_name) or MISSING

    def reading_when_oversized(self, error: TuneTheModelReplyTooLargeError) -> object:
        """``MISSING``: the waiter reads its model's own status instead."""
        return MISSING

    async def next_reading(self) -> ModelRecord:
        """The next reading the poller delivers (or, for a model it cannot show, the model's own)."""
        loop = self.poller.loop
        while True:
            reading = await self._take()
            if reading is MISSING:
                if not self._fallback_due(loop.time()):
                    continue
                self._last_fallback = loop.time()
                return await self.poller.read_one(self.model_name)
            if isinstance(reading, BaseException):
                raise reading.with_traceback(None)  # one instance goes to every waiter
            return cast("ModelRecord", reading)

    def _fallback_due(self, now: float) -> bool:
        last = self._last_fallback
        return last is None or now - last >= _FALLBACK_SHARE * self.poll_interval


class ModelListFeed(PollerWaiter):
    """A waiter of a ``StatusPoller`` that takes each list reply whole (for watchers).

    :param poller: the poller of the connection.
    :param poll_interval: the longest the waiter wants to go without a list.
    :param wanted: the only ids the waiter needs (None: every model of the key).
    """

    def __init__(self, poller: StatusPoller, poll_interval: float, wanted: frozenset[str] | None) -> None:
        super().__init__(poller, poll_interval)
        self._wanted = wanted

    @property
    def wanted(self) -> frozenset[str] | None:
        """The ids the waiter needs (None: every model)."""
        return self._wanted

    def reading_from(self, models: ModelIndex) -> object:
        """The list reply, or ``PARTIAL`` when it was read for other ids (the waiter joined meanwhile)."""
        return models if models.covers(self._wanted) else PARTIAL

    def reading_when_oversized(self, error: TuneTheModelReplyTooLargeError) -> object:
        """The error: a watcher has no other way to see the models."""
        return error

    async def next_list(self) -> ModelIndex:
        """The next list the poller reads: the first at once, then about one interval apart.

        :raises TuneTheModelError: when the list could not be read (every waiter gets that error).
        """
        reading = await self._take()
        while reading is PARTIAL:
            reading = await self._take()
        if isinstance(reading, BaseException):
            raise reading.with_traceback(None)
        return cast("ModelIndex", reading)


class StatusPoller:
    """Lists one connection's models once per interval and fans each model's record out.

    Made by ``open_status_feed``; one per (event loop, connection id).

    :param ttm_conn_id: the Airflow connection.
    :param loop: the event loop it runs in.
    """

    def __init__(self, ttm_conn_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.ttm_conn_id = ttm_conn_id
        self.loop = loop
        self.client: ConnectionClient | None = None
        self.waiters: set[PollerWaiter] = set()
        #: List requests sent so far (for tests and benchmarks).
        self.polls = 0
        #: Whether the last list was too large to read (the waiters then read their own status).
        self.oversized = False
        self._opening = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_poll: float | None = None

    @property
    def interval(self) -> float:
        """Seconds between two list requests: the shortest interval among the waiters."""
        return min((waiter.poll_interval for waiter in self.waiters), default=0.0)

    async def join(self, waiter: PollerWaiter) -> None:
        """Register a waiter; the first one reads the connection and starts the polling task.

        :raises TuneTheModelError: when the connection is unusable (the waiter is not registered).
        :raises AirflowNotFoundException: when the connection does not exist.
        """
        shortens = not self.waiters or waiter.poll_interval < self.interval
        self.waiters.add(waiter)
        try:
            async with self._opening:
                if self.client is None:
                    self.client = await ConnectionClient.open(self.ttm_conn_id)
        except BaseException:
            await self.leave(waiter)
            raise
        if self._task is None or self._task.done():
            log.info("Polling the model list of connection %r for the waits on it.", self.ttm_conn_id)
            # A context of its own: no trigger's log context (the first waiter's) follows the task.
            self._task = contextvars.Context().run(
                self.loop.create_task, self._run(), name=f"ttm-status-poller[{self.ttm_conn_id}]"
            )
        elif shortens:
            self._wake.set()

    async def leave(self, waiter: PollerWaiter) -> None:
        """Unregister a waiter; the last one stops the polling task and closes the HTTP client."""
        self.waiters.discard(waiter)
        if self.waiters:
            return
        if _POLLERS.get(self._key) is self:
            del _POLLERS[self._key]
        task, self._task = self._task, None
        client, self.client = self.client, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if client is not None:
            await client.aclose()
            log.info("Stopped polling the model list of connection %r.", self.ttm_conn_id)

    async def read_one(self, model_name: str) -> ModelRecord:
        """Read one model from its status endpoint, over the shared client (for a fallback)."""
        client = self.client
        if client is None:
            raise RuntimeError("the poller has no open transport")
        return await client.call(lambda transport: client.hook.aget_model(transport, model_name))

    @property
    def _key(self) -> tuple[asyncio.AbstractEventLoop, str]:
        return self.loop, self.ttm_conn_id

    async def _run(self) -> None:
        while self.waiters:
            now = self.loop.time()
            due = now if self._last_poll is None else self._last_poll + self.interval
            if due > now:
                await self._pause(due - now)
                continue
            self._last_poll = now
            await self._poll_once()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a waiter with a shorter interval joins."""
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _poll_once(self) -> None:
        client = self.client
        if client is None:
            return
        self.polls += 1
        readings = await self._readings(client)
        for waiter, reading in readings:
            waiter.deliver(reading)

    async def _readings(self, client: ConnectionClient) -> list[tuple[PollerWaiter, object]]:
        """One list request: each waiter's reading (its record, ``MISSING``, the list, or its error).

        The list keeps the entries of the waiters registered when it is sent; one that joins meanwhile
        finds its model ``MISSING`` and reads it from its status endpoint.
        """
        wanted = _wanted_by(self.waiters)
        try:
            models: ModelIndex = await client.call(
                functools.partial(client.hook.aindex_models, wanted=wanted)
            )
        except TuneTheModelReplyTooLargeError as error:
            if not self.oversized:
                log.warning(
                    "The model list of connection %r is too large to read (%s); until it fits, each "
                    "wait on it reads its own model's status.",
                    self.ttm_conn_id,
                    error,
                )
            self.oversized = True
            return [(waiter, waiter.reading_when_oversized(error)) for waiter in self.waiters]
        except Exception as error:
            if not isinstance(error, TuneTheModelError):
                log.exception("Listing the models of connection %r failed unexpectedly.", self.ttm_conn_id)
            return [(waiter, error) for waiter in self.waiters]
        if self.oversized:
            log.info("The model list of connection %r fits again; the waits share it.", self.ttm_conn_id)
            self.oversized = False
        return [(waiter, waiter.reading_from(models)) for waiter in self.waiters]


def _wanted_by(waiters: set[PollerWaiter]) -> set[str] | None:
    """The ids a list must keep for ``waiters``: None (every model) when one of them wants all."""
    wanted: set[str] = set()
    for waiter in waiters:
        if waiter.wanted is None:
            return None
        wanted |= waiter.wanted
    return wanted


#: The pollers of the running triggerer: the triggerer is one process with one event loop.
_POLLERS: dict[tuple[asyncio.AbstractEventLoop, str], StatusPoller] = {}


def _poller_for(ttm_conn_id: str) -> StatusPoller:
    """The poller of ``ttm_conn_id`` in the running event loop, made if there is none."""
    loop = asyncio.get_running_loop()
    for stale in [key for key in _POLLERS if key[0].is_closed()]:
        del _POLLERS[stale]  # left behind by a loop that closed with waiters still registered
    poller = _POLLERS.get((loop, ttm_conn_id))
    if poller is None:
        poller = _POLLERS[(loop, ttm_conn_id)] = StatusPoller(ttm_conn_id, loop)
    return poller


def active_pollers() -> list[StatusPoller]:
    """The pollers that have waiters, in every event loop (for tests, benchmarks and debugging)."""
    return list(_POLLERS.values())
