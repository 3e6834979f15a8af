"""Checks of operator and sensor arguments that are known when the DAG is parsed."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.common.compat.sdk import XComArg


def is_resolved_later(value: object) -> bool:
    """Whether ``value`` is only known at run time: a Jinja template or another task's output."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return isinstance(value, XComArg)


def positive_seconds(param: str, value: object) -> float:
    """Return ``value`` (seconds or a ``timedelta``) as float seconds if it is greater than zero.

    :raises ValueError: naming ``param`` when it is not a positive number of seconds.
    """
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{param} must be a positive number of seconds; got {value!r}.")
    return float(value)
