"""Classifier datasets of the training and inference tests, as rows and in the service's column form."""

from __future__ import annotations

from typing import Any


def rows(count: int = 32, num_classes: int = 3) -> list[dict[str, Any]]:
    """``count`` classifier rows ``{"input", "class"}`` with classes cycling below ``num_classes``."""
    return [{"input": f"text number {i}", "class": i % num_classes} for i in range(count)]


def columns(count: int = 32, num_classes: int = 3) -> dict[str, list[Any]]:
    """The same rows in the service's column form."""
    data = rows(count, num_classes)
    return {"inputs": [r["input"] for r in data], "classes": [r["class"] for r in data]}
