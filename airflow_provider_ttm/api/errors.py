"""The errors of the Tune The Model API, as plain exceptions (no Airflow here, as in h11).

Every class carries ``retryable`` (may the same request succeed later); those about a reply carry
its HTTP ``status_code``. The Airflow-facing failures (a failed fit that no retry can mend, a wait
that ran out of time) are made at the edge, in ``airflow_provider_ttm.exceptions``.
"""

from __future__ import annotations


class TuneTheModelError(Exception):
    """Base class of every error this provider raises; ``retryable``: may the same request succeed later."""

    retryable: bool = False


class TuneTheModelConnectionConfigError(TuneTheModelError):
    """The Airflow connection is missing or holds an unusable value (never its secret)."""


class TuneTheModelTransportError(TuneTheModelError):
    """The request did not get an HTTP answer: refused, reset, dropped or timed out.

    :param message: what happened, without secrets.
    :param sent: whether the request may have reached the service (its outcome is unknown).
    :param timed_out: whether no answer came within the timeout (the service may still be at work).
    :param retryable: whether asking again may help (not when a proxy refused our credentials).
    """

    def __init__(self, message: str, *, sent: bool, timed_out: bool = False, retryable: bool = True) -> None:
        super().__init__(message)
        self.sent = sent
        self.timed_out = timed_out
        self.retryable = retryable


class TuneTheModelApiError(TuneTheModelError):
    """The service answered with an error status.

    :param message: the service's own explanation, or a summary of the reply.
    :param status_code: the HTTP status code.
    """

    status_code: int

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code

    @property
    def http_status(self) -> int:
        """The HTTP status code, ``status_code`` by its name up to 0.1.0 (kept, not deprecated)."""
        return self.status_code


class TuneTheModelAuthenticationError(TuneTheModelApiError):
    """The API key was rejected (401 or 403)."""


class TuneTheModelNotFoundError(TuneTheModelApiError):
    """The model or file does not exist for this API key (404)."""


class TuneTheModelBadRequestError(TuneTheModelApiError):
    """The service refused the request's content (400, 409, 422 and other 4xx)."""


class TuneTheModelRetryableApiError(TuneTheModelApiError):
    """The service is overloaded or failing; the same request may succeed later.

    :param message: the service's own explanation, or a summary of the reply.
    :param status_code: the HTTP status code.
    :param retry_after: seconds the service asked the client to wait, when it said so.
    """

    retryable = True

    def __init__(self, message: str, *, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class TuneTheModelRateLimitedError(TuneTheModelRetryableApiError):
    """Too many requests (429)."""


class TuneTheModelServerError(TuneTheModelRetryableApiError):
    """The service failed or is unavailable (5xx)."""


class TuneTheModelMalformedResponseError(TuneTheModelApiError):
    """The reply could not be understood: not JSON, truncated, too large, or missing fields.

    Retryable (a reply garbled in transit may come through whole next time), except when the
    reply was too large, which asking again will not change.

    :param message: what was wrong, with the first bytes of the body.
    :param status_code: the HTTP status code.
    :param retryable: whether asking again may help.
    """

    def __init__(self, message: str, *, status_code: int, retryable: bool = True) -> None:
        super().__init__(message, status_code=status_code)
        self.retryable = retryable


class TuneTheModelReplyTooLargeError(TuneTheModelMalformedResponseError):
    """The reply was larger than the provider reads (``replies.MAX_REPLY_BYTES``); not retryable.

    :param message: the size cap and the first bytes of the body.
    :param status_code: the HTTP status code.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message, status_code=status_code, retryable=False)


class TuneTheModelBatchItemError(TuneTheModelError):
    """One input of a batch failed for good; the batch stopped.

    :param message: which input failed and why.
    :param index: the input's position in the batch (from 0).
    """

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index
