"""Turning the service's HTTP replies into data or into exceptions (pure).

Both transports hand the status code, the ``Retry-After`` header and the (size-capped) body here,
so the sync and async paths report every failure the same way.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_ttm.api.retry import parse_retry_after
from airflow_provider_ttm.exceptions import (
    TuneTheModelApiError,
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
)

#: Replies larger than this are refused before parsing (a model list of ~30,000 models fits).
MAX_REPLY_BYTES = 8 * 1024 * 1024
_EXCERPT_CHARS = 200


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
    :param secret: a value (the API key) to blank out wherever the reply would be quoted.
    """
    if secret:
        body = body.replace(secret.encode(), b"***")
    # Out of this frame before anything raises: Airflow 3.0's `airflow dags test` prints the locals of
    # a failed task's traceback.
    del secret
    if status_code >= 400:
        raise error_for_status(status_code, body, retry_after=retry_after)
    if status_code >= 300:
        raise TuneTheModelBadRequestError(
            f"The service answered with a redirect (HTTP {status_code}); redirects are not followed, so "
            "the API key only goes to the configured host. Check the connection's Base URL.",
            status_code=status_code,
        )
    if truncated:
        raise TuneTheModelMalformedResponseError(
            f"Reply larger than {MAX_REPLY_BYTES} bytes (HTTP {status_code}); refused unparsed. "
            f"It starts: {excerpt(body)}",
            status_code=status_code,
            retryable=False,
        )
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise TuneTheModelMalformedResponseError(
            f"Reply is not valid JSON (HTTP {status_code}, {len(body)} bytes): {excerpt(body)}",
            status_code=status_code,
        ) from None


def error_for_status(
    status_code: int, body: bytes, *, retry_after: str | None = None
) -> TuneTheModelApiError:
    """Map an error status and its body to the matching exception."""
    detail = _service_message(body)
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


def excerpt(body: bytes) -> str:
    """The first characters of a body, printable, for error messages."""
    text = body[: _EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    shortened = text[:_EXCERPT_CHARS] + ("..." if len(text) > _EXCERPT_CHARS else "")
    return repr(shortened)


def _service_message(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return excerpt(body) if body.strip() else "(empty body)"
    if isinstance(payload, dict):
        for key in ("detail", "message", "error"):
            if isinstance(payload.get(key), str):
                return str(payload[key])[:_EXCERPT_CHARS]
    return excerpt(body)
