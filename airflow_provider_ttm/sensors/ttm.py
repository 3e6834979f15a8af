"""``TuneTheModelModelReadySensor``: waits until a model is Ready."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseSensorOperator,
    PokeReturnValue,
)
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.waiting import StatusWatch, WaitOutcome
from airflow_provider_ttm.arguments import flag, poll_interval_seconds, positive_seconds
from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelFitFailedError
from airflow_provider_ttm.operators.base import TuneTheModelDeferrableOperator, ready_model
from airflow_provider_ttm.version_compat import (
    START_FROM_TRIGGER_SUPPORTED,
    first_reschedule_date,
    task_state_store,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.version_compat import TaskStateStore

#: The ``task_state_store`` key of what a reschedule-mode wait remembers between its pokes.
WAIT_STATE_KEY = "ttm_sensor_wait"


class TuneTheModelModelReadySensor(TuneTheModelDeferrableOperator, BaseSensorOperator):
    """Wait until a model is Ready; fail at once if its training failed.

    Returns the model's record (a dict) as XCom. Works in ``poke``, ``reschedule`` and deferrable
    mode; in deferrable mode the wait runs in the triggerer and holds no worker slot. A failed fit
    raises an ``AirflowFailException`` subclass, so ``soft_fail`` skips instead, as for a timeout.

    A status is logged when it changes, and ``max_consecutive_errors`` counts failed checks in a
    row, in every mode (a check is one status request, tried at most the connection's
    ``max_attempts`` times in all; the next check is a new request, ``poke_interval`` later): in ``reschedule`` mode both are kept in ``task_state_store`` between pokes
    (Airflow 3.3+); on older Airflow a failed check is retried within the same poke instead.
    See ``docs/waiting.md``.

    Besides these, it takes the arguments of
    :class:`~airflow_provider_ttm.operators.base.TuneTheModelDeferrableOperator` and
    :class:`~airflow_provider_ttm.operators.base.TuneTheModelBaseOperator`.

    :param model_name: the model's id. (templated)
    :param strict: fail on a status this provider does not know, instead of waiting on.
    :param start_from_trigger: with ``deferrable=True``, run the whole wait in the triggerer: it
        starts there and the trigger ends the task, so no worker runs it unless the wait times out
        (Airflow 3.3+, unmapped tasks; elsewhere the task defers from a worker as usual and logs
        why). ``model_name`` must then be a string, literal or Jinja (the triggerer renders it), and
        the wait's end is Airflow's trigger timeout (``timeout``, or ``execution_timeout`` when it
        comes first), which fails as a sensor timeout. See ``docs/deferrable.md``.

    ``poke_interval`` is the time between status checks in every mode (at least 0.05 s), and
    ``timeout`` bounds the whole wait, as for any sensor; while deferred, the task's
    ``execution_timeout`` also ends the wait, whichever comes first.
    """

    template_fields: Sequence[str] = ("model_name", "ttm_conn_id")

    def __init__(
        self, *, model_name: str, strict: bool = False, start_from_trigger: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("poke_interval", 60.0)
        # Checked before BaseSensorOperator as well: it refuses some bad values with other errors
        # (inf: OverflowError; Airflow 2.11, a negative one: AirflowException), and every Airflow
        # should raise the same ValueError.
        self._check_durations(kwargs)
        super().__init__(**kwargs)
        self._check_durations(vars(self))  # also what default_args set
        flag("soft_fail", self.soft_fail)  # Airflow reads any truthy value, such as "no", as True
        flag("exponential_backoff", self.exponential_backoff)
        self.model_name = model_name
        self.strict = flag("strict", strict)
        self.start_from_trigger_requested = flag("start_from_trigger", start_from_trigger)
        if self.start_from_trigger_requested:
            self._set_up_start_from_trigger()
        self._watch: StatusWatch | None = None
        self._store: TaskStateStore | None = None
        self._stored: dict[str, Any] | None = None

    @property
    def skips_failures(self) -> bool:
        """Whether a failed fit or the end of the wait skips the task (``soft_fail`` or ``never_fail``)."""
        return bool(self.soft_fail or getattr(self, "never_fail", False))

    @staticmethod
    def _check_durations(values: dict[str, Any]) -> None:
        poll_interval_seconds("poke_interval", values["poke_interval"])
        for name in ("timeout", "max_wait"):
            if values.get(name) is not None:
                positive_seconds(name, values[name])

    def check_arguments(self) -> None:
        """Check ``model_name`` and ``ttm_conn_id`` (rendered)."""
        endpoints.validate_model_name(self.model_name)
        super().check_arguments()

    def _set_up_start_from_trigger(self) -> None:
        """Refuse what cannot start in the triggerer; where Airflow can, set the task up to start there.

        Airflow reads ``start_from_trigger`` and ``start_trigger_args`` from the serialized task: the
        trigger's arguments are fixed when the DAG is parsed, and the triggerer renders those named
        in ``template_fields`` (``model_name``, ``ttm_conn_id``). The trigger also ends the task
        (``end_from_trigger``): Ready succeeds it with the model's record as XCom, a failed fit or a
        wait that cannot go on fails it (skips it on a failed fit with ``soft_fail``). Without a
        deadline of its own, the trigger runs until Airflow's trigger timeout (``timeout``), which
        the sensor fails on a worker as a sensor timeout. The connection's key is never among the
        arguments.
        """
        if not self.deferrable:
            raise ValueError("start_from_trigger=True needs deferrable=True: the wait runs in the triggerer.")
        for name in ("model_name", "ttm_conn_id"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(
                    f"start_from_trigger=True needs {name} as a string, literal or Jinja (for instance "
                    "\"{{ ti.xcom_pull(task_ids='create', map_indexes=-1) }}\"): the triggerer renders "
                    f"templates, not a {type(getattr(self, name)).__name__} such as another task's .output."
                )
        if "xcom_pull" in self.model_name and "map_indexes" not in self.model_name:
            # Without map_indexes, xcom_pull asks for every map index (GetXComSequenceSlice), which
            # Airflow 3.3's triggerer does not answer: the rendering, and so the wait, would hang.
            raise ValueError(
                "start_from_trigger=True needs xcom_pull in model_name to name its map index, for "
                "instance \"{{ ti.xcom_pull(task_ids='create', map_indexes=-1) }}\": the triggerer "
                "cannot pull the XComs of every map index."
            )
        if not START_FROM_TRIGGER_SUPPORTED:
            return
        trigger = self.status_trigger(self.model_name, poll_interval=self.poke_interval, strict=self.strict)
        trigger_cls, trigger_kwargs = trigger.serialize()
        # The trigger ends the task too: no worker runs it at all (execute_complete's work, done there).
        trigger_kwargs.update(
            end_from_trigger=True,
            skip_on_failure=self.skips_failures,
            do_xcom_push=flag("do_xcom_push", self.do_xcom_push),
        )
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=trigger_cls,
            trigger_kwargs=trigger_kwargs,
            next_method="execute_complete",
            next_kwargs=None,
            timeout=timedelta(seconds=self.timeout),
        )
        self.start_from_trigger = True

    def _log_why_not_started_from_trigger(self, context: Context) -> None:
        if not START_FROM_TRIGGER_SUPPORTED:
            reason = "this Airflow does not start tasks in the triggerer (3.3+ does)"
        elif getattr(context["ti"], "map_index", -1) not in (None, -1):
            reason = "Airflow starts a mapped task on a worker (apache/airflow issue 48009)"
        else:
            reason = "this run did not go through the scheduler (for instance `airflow dags test`)"
        self.log.info(
            "start_from_trigger: the task started on a worker, since %s; deferring from here.", reason
        )

    def execute(self, context: Context) -> Any:
        """Check once; when not Ready yet, wait by poking or by deferring to the triggerer."""
        self.check_arguments()
        if not self.deferrable:
            return super().execute(context)
        if self.start_from_trigger_requested:
            self._log_why_not_started_from_trigger(context)
        try:
            checked = self.poke(context)
        except TuneTheModelFitFailedError as error:
            # BaseSensorOperator.execute would skip it; this execute replaces that one.
            if self.skips_failures:
                raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
            raise
        if checked:
            return checked.xcom_value
        self.log.info("Model %s is not Ready yet; deferring the wait to the triggerer.", self.model_name)
        self.defer_wait(
            context, self._resume_watch(context), poll_interval=self.poke_interval, wait_timeout=self.timeout
        )

    def poke(self, context: Context) -> PokeReturnValue:
        """Read the model's status once; log it when it changed.

        In ``reschedule`` mode without a ``task_state_store`` (Airflow before 3.3), a transient
        failure is checked again here, after ``poke_interval``, since the count would not outlive
        the reschedule.
        """
        watch = self._resume_watch(context)
        while True:
            try:
                record = self.hook.get_model(self.model_name)
            except TuneTheModelError as error:
                warning = watch.failed_check(error, retryable=error.retryable)
                if warning is None:
                    seen = f" ({watch.errors_in_a_row} failed checks in a row)" if error.retryable else ""
                    raise TuneTheModelError(
                        f"Status check of model {self.model_name} failed{seen}: {error}"
                    ) from error
                self.log.warning(warning)
                if self.reschedule and self._store is None:
                    time.sleep(self.poke_interval)
                    continue
                self._remember(context)
                return PokeReturnValue(is_done=False)
            break
        outcome, message = watch.observe(record, time.time())
        self._remember(context)
        if message:
            self.log.info(message)
        if outcome is WaitOutcome.FAILED:
            raise TuneTheModelFitFailedError(message or f"Model {self.model_name} is {record.status}.")
        ready = outcome is WaitOutcome.READY
        return PokeReturnValue(is_done=ready, xcom_value=record.to_dict() if ready else None)

    def _resume_watch(self, context: Context) -> StatusWatch:
        """The wait's watch; in ``reschedule`` mode, with what earlier pokes of this try remembered."""
        if self._watch is not None:
            return self._watch
        self._watch = StatusWatch(
            self.model_name,
            started_at=self._wait_started_at(context),
            strict=self.strict,
            max_consecutive_errors=self.max_consecutive_errors,
        )
        self._store = task_state_store(context) if self.reschedule else None
        if self._store is not None:
            saved = self._store.get(WAIT_STATE_KEY)
            if isinstance(saved, dict) and saved.get("try_number") == context["ti"].try_number:
                self._stored = saved
                errors = saved.get("errors_in_a_row")
                self._watch.errors_in_a_row = errors if isinstance(errors, int) and errors >= 0 else 0
                status = saved.get("last_status")
                self._watch.last_status = status if isinstance(status, str) else None
        return self._watch

    def _remember(self, context: Context) -> None:
        """Keep the error count and last status for the next poke of this try (``reschedule`` mode)."""
        if self._store is None or self._watch is None:
            return
        state = {
            "try_number": context["ti"].try_number,
            "errors_in_a_row": self._watch.errors_in_a_row,
            "last_status": self._watch.last_status,
        }
        if state != self._stored:
            self._store.set(WAIT_STATE_KEY, state)
            self._stored = state

    def _wait_started_at(self, context: Context) -> float:
        if self.reschedule:
            first_poke = first_reschedule_date(context)
            if first_poke is not None:
                return float(first_poke.timestamp())
        return time.time()

    def execute_complete(
        self, context: Context, event: dict[str, Any], deadline_set_by: str | None = None
    ) -> dict[str, Any]:
        """After the trigger's event (see ``defer_wait``): the model's record if it is Ready, else raise.

        ``soft_fail`` skips when ``execution_timeout`` ended the wait, as it does in ``poke`` mode
        (Airflow's ``AirflowTaskTimeout`` is no ``AirflowException``, so Airflow would not).
        """
        try:
            model = ready_model(event, self.model_name, deadline_set_by=deadline_set_by)
        except AirflowTaskTimeout as error:
            if self.skips_failures:
                raise AirflowSkipException(f"Skipping due to soft_fail: {error}") from error
            raise
        self.log.info("Model %s is Ready.", self.model_name)
        return model
