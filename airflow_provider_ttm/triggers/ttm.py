"""``TuneTheModelModelStatusTrigger``: waits in the triggerer until a model is Ready or failed."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_ttm import arguments
from airflow_provider_ttm.api.endpoints import validate_model_name, whole_number
from airflow_provider_ttm.api.waiting import StatusWatch, WaitOutcome
from airflow_provider_ttm.exceptions import TuneTheModelError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.kill import TRIGGER_KILL_SECONDS, abounded, astop_training, kill_verdict
from airflow_provider_ttm.triggers.events import task_end_event
from airflow_provider_ttm.triggers.poller import open_status_feed
from airflow_provider_ttm.version_compat import task_instance_state

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_ttm.api.records import ModelRecord
    from airflow_provider_ttm.triggers.poller import StatusFeed

EVENT_STATUSES = ("success", "failed", "timeout", "error")
#: Where Airflow finds the trigger when it loads one stored in its database. Written out, not
#: derived from where the class is defined: moving the class must not orphan the triggers that
#: deferred tasks already stored (if it moves, keep this path importable).
CLASSPATH = "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"


class TuneTheModelModelStatusTrigger(BaseTrigger):
    """Polls a model's status until it is Ready, has failed, or the deadline passes.

    Stateless: everything it needs is in its arguments, so it can be re-run on any triggerer.
    It yields one event ``{"status", "model_name", "model_status", "message"}`` (plus ``"model"``,
    the model record, on success), where status is ``success``, ``failed``, ``timeout`` or
    ``error``. With ``end_from_trigger`` it ends the task itself instead, so no worker resumes it
    (see ``triggers.events.task_end_event``).

    By default the waits on one connection in a triggerer share one ``GET /v0/models`` per
    interval (see ``triggers.poller``); ``coalesce=False`` polls this model's status endpoint alone.

    :param ttm_conn_id: the Airflow connection to use (the key is read there, never serialized).
    :param model_name: the model's id.
    :param poll_interval: seconds between two status reads, at least 0.05.
    :param deadline: wall-clock time (seconds since the epoch) at which to give up, or None; at
        most ten years ahead. It bounds the whole wait, the first reading included.
    :param max_consecutive_errors: transient failures in a row tolerated before giving up.
    :param strict: fail on a status this provider does not know instead of waiting on.
    :param started_at: when the task's wait started (seconds since the epoch), for log lines.
    :param coalesce: share one list request per interval with the other waits on the connection.
    :param errors_in_a_row: transient failures in a row the task saw before deferring (they count
        toward ``max_consecutive_errors``).
    :param end_from_trigger: end the task from the triggerer: ``TaskSuccessEvent`` with the model's
        record as the ``return_value`` XCom when it is Ready, else ``TaskFailedEvent``, the reason
        in the trigger's log.
    :param skip_on_failure: with ``end_from_trigger``, ``TaskSkippedEvent`` instead of
        ``TaskFailedEvent`` when the training failed or the deadline passed (a sensor's ``soft_fail``).
    :param do_xcom_push: with ``end_from_trigger``, push the Ready model's record as XCom (a task's
        ``do_xcom_push``).
    :param delete_on_kill: the deferred task started this model's training in this try: when the
        user marks the task failed (Airflow 3.3+ runs ``on_kill``), delete the model unless it is
        Ready or FitFailed (see :mod:`airflow_provider_ttm.kill`). False (a sensor, a model the task
        did not start, a trigger stored by an earlier release) never deletes.
    """

    def __init__(
        self,
        ttm_conn_id: str,
        model_name: str,
        poll_interval: float = 60.0,
        deadline: float | None = None,
        max_consecutive_errors: int = 5,
        strict: bool = False,
        started_at: float | None = None,
        coalesce: bool = True,
        errors_in_a_row: int = 0,
        end_from_trigger: bool = False,
        skip_on_failure: bool = False,
        do_xcom_push: bool = True,
        delete_on_kill: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        # Kept as given and checked in run(), which ends a bad wait with an "error" event: the
        # triggerer builds this class from arguments a deferred task stored, maybe with an earlier
        # release, and a check tightened since must end that wait clearly, not fail to load it.
        self.ttm_conn_id = ttm_conn_id
        self.model_name = model_name
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.max_consecutive_errors = max_consecutive_errors
        self.strict = strict
        self.started_at = started_at
        self.coalesce = coalesce
        self.errors_in_a_row = errors_in_a_row
        self.end_from_trigger = end_from_trigger
        self.skip_on_failure = skip_on_failure
        self.do_xcom_push = do_xcom_push
        self.delete_on_kill = delete_on_kill

    def _check_arguments(self) -> None:
        """Check every argument (``run`` does it first), keeping each number as the check returns it.

        :raises ValueError: naming the first argument that is not as documented.
        """
        self.ttm_conn_id = arguments.text(
            "ttm_conn_id", self.ttm_conn_id, max_length=arguments.MAX_CONN_ID_LENGTH
        )
        validate_model_name(self.model_name)
        self.poll_interval = arguments.poll_interval_seconds("poll_interval", self.poll_interval)
        self.deadline = arguments.epoch_seconds("deadline", self.deadline)
        self.max_consecutive_errors = whole_number(
            "max_consecutive_errors", self.max_consecutive_errors, minimum=0
        )
        self.started_at = arguments.epoch_seconds("started_at", self.started_at)
        self.errors_in_a_row = whole_number("errors_in_a_row", self.errors_in_a_row, minimum=0)
        for name in (
            "strict",
            "coalesce",
            "end_from_trigger",
            "skip_on_failure",
            "do_xcom_push",
            "delete_on_kill",
        ):
            arguments.flag(name, getattr(self, name))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-primitive arguments (no secret: the key stays in the connection).

        The path is ``CLASSPATH``; a subclass's is its own (derived), or the triggerer would run
        this class in its place.
        """
        cls = type(self)
        return (
            CLASSPATH if cls is TuneTheModelModelStatusTrigger else f"{cls.__module__}.{cls.__qualname__}",
            {
                "ttm_conn_id": self.ttm_conn_id,
                "model_name": self.model_name,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "max_consecutive_errors": self.max_consecutive_errors,
                "strict": self.strict,
                "started_at": self.started_at,
                "coalesce": self.coalesce,
                "errors_in_a_row": self.errors_in_a_row,
                "end_from_trigger": self.end_from_trigger,
                "skip_on_failure": self.skip_on_failure,
                "do_xcom_push": self.do_xcom_push,
                "delete_on_kill": self.delete_on_kill,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until an end, then yield exactly one event; the feed is closed on every path first.

        The deadline bounds the whole wait, the first reading included, whatever the network does:
        a stalled reply, or a stalled list shared with other waits, cannot hold the event back.
        """
        try:
            self._check_arguments()
        except ValueError as error:
            yield self._event(
                self._payload("error", None, f"Cannot wait on model {self.model_name}: {error}")
            )
            return
        watch = StatusWatch(
            self.model_name,
            started_at=self.started_at or time.time(),
            strict=self.strict,
            max_consecutive_errors=self.max_consecutive_errors,
            errors_in_a_row=self.errors_in_a_row,
        )
        time_left = None if self.deadline is None else self.deadline - time.time()
        try:
            payload = await asyncio.wait_for(self._open_and_wait(watch), time_left)
        except TimeoutError:
            payload = self._payload(
                "timeout",
                watch.last_status,
                f"Model {self.model_name} was not Ready by the deadline (last status "
                f"{watch.last_status or 'unknown'}).",
            )
        yield self._event(payload)

    async def _open_and_wait(self, watch: StatusWatch) -> dict[str, Any]:
        try:
            feed = await open_status_feed(
                self.ttm_conn_id, self.model_name, self.poll_interval, coalesce=self.coalesce
            )
        except (TuneTheModelError, AirflowNotFoundException) as error:
            return self._payload("error", None, f"Cannot wait on model {self.model_name}: {error}")
        try:
            return await self._wait(feed, watch)
        finally:
            await feed.aclose()

    async def _wait(self, feed: StatusFeed, watch: StatusWatch) -> dict[str, Any]:
        while True:
            try:
                record = await feed.next_reading()
            except TuneTheModelError as error:
                warning = watch.failed_check(error, retryable=error.retryable)
                if warning is None:
                    seen = f" after {watch.errors_in_a_row} failed polls in a row" if error.retryable else ""
                    return self._payload("error", watch.last_status, f"Status check failed{seen}: {error}")
                self.log.warning(warning)
            else:
                outcome, message = watch.observe(record, time.time())
                if message:
                    self.log.info(message)
                if outcome is WaitOutcome.READY:
                    return self._payload(
                        "success", record.status, f"Model {self.model_name} is Ready.", record
                    )
                if outcome is WaitOutcome.FAILED:
                    return self._payload("failed", record.status, message or f"Model is {record.status}.")

    async def on_kill(self) -> None:
        """The user acted on the deferred task (Airflow 3.3+): stop its training if it was marked failed.

        Airflow does not say which action it was (mark failed, mark success or clear): the task
        instance's state, read now, does. Only a trigger whose task started the training in this
        try (``delete_on_kill``) deletes, only a model still training, all within
        ``TRIGGER_KILL_SECONDS``; what it did is logged, and nothing is raised.
        """
        if self.delete_on_kill is not True:
            self.log.info("Task killed; model %s was not started by it: kept.", self.model_name)
            return
        await abounded(
            self._stop_if_marked_failed(), TRIGGER_KILL_SECONDS, f"Stopping model {self.model_name}", self.log
        )

    async def _stop_if_marked_failed(self) -> None:
        ti = self.task_instance
        state = None
        try:
            if ti is not None:
                state = await asyncio.to_thread(
                    task_instance_state, ti.dag_id, ti.task_id, ti.run_id, ti.map_index
                )
        except Exception as error:  # unknown: keep the model
            self.log.warning("Could not read the task instance's state: %s", type(error).__name__)
        verdict = kill_verdict(timed_out=False, retry_follows=False, state=state)
        if not verdict.stop:
            self.log.info("Task killed: model %s is kept, as %s.", self.model_name, verdict.reason)
            return
        await astop_training(
            TuneTheModelHook(ttm_conn_id=self.ttm_conn_id), self.model_name, verdict.reason, self.log
        )

    def _payload(
        self, status: str, model_status: str | None, message: str, record: ModelRecord | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": status,
            "model_name": self.model_name,
            "model_status": model_status,
            "message": message,
        }
        if record is not None:
            payload["model"] = record.to_dict()
        return payload

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        """The payload for a worker to read, or, with ``end_from_trigger``, the event ending the task."""
        if self.end_from_trigger is not True:  # also when a stored value failed its check
            return TriggerEvent(payload)
        event = task_end_event(
            payload, skip_on_failure=self.skip_on_failure is True, do_xcom_push=self.do_xcom_push is not False
        )
        level = logging.INFO if payload["status"] == "success" else logging.ERROR
        self.log.log(level, "%s Ending the task from the triggerer: %s.", payload["message"], event.payload)
        return event
