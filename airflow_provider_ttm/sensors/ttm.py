"""``TuneTheModelModelReadySensor``: waits until a model is Ready."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.waiting import StatusWatch, WaitOutcome
from airflow_provider_ttm.arguments import is_resolved_later, positive_seconds
from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelFitFailedError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.events import model_from_event
from airflow_provider_ttm.version_compat import first_reschedule_date

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context


class TuneTheModelModelReadySensor(BaseSensorOperator):
    """Wait until a model is Ready; fail at once if its training failed.

    Returns the model's record (a dict) as XCom. Works in ``poke``, ``reschedule`` and deferrable
    mode; in deferrable mode the wait runs in the triggerer and holds no worker slot. A failed fit
    raises an ``AirflowFailException`` subclass, so ``soft_fail`` skips instead, as for a timeout.

    :param model_name: the model's id. (templated)
    :param deferrable: wait in the triggerer (default from ``[operators] default_deferrable``).
    :param strict: fail on a status this provider does not know, instead of waiting on.
    :param max_consecutive_errors: transient status-check failures in a row tolerated (each one
        after the hook's own retries) before the sensor fails.
    :param coalesce: while deferred, share one list request per interval with the other waits on
        this connection in the triggerer (default); False polls this model's status endpoint alone.
    :param ttm_conn_id: the Airflow connection to use. (templated)

    ``poke_interval`` is the time between status checks in every mode, and ``timeout`` bounds the
    whole wait, as for any sensor.
    """

    template_fields: Sequence[str] = ("model_name", "ttm_conn_id")

    def __init__(
        self,
        *,
        model_name: str,
        ttm_conn_id: str = TuneTheModelHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        strict: bool = False,
        max_consecutive_errors: int = 5,
        coalesce: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 60.0)
        # Checked before BaseSensorOperator as well: Airflow 2.11 refuses a negative value there with
        # a bare AirflowException, and every Airflow should raise the same ValueError.
        for name in ("poke_interval", "timeout"):
            if name in kwargs:
                positive_seconds(name, kwargs[name])
        super().__init__(**kwargs)
        positive_seconds("poke_interval", self.poke_interval)  # also what default_args set
        positive_seconds("timeout", self.timeout)
        self.model_name = model_name
        self.ttm_conn_id = ttm_conn_id
        self.deferrable = deferrable
        self.strict = strict
        self.coalesce = coalesce
        self.max_consecutive_errors = endpoints.whole_number(
            "max_consecutive_errors", max_consecutive_errors, minimum=0
        )
        if not is_resolved_later(model_name):
            endpoints.validate_model_name(model_name)
        self._watch: StatusWatch | None = None
        self._errors_in_a_row = 0

    @cached_property
    def hook(self) -> TuneTheModelHook:
        """The hook of ``ttm_conn_id``."""
        return TuneTheModelHook(ttm_conn_id=self.ttm_conn_id)

    def execute(self, context: Context) -> Any:
        """Check once; when not Ready yet, wait by poking or by deferring to the triggerer."""
        endpoints.validate_model_name(self.model_name)
        if not self.deferrable:
            return super().execute(context)
        checked = self.poke(context)
        if checked:
            return checked.xcom_value
        from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

        self.log.info("Model %s is not Ready yet; deferring the wait to the triggerer.", self.model_name)
        self.defer(
            trigger=TuneTheModelModelStatusTrigger(
                ttm_conn_id=self.ttm_conn_id,
                model_name=self.model_name,
                poll_interval=self.poke_interval,
                deadline=time.time() + self.timeout,
                max_consecutive_errors=self.max_consecutive_errors,
                strict=self.strict,
                started_at=self._watch.started_at if self._watch else None,
                coalesce=self.coalesce,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        """Read the model's status once; log it when it changed."""
        if self._watch is None:
            self._watch = StatusWatch(
                self.model_name, started_at=self._wait_started_at(context), strict=self.strict
            )
        try:
            record = self.hook.get_model(self.model_name)
        except TuneTheModelError as error:
            return self._tolerate(error)
        self._errors_in_a_row = 0
        outcome, message = self._watch.observe(record, time.time())
        if message:
            self.log.info(message)
        if outcome is WaitOutcome.FAILED:
            raise TuneTheModelFitFailedError(message or f"Model {self.model_name} is {record.status}.")
        ready = outcome is WaitOutcome.READY
        return PokeReturnValue(is_done=ready, xcom_value=record.to_dict() if ready else None)

    def _tolerate(self, error: TuneTheModelError) -> PokeReturnValue:
        """Count a failed status check; give up when it is not transient or too many came in a row."""
        self._errors_in_a_row += 1
        if not error.retryable or self._errors_in_a_row > self.max_consecutive_errors:
            seen = f" ({self._errors_in_a_row} failed checks in a row)" if error.retryable else ""
            raise TuneTheModelError(
                f"Status check of model {self.model_name} failed{seen}: {error}"
            ) from error
        self.log.warning(
            "Status check of model %s failed (%d in a row, %d tolerated): %s",
            self.model_name,
            self._errors_in_a_row,
            self.max_consecutive_errors,
            error,
        )
        return PokeReturnValue(is_done=False)

    def _wait_started_at(self, context: Context) -> float:
        if self.reschedule:
            first_poke = first_reschedule_date(context)
            if first_poke is not None:
                return float(first_poke.timestamp())
        return time.time()

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Finish after the trigger's event: the model's record if it is Ready, else raise."""
        model = model_from_event(event, self.model_name)
        self.log.info("Model %s is Ready.", self.model_name)
        return model
