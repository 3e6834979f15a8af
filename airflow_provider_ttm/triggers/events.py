"""Reading the status trigger's event: on the worker side (``execute_complete``), or in the
triggerer when the trigger ends the task itself (``task_end_event``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import XCOM_RETURN_KEY
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTaskEndEvent


def model_from_event(event: object, model_name: str | None = None) -> dict[str, Any]:
    """Return the Ready model's record carried by a trigger event, or raise what the event means.

    Only the event is trusted: anything that is not a well-formed event about ``model_name`` is
    refused.

    :param event: the event payload the trigger yielded.
    :param model_name: the model the task waited on, when the task knows it.
    :raises TuneTheModelFitFailedError: the model's training failed.
    :raises TuneTheModelWaitTimeoutError: the deadline passed first.
    :raises TuneTheModelError: the wait could not go on, or the event is malformed.
    """
    if not isinstance(event, dict) or not isinstance(event.get("model_name"), str):
        raise TuneTheModelError(f"Unexpected trigger event: {event!r}")
    if model_name is not None and event["model_name"] != model_name:
        raise TuneTheModelError(f"Trigger event is about model {event['model_name']}, not {model_name}.")
    status, message = event.get("status"), str(event.get("message", ""))
    model = event.get("model")
    if status == "success" and isinstance(model, dict) and model.get("model_name") == event["model_name"]:
        return model
    if status == "failed":
        raise TuneTheModelFitFailedError(message)
    if status == "timeout":
        raise TuneTheModelWaitTimeoutError(message)
    if status == "error":
        raise TuneTheModelError(message)
    raise TuneTheModelError(f"Unexpected trigger event: {event!r}")


def task_end_event(payload: dict[str, Any], *, skip_on_failure: bool, do_xcom_push: bool) -> BaseTaskEndEvent:
    """The event that ends the task from the triggerer, read from the payload as a worker reads it.

    Ready: ``TaskSuccessEvent`` whose ``return_value`` XCom is the model's record, as
    ``execute_complete`` returns it (none without ``do_xcom_push``). Any other end:
    ``TaskFailedEvent``, or ``TaskSkippedEvent`` with ``skip_on_failure`` when the training failed
    or the deadline passed (the ends a sensor's ``soft_fail`` skips).

    :param payload: the payload the trigger would yield for a worker to read.
    :param skip_on_failure: skip the task, instead of failing it, on a failed fit or the deadline.
    :param do_xcom_push: push the model's record as the task's ``return_value``.
    """
    try:
        model = model_from_event(payload)
    except (TuneTheModelFitFailedError, TuneTheModelWaitTimeoutError):
        return TaskSkippedEvent() if skip_on_failure else TaskFailedEvent()
    except TuneTheModelError:
        return TaskFailedEvent()
    return TaskSuccessEvent(xcoms={XCOM_RETURN_KEY: model} if do_xcom_push else None)
