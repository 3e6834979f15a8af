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
- The poller starts with its first waiter and stops with its last, closing its HTTP client. It
  reads the connection when it starts, and uses the transport's retry policy like any request.
- The trigger stays stateless: run on another triggerer, it simply registers with the poller there.

``open_status_feed(..., coalesce=False)`` gives the per-model behaviour instead: one HTTP client
per trigger and one status request per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import TYPE_CHECKING, Protocol, cast

from airflow_provider_ttm.exceptions import TuneTheModelError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

if TYPE_CHECKING:
    from airflow_provider_ttm.api.records import ModelRecord
    from airflow_provider_ttm.hooks.transport import AsyncTransport

log = logging.getLogger(__name__)

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


class StatusFeed(Protocol):
    """The status readings of one model, paced by its poll interval."""

    async def next_reading(self, time_left: float | None) -> ModelRecord | None:
        """The model's next reading; None when ``time_left`` seconds pass first (never for the first).

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
        hook = TuneTheModelHook(ttm_conn_id=ttm_conn_id)
        return OwnStatusFeed(hook, await hook.async_transport(), model_name, poll_interval)
    poller = _poller_for(ttm_conn_id)
    feed = SharedStatusFeed(poller, model_name, poll_interval)
    await poller.join(feed)
    return feed


class OwnStatusFeed:
    """One status request per interval, over the trigger's own HTTP client (per-model polling).

    :param hook: the connection's hook.
    :param transport: an open async transport, closed by ``aclose``.
    :param model_name: the model's id.
    :param poll_interval: seconds between two readings.
    """

    def __init__(
        self, hook: TuneTheModelHook, transport: AsyncTransport, model_name: str, poll_interval: float
    ) -> None:
        self._hook = hook
        self.transport = transport
        self.model_name = model_name
        self.poll_interval = poll_interval
        self._has_read = False

    async def next_reading(self, time_left: float | None) -> ModelRecord | None:
        """Read at once the first time, then after one interval (or what is left of the wait)."""
        if self._has_read:
            if time_left is not None and time_left <= 0:
                return None
            await asyncio.sleep(
                self.poll_interval if time_left is None else min(self.poll_interval, time_left)
            )
        self._has_read = True
        return await self._hook.aget_model(self.transport, self.model_name)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.transport.aclose()


class SharedStatusFeed:
    """A waiter of a ``StatusPoller``: takes the readings the poller delivers for its model.

    :param poller: the poller of the connection.
    :param model_name: the model's id.
    :param poll_interval: the longest the waiter wants to go without a reading.
    """

    def __init__(self, poller: StatusPoller, model_name: str, poll_interval: float) -> None:
        self.poller = poller
        self.model_name = model_name
        self.poll_interval = poll_interval
        self._latest: object = _NOTHING
        self._arrived = asyncio.Event()
        self._has_read = False
        self._last_fallback: float | None = None

    def deliver(self, reading: object) -> None:
        """Called by the poller: a ``ModelRecord``, ``MISSING``, or the exception the list raised."""
        self._latest = reading
        self._arrived.set()

    async def next_reading(self, time_left: float | None) -> ModelRecord | None:
        """The next reading the poller delivers (the first one whatever the deadline)."""
        loop = self.poller.loop
        ends_at = None if time_left is None or not self._has_read else loop.time() + time_left
        while True:
            reading = await self._take(ends_at)
            if reading is _NOTHING:
                return None
            self._has_read = True
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

    async def _take(self, ends_at: float | None) -> object:
        while self._latest is _NOTHING:
            self._arrived.clear()
            if ends_at is None:
                await self._arrived.wait()
                continue
            left = ends_at - self.poller.loop.time()
            if left <= 0:
                return _NOTHING
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        reading, self._latest = self._latest, _NOTHING
        return reading

    async def aclose(self) -> None:
        """Leave the poller (the last waiter to leave stops it)."""
        await self.poller.leave(self)


class StatusPoller:
    """Lists one connection's models once per interval and fans each model's record out.

    Made by ``open_status_feed``; one per (event loop, connection id).

    :param ttm_conn_id: the Airflow connection.
    :param loop: the event loop it runs in.
    """

    def __init__(self, ttm_conn_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.ttm_conn_id = ttm_conn_id
        self.loop = loop
        self.hook = TuneTheModelHook(ttm_conn_id=ttm_conn_id)
        self.transport: AsyncTransport | None = None
        self.waiters: set[SharedStatusFeed] = set()
        #: List requests sent so far (for tests and benchmarks).
        self.polls = 0
        self._opening = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_poll: float | None = None

    @property
    def interval(self) -> float:
        """Seconds between two list requests: the shortest interval among the waiters."""
        return min((waiter.poll_interval for waiter in self.waiters), default=0.0)

    async def join(self, waiter: SharedStatusFeed) -> None:
        """Register a waiter; the first one reads the connection and starts the polling task.

        :raises TuneTheModelError: when the connection is unusable (the waiter is not registered).
        :raises AirflowNotFoundException: when the connection does not exist.
        """
        shortens = not self.waiters or waiter.poll_interval < self.interval
        self.waiters.add(waiter)
        try:
            async with self._opening:
                if self.transport is None:
                    self.transport = await self.hook.async_transport()
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

    async def leave(self, waiter: SharedStatusFeed) -> None:
        """Unregister a waiter; the last one stops the polling task and closes the HTTP client."""
        self.waiters.discard(waiter)
        if self.waiters:
            return
        if _POLLERS.get(self._key) is self:
            del _POLLERS[self._key]
        task, self._task = self._task, None
        transport, self.transport = self.transport, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if transport is not None:
            await transport.aclose()
            log.info("Stopped polling the model list of connection %r.", self.ttm_conn_id)

    async def read_one(self, model_name: str) -> ModelRecord:
        """Read one model from its status endpoint, over the shared client (for a fallback)."""
        if self.transport is None:
            raise RuntimeError("the poller has no open transport")
        return await self.hook.aget_model(self.transport, model_name)

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
        if self.transport is None:
            return
        self.polls += 1
        try:
            records = await self.hook.alist_models(self.transport)
        except Exception as error:
            if not isinstance(error, TuneTheModelError):
                log.exception("Listing the models of connection %r failed unexpectedly.", self.ttm_conn_id)
            self._deliver_to_all(error)
            return
        by_name = {record.model_name: record for record in records}
        for waiter in list(self.waiters):
            waiter.deliver(by_name.get(waiter.model_name, MISSING))

    def _deliver_to_all(self, reading: object) -> None:
        for waiter in list(self.waiters):
            waiter.deliver(reading)


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
