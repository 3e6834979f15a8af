"""What the provider's operators share: the connection, argument checks, and waiting until a model is Ready."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowTaskTimeout, BaseOperator, conf, get_current_context

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.waiting import StatusWatch
from airflow_provider_ttm.arguments import check_conn_id, flag, poll_interval_seconds, positive_seconds
from airflow_provider_ttm.exceptions import TuneTheModelWaitTimeoutError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.events import model_from_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

DEFAULT_POLL_INTERVAL = 60.0
DEFAULT_WAIT_TIMEOUT = timedelta(hours=24)
#: Airflow's own timeout of a deferral falls this long after the trigger's deadline: a backstop for
#: a triggerer that cannot run the trigger, late enough that the trigger's own event comes first.
DEFER_TIMEOUT_GRACE = timedelta(seconds=30)
#: ``deadline_set_by`` of a deferred wait whose deadline the task's ``execution_timeout`` set.
EXECUTION_TIMEOUT = "execution_timeout"
_MAX_DEFAULT_NAME = 200


class TuneTheModelBaseOperator(BaseOperator):
    """Base of the provider's operators and sensor: the connection id and a hook made on first use.

    ``__init__`` keeps each template field exactly as given, as Airflow's provider rules ask (it is
    rendered after ``__init__``); subclasses check them, rendered, in ``check_arguments``, called
    first thing in ``execute``, before any request. Other arguments are checked in ``__init__``.

    :param ttm_conn_id: the Airflow connection to use. (templated)
    """

    def __init__(self, *, ttm_conn_id: str = TuneTheModelHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttm_conn_id = ttm_conn_id

    def check_arguments(self) -> None:
        """Raise a ValueError naming the first bad template field (rendered, in ``execute``)."""
        check_conn_id(self.ttm_conn_id)

    @cached_property
    def hook(self) -> TuneTheModelHook:
        """The hook of ``ttm_conn_id``."""
        return TuneTheModelHook(ttm_conn_id=self.ttm_conn_id)


class TuneTheModelDeferrableOperator(TuneTheModelBaseOperator):
    """Base of the tasks that wait on a model and can defer the wait to the triggerer.

    The sensor and the operators that wait for Ready take these arguments, and defer to
    ``TuneTheModelModelStatusTrigger`` with ``defer_wait``.

    :param deferrable: wait in the triggerer, holding no worker slot (default from
        ``[operators] default_deferrable``).
    :param max_consecutive_errors: transient status-check failures in a row tolerated before the
        wait fails: by the sensor in every mode, by an operator while deferred. Each check is one
        request, tried at most ``max_attempts`` times in all (the connection's); checks are one
        poll interval apart, so this counts checks, not attempts.
    :param coalesce: while deferred, share one list request per interval with the other waits on
        this connection in the triggerer (default); False polls this model's status endpoint alone.
    """

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_consecutive_errors: int = 5,
        coalesce: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = flag("deferrable", deferrable)
        self.max_consecutive_errors = endpoints.whole_number(
            "max_consecutive_errors", max_consecutive_errors, minimum=0
        )
        self.coalesce = flag("coalesce", coalesce)

    def status_trigger(
        self,
        model_name: str,
        *,
        poll_interval: float,
        strict: bool,
        watch: StatusWatch | None = None,
        deadline: float | None = None,
    ) -> TuneTheModelModelStatusTrigger:
        """The trigger that waits until ``model_name`` is Ready, on this task's connection and settings.

        :param model_name: the model's id (or a template the triggerer renders).
        :param poll_interval: seconds between status checks.
        :param strict: fail on a status this provider does not know instead of waiting on.
        :param watch: the wait so far (its start, failed checks in a row), when a worker began it.
        :param deadline: when to give up (seconds since the epoch), or None.
        """
        from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

        return TuneTheModelModelStatusTrigger(
            ttm_conn_id=self.ttm_conn_id,
            model_name=model_name,
            poll_interval=poll_interval,
            deadline=deadline,
            max_consecutive_errors=self.max_consecutive_errors,
            strict=strict,
            started_at=None if watch is None else watch.started_at,
            coalesce=self.coalesce,
            errors_in_a_row=0 if watch is None else watch.errors_in_a_row,
        )

    def defer_wait(
        self, context: Context, watch: StatusWatch, *, poll_interval: float, wait_timeout: float
    ) -> NoReturn:
        """Defer to a status trigger until the model is Ready.

        The task resumes in ``execute_complete(context, event, deadline_set_by)``, which reads the
        event with :func:`ready_model`. The trigger's deadline is the earlier of now +
        ``wait_timeout`` and :func:`execution_deadline`; when it is the latter, ``deadline_set_by``
        is ``"execution_timeout"``, so the end of the wait fails as a task timeout.

        :param context: the task's context.
        :param watch: the wait so far: its model, start, strictness and failed checks in a row.
        :param poll_interval: seconds between status checks.
        :param wait_timeout: the wait's own timeout in seconds.
        """
        now = time.time()
        deadline, set_by = now + wait_timeout, "timeout"
        limit = execution_deadline(self, context)
        if limit is not None and limit < deadline:
            deadline, set_by = limit, EXECUTION_TIMEOUT
        if deadline <= now:
            raise AirflowTaskTimeout(
                f"The execution_timeout of {self.execution_timeout} passed before the wait on model "
                f"{watch.model_name} could be deferred."
            )
        self.defer(
            trigger=self.status_trigger(
                watch.model_name,
                poll_interval=poll_interval,
                strict=watch.strict,
                watch=watch,
                deadline=deadline,
            ),
            method_name="execute_complete",
            kwargs={"deadline_set_by": set_by},
            timeout=timedelta(seconds=deadline - now) + DEFER_TIMEOUT_GRACE,
        )


class TuneTheModelWaitingOperator(TuneTheModelDeferrableOperator):
    """Base of the operators that can wait until a model is Ready, in the worker or the triggerer.

    Besides these, it takes the arguments of :class:`TuneTheModelDeferrableOperator` and
    :class:`TuneTheModelBaseOperator`.

    :param wait_for_ready: wait until the model is Ready before finishing.
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: how long to wait for Ready (seconds or ``timedelta``); while deferred, the
        task's ``execution_timeout`` also ends the wait, whichever comes first.
    """

    def __init__(
        self,
        *,
        wait_for_ready: bool = False,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_ready = flag("wait_for_ready", wait_for_ready)
        self.poll_interval = poll_interval_seconds("poll_interval", poll_interval)
        self.wait_timeout = positive_seconds("timeout", timeout)

    def wait_until_ready(self, model_name: str, context: Context | None = None) -> None:
        """Return once the model is Ready; when deferrable, defer to ``execute_complete`` instead.

        :param model_name: the model's id.
        :param context: the task's context (by default the running task's own), whose
            ``execution_timeout`` also bounds a deferred wait.
        """
        if self.deferrable:
            context = context if context is not None else get_current_context()
            self.log.info("Deferring: model %s is waited on in the triggerer.", model_name)
            watch = StatusWatch(
                model_name, started_at=time.time(), max_consecutive_errors=self.max_consecutive_errors
            )
            self.defer_wait(context, watch, poll_interval=self.poll_interval, wait_timeout=self.wait_timeout)
        self.hook.wait_for_model(model_name, poll_interval=self.poll_interval, timeout=self.wait_timeout)


def execution_deadline(task: BaseOperator, context: Context) -> float | None:
    """When the task's ``execution_timeout`` ends this try (seconds since the epoch), or None.

    Measured from the task instance's ``start_date`` (the start of this try). Airflow 3 does not
    apply ``execution_timeout`` to a deferred task, so the wait must.
    """
    if task.execution_timeout is None:
        return None
    start_date = getattr(context["ti"], "start_date", None)
    started = start_date.timestamp() if start_date is not None else time.time()
    return started + task.execution_timeout.total_seconds()


def ready_model(
    event: object, model_name: str | None = None, *, deadline_set_by: str | None = None
) -> dict[str, Any]:
    """The Ready model's record carried by a trigger event, or raise what the event means.

    As ``model_from_event``, except that a timeout of a wait whose deadline ``execution_timeout``
    set raises ``AirflowTaskTimeout``, as ``execution_timeout`` does in a running task (retries
    apply to it, unlike to a wait timeout).

    :param event: the event payload the trigger yielded.
    :param model_name: the model the task waited on, when the task knows it.
    :param deadline_set_by: what set the wait's deadline, as ``defer_wait`` passed it.
    """
    try:
        return model_from_event(event, model_name)
    except TuneTheModelWaitTimeoutError as error:
        if deadline_set_by != EXECUTION_TIMEOUT:
            raise
        raise AirflowTaskTimeout(
            f"The task's execution_timeout passed while it was deferred: {error}"
        ) from error


def default_model_name(context: Context) -> str:
    """``<dag_id>.<task_id>.<run_id>[.<map_index>]``: unique per task instance, stable across tries."""
    ti = context["ti"]
    parts = [ti.dag_id, ti.task_id, ti.run_id]
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        parts.append(str(map_index))
    return ".".join(parts)[:_MAX_DEFAULT_NAME]
