"""Small readers shared by the record parsers and URL checks (pure)."""

from __future__ import annotations

import ipaddress
from typing import Any

from airflow_provider_ttm.exceptions import TuneTheModelMalformedResponseError


def first_string(payload: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys`` of ``payload`` (for fields with two spellings)."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def malformed(detail: str) -> TuneTheModelMalformedResponseError:
    """The error for a successful reply whose content is not what the API documents."""
    return TuneTheModelMalformedResponseError(
        f"Unexpected reply from Tune The Model: {detail}", status_code=200
    )


def is_loopback_host(hostname: str) -> bool:
    """Whether ``hostname`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
