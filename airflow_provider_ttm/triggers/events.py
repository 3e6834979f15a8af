"""Reading the status trigger's event on the worker side (``execute_complete``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)


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
