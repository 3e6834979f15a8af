"""Small readers shared by the record parsers and URL checks (pure)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_ttm.api.errors import TuneTheModelMalformedResponseError


def first_string(payload: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys`` of ``payload`` (for fields with two spellings)."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(frozen=True)
class ObjectKeys:
    """How the service spells one kind of object (a model or a file) in its replies.

    :param what: ``model`` or ``file``, for messages.
    :param ids: the two spellings of the id, preferred first.
    :param labels: the two spellings of the human-readable name, preferred first.
    :param others: the other documented keys (besides ``status``).
    :param validate: the id check of the endpoints (raises ``ValueError``; takes ``param``).
    """

    what: str
    ids: tuple[str, str]
    labels: tuple[str, str]
    others: tuple[str, ...]
    validate: Callable[..., str]

    @property
    def known(self) -> frozenset[str]:
        """Every documented key."""
        return frozenset({*self.ids, *self.labels, *self.others, "status"})


@dataclass(frozen=True)
class Identified:
    """One object of a reply with its id and status checked: what every record is built from.

    :param fields: the object as decoded.
    :param object_id: its id, safe to put in a URL path.
    :param status: its status text.
    :param label: its human-readable name, if any.
    :param extra: its undocumented fields, kept so nothing the service says is lost.
    """

    fields: dict[str, Any]
    object_id: str
    status: str
    label: str | None
    extra: dict[str, Any]

    def text(self, key: str) -> str | None:
        """The field ``key`` when it is a string, else None."""
        value = self.fields.get(key)
        return value if isinstance(value, str) else None


def identified(payload: object, keys: ObjectKeys) -> Identified:
    """A reply's model or file object with its id and status, checked.

    :param payload: the decoded object.
    :param keys: how that kind of object is spelled.
    :raises TuneTheModelMalformedResponseError: when it is no object, or its id or status is unusable.
    """
    what = keys.what
    if not isinstance(payload, dict):
        raise malformed(f"expected a {what} object, got {type(payload).__name__}")
    object_id = first_string(payload, keys.ids)
    if object_id is None:
        raise malformed(f"{what} object has neither {keys.ids[0]!r} nor {keys.ids[1]!r}")
    try:
        keys.validate(object_id, param=f"the {what} id in the reply")
    except ValueError as error:
        raise malformed(str(error)) from None
    status = payload.get("status")
    if not isinstance(status, str):
        raise malformed(f"{what} {object_id} has no 'status' string")
    known = keys.known
    return Identified(
        fields=payload,
        object_id=object_id,
        status=status,
        label=first_string(payload, keys.labels),
        extra={key: value for key, value in payload.items() if key not in known},
    )


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
