"""What the provider's operators share: the connection, and waiting until a model is Ready."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.arguments import positive_seconds
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

DEFAULT_POLL_INTERVAL = 60.0
DEFAULT_WAIT_TIMEOUT = timedelta(hours=24)
_MAX_DEFAULT_NAME = 200


class TuneTheModelBaseOperator(BaseOperator):
    """Base of the provider's operators: the connection id and a hook made on first use.

    :param ttm_conn_id: the Airflow connection to use. (templated)
    """

    def __init__(self, *, ttm_conn_id: str = TuneTheModelHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttm_conn_id = ttm_conn_id

    @cached_property
    def hook(self) -> TuneTheModelHook:
        """The hook of ``ttm_conn_id``."""
        return TuneTheModelHook(ttm_conn_id=self.ttm_conn_id)


class TuneTheModelWaitingOperator(TuneTheModelBaseOperator):
    """Base of the operators that can wait until a model is Ready, in the worker or the triggerer.

    :param wait_for_ready: wait until the model is Ready before finishing.
    :param deferrable: wait in the triggerer, holding no worker slot (default from
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: how long to wait for Ready (seconds or ``timedelta``).
    :param max_consecutive_errors: transient status-check failures in a row tolerated while waiting.
    :param coalesce: while deferred, share one list request per interval with the other waits on
        this connection in the triggerer (default); False polls this model's status endpoint alone.
    """

    def __init__(
        self,
        *,
        wait_for_ready: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        max_consecutive_errors: int = 5,
        coalesce: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_ready = wait_for_ready
        self.deferrable = deferrable
        self.poll_interval = positive_seconds("poll_interval", poll_interval)
        self.wait_timeout = positive_seconds("timeout", timeout)
        self.max_consecutive_errors = endpoints.whole_number(
            "max_consecutive_errors", max_consecutive_errors, minimum=0
        )
        self.coalesce = coalesce

    def wait_until_ready(self, model_name: str) -> None:
        """Return once the model is Ready; when deferrable, defer to ``execute_complete`` instead."""
        if self.deferrable:
            from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

            self.log.info("Deferring: model %s is waited on in the triggerer.", model_name)
            self.defer(
                trigger=TuneTheModelModelStatusTrigger(
                    ttm_conn_id=self.ttm_conn_id,
                    model_name=model_name,
                    poll_interval=self.poll_interval,
                    deadline=time.time() + self.wait_timeout,
                    max_consecutive_errors=self.max_consecutive_errors,
                    started_at=time.time(),
                    coalesce=self.coalesce,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout),
            )
        self.hook.wait_for_model(model_name, poll_interval=self.poll_interval, timeout=self.wait_timeout)


def default_model_name(context: Context) -> str:
    """``<dag_id>.<task_id>.<run_id>[.<map_index>]``: unique per task instance, stable across tries."""
    ti = context["ti"]
    parts = [ti.dag_id, ti.task_id, ti.run_id]
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    return ".".join(parts)[:_MAX_DEFAULT_NAME]
