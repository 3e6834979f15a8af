"""Fakes of what a running task hands an operator: the task instance and its state store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class FakeTaskInstance:
    """The parts of a RuntimeTaskInstance the operators use."""

    dag_id: str = "demo_dag"
    task_id: str = "create"
    run_id: str = "manual__2026-11-26T00:00:00+00:00"
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)
    stats_tags: dict[str, str] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class FakeTaskStateStore:
    """An in-memory ``task_state_store`` (Airflow 3.3) that outlives a task try."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance(), "task_state_store": FakeTaskStateStore()}
