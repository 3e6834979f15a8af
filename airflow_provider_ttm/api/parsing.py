"""Small readers shared by the record parsers and URL checks (pure)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from airflow_provider_ttm.api.errors import TuneTheModelMalformedResponseError


def first_string(payload: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys`` of ``payload`` (for fields with two spellings)."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def identified(
    payload: object, what: str, id_keys: tuple[str, str], validate: Callable[..., str]
) -> tuple[dict[str, Any], str, str]:
    """A reply's model or file object with its id and status, checked: what every record needs.

    :param payload: the decoded object.
    :param what: ``model`` or ``file``, for messages.
    :param id_keys: the two spellings of the id, preferred first.
    :param validate: the id check of the endpoints (raises ``ValueError``; takes ``param``).
    :raises TuneTheModelMalformedResponseError: when it is no object, or its id or status is unusable.
    """
    if not isinstance(payload, dict):
        raise malformed(f"expected a {what} object, got {type(payload).__name__}")
    object_id = first_string(payload, id_keys)
    if object_id is None:
        raise malformed(f"{what} object has neither {id_keys[0]!r} nor {id_keys[1]!r}")
    try:
        validate(object_id, param=f"the {what} id in the reply")
    except ValueError as error:
        raise malformed(str(error)) from None
    status = payload.get("status")
    if not isinstance(status, str):
        raise malformed(f"{what} {object_id} has no 'status' string")
    return payload, object_id, status


def malformed(detail: str, *, retryable: bool = True) -> TuneTheModelMalformedResponseError:
    """The error for a successful reply whose content is not what the API documents.

    :param detail: what was wrong.
    :param retryable: False when the service would answer the same again.
    """
    return TuneTheModelMalformedResponseError(
        f"Unexpected reply from Tune The Model: {detail}", status_code=200, retryable=retryable
    )


def is_loopback_host(hostname: str) -> bool:
    """Whether ``hostname`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
