"""Validation of uploaded datasets: ``{"inputs", "classes"}`` or ``{"inputs", "outputs"}``, 32 rows or more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from airflow_provider_ttm.emulator.errors import ApiError
from airflow_provider_ttm.emulator.payloads import parse_json_object

MIN_ROWS: Final = 32
_TARGET: Final = {"classifier": "classes", "generator": "outputs"}


@dataclass(frozen=True)
class DatasetSummary:
    """
    What the emulator remembers of a valid dataset.

    :param rows: the number of examples.
    :param max_class: the highest class label (classifier datasets), checked against a model at bind.
    """

    rows: int
    max_class: int | None


def _bad(field: str, problem: str) -> ApiError:
    return ApiError(400, f"dataset {field}: {problem}")


def _column(data: dict[str, Any], field: str) -> list[Any]:
    column = data.get(field)
    if column is None:
        raise _bad(field, "is required")
    if not isinstance(column, list):
        raise _bad(field, "must be a list")
    return column


def parse_dataset(raw: bytes, task_type: str) -> DatasetSummary:
    """Validate an uploaded dataset for a ``task_type`` (classifier or generator) file."""
    data = parse_json_object(raw, "dataset")
    target = _TARGET[task_type]
    unknown = sorted(set(data) - {"inputs", target})
    if unknown:
        raise _bad(unknown[0], f"is not a field of a {task_type} dataset (inputs, {target})")
    inputs = _column(data, "inputs")
    targets = _column(data, target)
    if not all(isinstance(text, str) for text in inputs):
        raise _bad("inputs", "must be strings")
    if len(inputs) < MIN_ROWS:
        raise _bad("inputs", f"has {len(inputs)} rows, at least {MIN_ROWS} are needed")
    if len(targets) != len(inputs):
        raise _bad(target, f"has {len(targets)} rows but inputs has {len(inputs)}")
    if target == "outputs":
        if not all(isinstance(text, str) for text in targets):
            raise _bad("outputs", "must be strings")
        return DatasetSummary(rows=len(inputs), max_class=None)
    if not all(isinstance(label, int) and not isinstance(label, bool) and label >= 0 for label in targets):
        raise _bad("classes", "must be integers >= 0")
    return DatasetSummary(rows=len(inputs), max_class=max(targets))
