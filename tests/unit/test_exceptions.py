"""The exception hierarchy: plain API errors, Airflow's kinds at the edge, retryable flags and data."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
)

from airflow_provider_ttm.exceptions import (
    TuneTheModelApiError,
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelConnectionConfigError,
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelRetryableApiError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
    TuneTheModelWaitTimeoutError,
)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (TuneTheModelError("x"), False),
        (TuneTheModelConnectionConfigError("x"), False),
        (TuneTheModelTransportError("x", sent=True), True),
        (TuneTheModelApiError("x", status_code=418), False),
        (TuneTheModelAuthenticationError("x", status_code=401), False),
        (TuneTheModelNotFoundError("x", status_code=404), False),
        (TuneTheModelBadRequestError("x", status_code=400), False),
        (TuneTheModelMalformedResponseError("x", status_code=200), True),
        (TuneTheModelMalformedResponseError("x", status_code=200, retryable=False), False),
        (TuneTheModelRateLimitedError("x", status_code=429), True),
        (TuneTheModelServerError("x", status_code=503), True),
        (TuneTheModelFitFailedError("x"), False),
        (TuneTheModelWaitTimeoutError("x"), False),
    ],
)
def test_every_error_has_its_retryable_flag(error: TuneTheModelError, retryable: bool) -> None:
    assert isinstance(error, TuneTheModelError)
    assert error.retryable is retryable
    assert str(error) == "x"


def test_the_api_errors_are_plain_exceptions_and_only_the_edge_ones_are_airflow_kinds() -> None:
    assert not issubclass(TuneTheModelError, AirflowException)
    assert TuneTheModelError.__mro__[1] is Exception
    assert issubclass(TuneTheModelFitFailedError, AirflowException)
    assert issubclass(TuneTheModelWaitTimeoutError, AirflowException)


def test_api_errors_keep_the_status_code() -> None:
    error = TuneTheModelNotFoundError("gone", status_code=404)

    assert error.status_code == 404
    assert isinstance(error, TuneTheModelApiError)


def test_retryable_api_errors_keep_retry_after() -> None:
    assert TuneTheModelServerError("x", status_code=503, retry_after=4.5).retry_after == 4.5
    assert TuneTheModelRateLimitedError("x", status_code=429).retry_after is None
    assert issubclass(TuneTheModelRateLimitedError, TuneTheModelRetryableApiError)
    assert issubclass(TuneTheModelServerError, TuneTheModelRetryableApiError)


@pytest.mark.parametrize("sent", [True, False])
def test_transport_error_says_whether_the_request_may_have_been_sent(sent: bool) -> None:
    assert TuneTheModelTransportError("x", sent=sent).sent is sent


def test_a_failed_fit_fails_the_task_without_retries() -> None:
    assert issubclass(TuneTheModelFitFailedError, AirflowFailException)


def test_a_wait_timeout_is_a_sensor_timeout() -> None:
    assert issubclass(TuneTheModelWaitTimeoutError, AirflowSensorTimeout)
