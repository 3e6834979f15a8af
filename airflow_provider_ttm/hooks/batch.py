"""One call per input on a bounded thread pool, results in input order (batch inference).

Each worker thread gets its own ``SyncTransport`` (a ``requests.Session`` and its pool), built from
the connection settings the hook read once in the task's thread. ``requests`` does not promise that
one ``Session`` may be shared across threads (its cookie jar and adapters hold mutable state), and a
lock around a shared session would run the calls one at a time. A session per thread costs one
connection per worker, bounded by ``max_concurrency``, and needs no lock. The connection is never
read from a worker thread.

The retries of an input are written once, here: the per-thread transports send each request once
(``max_attempts`` 1), and the runner sends it again, with the connection's backoff, as the policy
allows. An input whose reply cannot be read (a garbled 200), or cut off by a stale keep-alive
connection (which the transport alone would resend at once), is retried within the same budget. So
one input reaches the service at most ``min(max_attempts, retries + 1)`` times, and a batch of N
inputs at most N times that.
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_ttm.api.endpoints import shown
from airflow_provider_ttm.api.errors import TuneTheModelBatchItemError, TuneTheModelError
from airflow_provider_ttm.api.retry import Retries
from airflow_provider_ttm.hooks.retrying import call_with_retries
from airflow_provider_ttm.hooks.transport import SyncTransport

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_ttm.api.retry import RetryLog
    from airflow_provider_ttm.connection_settings import ConnectionSettings

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
_PREVIEW_CHARS = 60


class _Cancelled(Exception):
    """The batch stopped before this item was sent."""


class BatchRunner(Generic[ItemT, ResultT]):
    """Calls ``call(transport, item)`` for every item, at most ``max_concurrency`` at a time.

    :param settings: the connection's settings, for the per-thread transports and retry waits.
    :param log: where item retries are logged.
    :param call: sends one item over the given transport and returns its result.
    :param max_concurrency: the most calls in flight at once.
    :param retries: the most extra attempts of an item whose failure may pass (429, 5xx, network, a
        garbled reply), within the connection's ``max_attempts``: an item is tried at most
        ``min(max_attempts, retries + 1)`` times in all. Other failures stop the batch at once.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        log: RetryLog,
        call: Callable[[SyncTransport, ItemT], ResultT],
        *,
        max_concurrency: int,
        retries: int,
    ) -> None:
        self.settings = settings
        #: What the per-thread transports are built from: one attempt each, retried here only.
        self.once = dataclasses.replace(settings, retry=dataclasses.replace(settings.retry, max_attempts=1))
        self.log = log
        self.call = call
        self.max_concurrency = max_concurrency
        self.retries = retries
        #: The attempts of one item in all: the connection's ``max_attempts``, capped by ``retries``.
        self.attempts = min(settings.retry.max_attempts, retries + 1)
        self.retried = 0
        self._local = threading.local()
        self._transports: list[SyncTransport] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, items: Sequence[ItemT]) -> list[ResultT]:
        """Results of every item, in the items' order.

        :raises TuneTheModelBatchItemError: naming the first item that failed for good.
        """
        results: list[ResultT] = []
        if not items:
            return results
        workers = max(1, min(self.max_concurrency, len(items)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ttm-batch")
        try:
            futures = [pool.submit(self._attempts, index, item) for index, item in enumerate(items)]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            if pending or any(future.exception() is not None for future in done):
                self._stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise _first_failure(futures)
            results = [future.result() for future in futures]
        finally:
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for transport in self._transports:
                transport.close()
        return results

    def _transport(self) -> SyncTransport:
        transport: SyncTransport | None = getattr(self._local, "transport", None)
        if transport is None:
            transport = SyncTransport(self.once, self.log)
            self._local.transport = transport
            with self._lock:
                self._transports.append(transport)
        return transport

    def _attempts(self, index: int, item: ItemT) -> ResultT:
        label = f"Input {index} ({shown(item, _PREVIEW_CHARS)})"
        retries = Retries(self.settings.retry, label, self.log, max_attempts=self.attempts)
        try:
            return call_with_retries(lambda: self._call(item), retries)
        except TuneTheModelError as error:
            self._stop.set()  # before this worker can pick up another item
            tries = f" after {retries.attempt} attempts" if retries.attempt > 1 else ""
            raise TuneTheModelBatchItemError(f"{label} failed{tries}: {error}", index=index) from error
        finally:
            with self._lock:
                self.retried += retries.attempt - 1

    def _call(self, item: ItemT) -> ResultT:
        if self._stop.is_set():
            raise _Cancelled
        return self.call(self._transport(), item)


def _first_failure(futures: list[Future[Any]]) -> BaseException:
    """The first failure in input order, skipping the items that were stopped because of it."""
    errors = [future.exception() for future in futures if not future.cancelled()]
    return next(error for error in errors if error is not None and not isinstance(error, _Cancelled))
