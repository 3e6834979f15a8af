"""The retry policy: full-jitter backoff, Retry-After, attempt limits, and no repeat of a maybe-done POST."""

from __future__ import annotations

import datetime as dt
import random
from email.utils import format_datetime

import pytest

from airflow_provider_ttm.api.replies import error_for_status
from airflow_provider_ttm.api.retry import Retries, RetryPolicy, may_have_taken_effect, parse_retry_after
from airflow_provider_ttm.exceptions import (
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelConnectionConfigError,
    TuneTheModelError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
)


class _Extreme(random.Random):
    """Jitter that always picks the top (or bottom) of the window, to read the window itself."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top
        self.windows: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.windows.append((a, b))
        return b if self.top else a


def test_backoff_window_doubles_from_the_base_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_cap=6.0, rng=_Extreme(top=True))

    assert [policy.wait_seconds(attempt) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]


def test_full_jitter_starts_every_window_at_zero() -> None:
    rng = _Extreme(top=False)
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=60.0, rng=rng)

    assert [policy.wait_seconds(attempt) for attempt in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert rng.windows == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]


def test_jittered_waits_spread_over_the_window() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=60.0, rng=random.Random(1234))

    samples = [policy.wait_seconds(3) for _ in range(200)]

    assert all(0.0 <= sample <= 4.0 for sample in samples)
    assert min(samples) < 1.0
    assert max(samples) > 3.0


def test_default_policy() -> None:
    policy = RetryPolicy()

    assert (policy.max_attempts, policy.backoff_base, policy.backoff_cap) == (5, 1.0, 60.0)
    assert 0.0 <= policy.wait_seconds(1) <= 1.0


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(7.5, 7.5), (0.0, 0.0), (-3.0, 0.0), (60.0, 60.0), (3600.0, 60.0), (float("inf"), 60.0)],
)
def test_retry_after_replaces_the_backoff_and_is_capped(retry_after: float, expected: float) -> None:
    policy = RetryPolicy(backoff_cap=60.0, rng=_Extreme(top=True))

    assert policy.wait_seconds(4, retry_after) == expected


RETRYABLE = [
    TuneTheModelServerError("x", status_code=503),
    TuneTheModelRateLimitedError("x", status_code=429),
    TuneTheModelTransportError("x", sent=True),
    TuneTheModelTransportError("x", sent=False),
]
NOT_RETRYABLE: list[BaseException] = [
    TuneTheModelBadRequestError("x", status_code=400),
    TuneTheModelAuthenticationError("x", status_code=401),
    TuneTheModelNotFoundError("x", status_code=404),
    TuneTheModelMalformedResponseError("x", status_code=200, retryable=False),
    TuneTheModelConnectionConfigError("x"),
    TuneTheModelError("x"),
    ValueError("x"),
    ConnectionError("x"),
]


@pytest.mark.parametrize("error", RETRYABLE)
def test_should_retry_retryable_errors_until_the_last_attempt(error: TuneTheModelError) -> None:
    policy = RetryPolicy(max_attempts=3)

    assert [policy.should_retry(error, attempt) for attempt in (1, 2, 3, 4)] == [True, True, False, False]


@pytest.mark.parametrize("error", NOT_RETRYABLE)
def test_should_retry_refuses_other_errors(error: BaseException) -> None:
    assert RetryPolicy(max_attempts=5).should_retry(error, 1) is False


def test_one_attempt_disables_retries() -> None:
    assert RetryPolicy(max_attempts=1).should_retry(TuneTheModelServerError("x", status_code=503), 1) is False


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, event: str, /, *args: object, **kwargs: object) -> None:
        self.lines.append(event % args)


@pytest.mark.parametrize("resends", [0, 1, 2])
def test_a_quiet_resend_is_one_of_the_attempts(resends: int) -> None:
    """Resends and backoff retries draw on one budget: ``max_attempts`` attempts in all."""
    log = _Log()
    retries = Retries(RetryPolicy(max_attempts=4, backoff_cap=0.0), "GET /v0/models", log)
    error = TuneTheModelServerError("HTTP 503", status_code=503)
    assert all(retries.resend_at_once() for _ in range(resends))
    waits = 0
    with pytest.raises(TuneTheModelServerError):
        while True:
            retries.wait_after(error)
            waits += 1
    assert (retries.attempt, waits, len(log.lines)) == (4, 3 - resends, 3 - resends)
    assert retries.resend_at_once() is False


def test_no_resend_with_one_attempt() -> None:
    retries = Retries(RetryPolicy(max_attempts=5), "GET /v0/models", _Log(), max_attempts=1)
    assert retries.resend_at_once() is False
    assert retries.attempt == 1


def test_plan_retry_of_an_idempotent_request_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_cap=30.0)
    error = error_for_status(503, b"", retry_after="9")

    assert policy.plan_retry(error, 1, idempotent=True) == 9.0
    assert policy.plan_retry(error, 3, idempotent=True) is None


@pytest.mark.parametrize(
    "error",
    [
        TuneTheModelServerError("x", status_code=500),
        TuneTheModelServerError("x", status_code=502),
        TuneTheModelServerError("x", status_code=504),
        TuneTheModelTransportError("read timed out", sent=True),
    ],
)
def test_plan_retry_never_repeats_a_non_idempotent_request_that_may_have_taken_effect(
    error: TuneTheModelError,
) -> None:
    policy = RetryPolicy(max_attempts=5)

    assert policy.plan_retry(error, 1, idempotent=False) is None
    assert policy.plan_retry(error, 1, idempotent=True) is not None


@pytest.mark.parametrize(
    "error",
    [
        TuneTheModelServerError("x", status_code=503, retry_after=2.0),
        TuneTheModelRateLimitedError("x", status_code=429, retry_after=2.0),
        TuneTheModelTransportError("connection refused", sent=False),
    ],
)
def test_plan_retry_repeats_a_non_idempotent_request_the_service_surely_did_not_act_on(
    error: TuneTheModelError,
) -> None:
    wait = RetryPolicy(max_attempts=5, rng=_Extreme(top=True)).plan_retry(error, 1, idempotent=False)

    assert wait == (2.0 if getattr(error, "retry_after", None) else 1.0)


def test_plan_retry_of_a_non_retryable_error_is_none() -> None:
    error = TuneTheModelBadRequestError("x", status_code=400)

    assert RetryPolicy().plan_retry(error, 1, idempotent=True) is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TuneTheModelTransportError("x", sent=True), True),
        (TuneTheModelTransportError("x", sent=False), False),
        (TuneTheModelServerError("x", status_code=500), True),
        (TuneTheModelServerError("x", status_code=502), True),
        (TuneTheModelServerError("x", status_code=504), True),
        (TuneTheModelServerError("x", status_code=503), False),
        (TuneTheModelServerError("x", status_code=501), False),
        (TuneTheModelRateLimitedError("x", status_code=429), False),
        (TuneTheModelBadRequestError("x", status_code=400), False),
        (ValueError("x"), False),
    ],
)
def test_may_have_taken_effect(error: BaseException, expected: bool) -> None:
    assert may_have_taken_effect(error) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("Someday, 99 Foo 2015", None),
    ],
)
def test_parse_retry_after_delay_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


NOW = dt.datetime(2015, 10, 21, 7, 27, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 2015 09:28:00 +0200", 60.0),  # another zone, same instant
        ("Wed, 21 Oct 2015 07:28:30 -0000", 90.0),  # zone unknown: read as UTC
    ],
)
def test_parse_retry_after_http_date(header: str, expected: float) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_http_date_defaults_to_the_current_time() -> None:
    in_two_minutes = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2), usegmt=True)

    seconds = parse_retry_after(in_two_minutes)

    assert seconds is not None
    assert 100.0 < seconds <= 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("header", ["nan", "NaN", "-nan"])
def test_a_nan_retry_after_is_unreadable_and_the_wait_stays_finite(header: str) -> None:
    error = error_for_status(429, b"", retry_after=header)
    wait = RetryPolicy(backoff_cap=60.0).plan_retry(error, 1, idempotent=True)

    assert wait is not None
    assert 0.0 <= wait <= 60.0
