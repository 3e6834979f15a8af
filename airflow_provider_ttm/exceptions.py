"""Exceptions raised by the Tune The Model provider: the one module to import them from.

The API's errors are plain exceptions defined in ``api/errors.py`` (Airflow fails a task on any
exception, and retries it when the task allows). Two failures are Airflow's own kinds, made here at
the edge: a failed fit (``AirflowFailException``: no task retry can mend it) and a wait that ran out
of time (``AirflowSensorTimeout``: ``soft_fail`` skips it).
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

from airflow_provider_ttm.api.errors import (
    TuneTheModelApiError,
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelBatchItemError,
    TuneTheModelConnectionConfigError,
    TuneTheModelError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelReplyTooLargeError,
    TuneTheModelRetryableApiError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
)

__all__ = [
    "TuneTheModelApiError",
    "TuneTheModelAuthenticationError",
    "TuneTheModelBadRequestError",
    "TuneTheModelBatchItemError",
    "TuneTheModelConnectionConfigError",
    "TuneTheModelError",
    "TuneTheModelFitFailedError",
    "TuneTheModelMalformedResponseError",
    "TuneTheModelNotFoundError",
    "TuneTheModelRateLimitedError",
    "TuneTheModelReplyTooLargeError",
    "TuneTheModelRetryableApiError",
    "TuneTheModelServerError",
    "TuneTheModelTransportError",
    "TuneTheModelWaitTimeoutError",
]


class TuneTheModelFitFailedError(TuneTheModelError, AirflowFailException):
    """The model's training ended in ``FitFailed``; retrying the task cannot change that."""


class TuneTheModelWaitTimeoutError(TuneTheModelError, AirflowSensorTimeout):
    """The model did not become Ready within the time the task allowed."""
