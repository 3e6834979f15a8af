"""The retry policy of every request, and the retries of one request (pure: it computes waits).

The policy is written once here: full-jitter exponential backoff with a cap, the service's
``Retry-After``, whether a failed request may have taken effect (a create is then not sent again
blindly) and how long to let a timed-out request settle. ``hooks/retrying.py`` drives it, once
blocking and once async.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from airflow_provider_ttm.api.errors import (
    TuneTheModelError,
    TuneTheModelMalformedResponseError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, honouring the service's ``Retry-After``.

    :param max_attempts: total attempts of one request, the first included (1 disables retries).
    :param backoff_base: seconds of the first backoff window; it doubles each attempt.
    :param backoff_cap: the longest wait between two attempts, ``Retry-After`` included.
    :param rng: source of jitter (replaceable for tests).
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether a request that failed with ``error`` on attempt ``attempt`` (1-based) may go again."""
        return attempt < self.max_attempts and isinstance(error, TuneTheModelError) and error.retryable

    def plan_retry(self, error: BaseException, attempt: int, *, idempotent: bool) -> float | None:
        """Seconds to wait before sending a failed request again, or None when it must not be.

        :param error: what the attempt raised.
        :param attempt: the number of the attempt that failed (1-based).
        :param idempotent: whether the request may be repeated without changing its effect; a
            non-idempotent one is never repeated when it may have taken effect.
        """
        if not self.should_retry(error, attempt):
            return None
        if not idempotent and may_have_taken_effect(error):
            return None
        return self.wait_seconds(attempt, getattr(error, "retry_after", None))

    def wait_seconds(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_cap)
        window = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, window)


class RetryLog(Protocol):
    """The part of a logger that retries are written to."""

    def warning(self, event: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log a warning."""


@dataclass
class Retries:
    """The retries of one request: which attempt failed, the wait before the next, its log line.

    One ``Retries`` is the whole budget of a request: every layer that sends it again (the
    transport's backoff, its quiet resend on a stale connection, a batch's item retries) takes its
    attempts from here, so the service sees it at most ``max_attempts`` times in all.

    :param policy: the connection's retry policy.
    :param what: the request, as its log line names it (``Tune The Model GET /v0/models``).
    :param log: where each retry is logged, once, at WARNING.
    :param idempotent: whether the request may be repeated without changing its effect.
    :param max_attempts: the attempts allowed, the first included (default: the policy's).
    """

    policy: RetryPolicy
    what: str
    log: RetryLog
    idempotent: bool = True
    max_attempts: int | None = None
    #: The number of the attempt under way (1-based).
    attempt: int = 1

    def __post_init__(self) -> None:
        if self.max_attempts is not None:
            self.policy = dataclasses.replace(self.policy, max_attempts=self.max_attempts)

    def wait_after(self, error: TuneTheModelError, *, took_no_effect: bool = False) -> float:
        """Seconds to wait before the next attempt, logged; re-raises ``error`` when there is none.

        :param error: what the attempt under way raised.
        :param took_no_effect: the attempt is known not to have taken effect (a recovery looked), so
            the request may go again even if it is not idempotent.
        """
        idempotent = self.idempotent or took_no_effect
        wait = self.policy.plan_retry(error, self.attempt, idempotent=idempotent)
        if wait is None:
            raise error
        self.log.warning(
            "%s failed on attempt %d of %d: %s. Retrying in %.1f s.",
            self.what,
            self.attempt,
            self.policy.max_attempts,
            str(error).rstrip("."),
            wait,
        )
        self.attempt += 1
        return wait

    def resend_at_once(self) -> bool:
        """Take the next attempt for a resend without a wait or a log line, if one is left.

        For a request cut off by the server's idle close of a pooled connection: it is sent again
        at once, but the resend is an attempt like any other, counted toward ``max_attempts``.
        """
        if self.attempt >= self.policy.max_attempts:
            return False
        self.attempt += 1
        return True


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header in either form: delay seconds, or an HTTP date.

    :param value: the header's value, or None when absent.
    :param now: the current time, for the HTTP-date form (defaults to now, UTC).
    :return: seconds to wait (never negative), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": a time in UTC with no zone said
        moment = moment.replace(tzinfo=dt.UTC)
    reference = now or dt.datetime.now(dt.UTC)
    return max((moment - reference).total_seconds(), 0.0)


def may_have_taken_effect(error: BaseException) -> bool:
    """Whether a failed request may still have been carried out by the service.

    True for a request sent without an answer (timeout, dropped connection), for a success reply
    that could not be read, and for gateway failures (500, 502, 504) that can happen after the
    service acted; False for 429 and 503, which the service sends instead of acting. A
    non-idempotent request in this state must not be sent again blindly.
    """
    if isinstance(error, TuneTheModelTransportError):
        return error.sent
    if isinstance(error, TuneTheModelMalformedResponseError):
        return 200 <= error.status_code < 300
    return isinstance(error, TuneTheModelServerError) and error.status_code in (500, 502, 504)


def settle_seconds(error: BaseException, timeout: float) -> float:
    """How long to let the service finish before checking whether a request took effect.

    A request that timed out may still be carried out; giving the service another ``timeout``
    before looking keeps a slow success from being mistaken for a failure and repeated.
    """
    return timeout if isinstance(error, TuneTheModelTransportError) and error.timed_out else 0.0
