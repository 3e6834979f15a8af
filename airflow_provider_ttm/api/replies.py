"""Turning the service's HTTP replies into data or into exceptions (pure).

Both transports hand the status code, the ``Retry-After`` header and the (size-capped) body here,
so the sync and async paths report every failure the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

from airflow_provider_ttm.api.endpoints import shortened
from airflow_provider_ttm.api.errors import (
    TuneTheModelApiError,
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelReplyTooLargeError,
    TuneTheModelServerError,
)
from airflow_provider_ttm.api.redaction import may_contain, redact, redact_strings
from airflow_provider_ttm.api.retry import parse_retry_after

#: Replies larger than this are refused before parsing (a model list of ~30,000 models fits).
MAX_REPLY_BYTES = 8 * 1024 * 1024
_EXCERPT_CHARS = 200
#: How much of a body is decoded and redacted before an excerpt is cut from it (redacting after
#: cutting could leave part of the key).
_REDACTED_BYTES = 64 * 1024


def decode_reply(
    status_code: int,
    body: bytes,
    *,
    retry_after: str | None = None,
    truncated: bool = False,
    secret: str | None = None,
) -> Any:
    """Return the decoded JSON of a successful reply, or raise the exception its status means.

    :param status_code: the HTTP status code.
    :param body: the reply's body, at most ``MAX_REPLY_BYTES`` of it.
    :param retry_after: the ``Retry-After`` header, if any.
    :param truncated: whether the transport stopped reading at ``MAX_REPLY_BYTES``.
    :param secret: a value (the API key) to blank out, in any encoding, wherever the reply would be
        quoted or returned.
    :raises TuneTheModelMalformedResponseError: for a reply that is not strict JSON (retryable).
    """
    if status_code >= 400:
        raise error_for_status(status_code, body, retry_after=retry_after, secret=secret)
    if status_code >= 300:
        raise TuneTheModelBadRequestError(
            f"The service answered with a redirect (HTTP {status_code}); redirects are not followed, so "
            "the API key only goes to the configured host. Check the connection's Base URL.",
            status_code=status_code,
        )
    if truncated:
        raise TuneTheModelReplyTooLargeError(
            f"Reply larger than {MAX_REPLY_BYTES} bytes (HTTP {status_code}); refused unparsed. "
            f"It starts: {excerpt(body, secret)}",
            status_code=status_code,
        )
    try:
        payload = parse_json(body)
        if secret and may_contain(body, secret):
            payload = redact_strings(payload, secret)
    except (ValueError, RecursionError) as error:
        # RecursionError: nesting the parser took, yet too deep for the redaction's walk.
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise TuneTheModelMalformedResponseError(
            f"Reply is not valid JSON (HTTP {status_code}, {len(body)} bytes): {excerpt(body, secret)} "
            f"({reason})",
            status_code=status_code,
        ) from None
    return payload


def parse_json(body: bytes) -> Any:
    """Decode a JSON body strictly: no ``NaN``/``Infinity``, no number too big for a float or for
    Python's integer parsing limit (4,300 digits), no nesting deeper than the recursion limit.

    :raises ValueError: saying, without quoting the body, what was wrong.
    """
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except (ValueError, TypeError) as error:
        raise ValueError(_reason(error)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the constant {name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (math.inf, -math.inf):
        raise ValueError("a number too large for a float")
    return number


def _reason(error: Exception) -> str:
    """The cause of a decoding error, short and without the body's text."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at byte {error.pos}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start}"
    if "digits" in str(error):
        return "an integer with too many digits"
    return str(error)[:100]


def error_for_status(
    status_code: int, body: bytes, *, retry_after: str | None = None, secret: str | None = None
) -> TuneTheModelApiError:
    """Map an error status and its body to the matching exception.

    :param status_code: the HTTP status code.
    :param body: the reply's body.
    :param retry_after: the ``Retry-After`` header, if any.
    :param secret: a value (the API key) to blank out, in any encoding, before quoting the body.
    """
    detail = _service_message(body, secret)
    if status_code in (401, 403):
        return TuneTheModelAuthenticationError(
            f"The API key was rejected (HTTP {status_code}: {detail}); check the connection's API Key.",
            status_code=status_code,
        )
    if status_code == 404:
        return TuneTheModelNotFoundError(f"Not found (HTTP 404): {detail}", status_code=status_code)
    if status_code == 429:
        return TuneTheModelRateLimitedError(
            f"Rate limited by the service (HTTP 429): {detail}",
            status_code=status_code,
            retry_after=parse_retry_after(retry_after),
        )
    if status_code >= 500:
        return TuneTheModelServerError(
            f"The service failed (HTTP {status_code}): {detail}",
            status_code=status_code,
            retry_after=parse_retry_after(retry_after),
        )
    return TuneTheModelBadRequestError(
        f"The service refused the request (HTTP {status_code}): {detail}", status_code=status_code
    )


def excerpt(body: bytes, secret: str | None = None) -> str:
    """The first characters of a body, printable, for error messages; ``secret`` blanked out first.

    :param body: the body.
    :param secret: a value (the API key) to blank out, in any encoding, before shortening.
    """
    text = redact(body[:_REDACTED_BYTES].decode("utf-8", errors="replace"), secret)
    return repr(shortened(text, _EXCERPT_CHARS))


def _service_message(body: bytes, secret: str | None) -> str:
    try:
        payload = parse_json(body)
    except ValueError:
        return excerpt(body, secret) if body.strip() else "(empty body)"
    if isinstance(payload, dict):
        for key in ("detail", "message", "error"):
            if isinstance(payload.get(key), str):
                return shortened(redact(str(payload[key]), secret), _EXCERPT_CHARS)
    try:  # quoted as decoded, so a key hidden by JSON escapes over another encoding is found too
        decoded = json.dumps(redact_strings(payload, secret) if secret else payload, ensure_ascii=False)
    except RecursionError:
        return excerpt(body, secret)
    return excerpt(decoded.encode(), secret)
