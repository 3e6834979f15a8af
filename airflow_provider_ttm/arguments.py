"""Checks of operator, sensor and trigger arguments, each failing with a ValueError that names the argument.

An argument that is not a template field is checked when the DAG is parsed, in ``__init__``. A
template field is kept there exactly as given (Airflow renders it after ``__init__``, and its
provider rules forbid logic on it there) and checked once rendered, in ``execute``, before the
first request.
"""

from __future__ import annotations

import time
from datetime import timedelta

from airflow_provider_ttm.api.endpoints import shown
from airflow_provider_ttm.api.statuses import ModelStatus

#: The longest duration accepted (ten years): far beyond any wait, yet small enough that
#: ``now + MAX_SECONDS`` is a valid ``datetime`` and a ``timedelta`` for Airflow (trigger timeouts,
#: reschedule dates), so no value accepted here overflows later, after a model was created.
MAX_SECONDS = 10 * 365 * 24 * 3600
#: The shortest pause between two status checks: keeps a wait from flooding the service.
MIN_POLL_INTERVAL = 0.05
#: The longest connection id (Airflow's own limit on ids).
MAX_CONN_ID_LENGTH = 250


def positive_seconds(param: str, value: object, *, minimum: float = 0.0) -> float:
    """Return ``value`` (seconds or a ``timedelta``) as float seconds, checked.

    :param param: the argument's name, for the error.
    :param value: a finite number of seconds (not a bool) or a ``timedelta``.
    :param minimum: the smallest accepted value; 0 itself is never accepted.
    :raises ValueError: naming ``param`` unless ``value`` is above 0, at least ``minimum`` and at
        most ``MAX_SECONDS``.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 < seconds <= MAX_SECONDS  # False for NaN; exact for any int (never an OverflowError)
        or seconds < minimum
    ):
        low = f"at least {minimum:g}" if minimum > 0 else "greater than 0"
        raise ValueError(
            f"{param} must be a number of seconds (or a timedelta) {low} and at most {MAX_SECONDS} "
            f"(10 years); got {shown(value)}."
        )
    return float(seconds)


def poll_interval_seconds(param: str, value: object) -> float:
    """Return a pause between status checks as float seconds, at least ``MIN_POLL_INTERVAL``."""
    return positive_seconds(param, value, minimum=MIN_POLL_INTERVAL)


def epoch_seconds(param: str, value: object) -> float | None:
    """Return None, or a finite time in seconds since the epoch no later than ``MAX_SECONDS`` from now.

    :raises ValueError: naming ``param`` for a bool, a non-number, NaN, an infinity or a far future.
    """
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value <= time.time() + MAX_SECONDS  # False for NaN and infinities, exact for ints
    ):
        raise ValueError(
            f"{param} must be None or a time in seconds since the epoch, at most {MAX_SECONDS} s "
            f"from now; got {shown(value)}."
        )
    return float(value)


def flag(param: str, value: object) -> bool:
    """Return ``value`` if it is True or False; a string such as ``"false"`` is refused, not read as true."""
    if not isinstance(value, bool):
        raise ValueError(f"{param} must be True or False; got {shown(value)} ({type(value).__name__}).")
    return value


def text(param: str, value: object, *, max_length: int = 256) -> str:
    """Return ``value`` if it is a non-blank string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ValueError(
            f"{param} must be a non-blank string of at most {max_length} characters; got {shown(value)}."
        )
    return value


def check_conn_id(value: object) -> None:
    """Check ``ttm_conn_id`` (rendered): a non-blank string of at most ``MAX_CONN_ID_LENGTH`` characters."""
    text("ttm_conn_id", value, max_length=MAX_CONN_ID_LENGTH)


def status_names(param: str, value: object) -> list[str]:
    """Return ``value`` (rendered) as a list if it is a list (or tuple) of documented model statuses, any case.

    A single string such as ``"Ready"`` is refused: it is a common slip for ``["Ready"]``.
    """
    known = ", ".join(member.value for member in ModelStatus)
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            f"{param} must be a list of model statuses such as ['Ready'] (known: {known}); "
            f"got {shown(value)} ({type(value).__name__})."
        )
    for item in value:
        if ModelStatus.parse(item) is None:
            raise ValueError(f"{param} must hold model statuses among {known}; got {shown(item)}.")
    return list(value)
