"""Fakes of what a running task hands an operator: the task instance and its state store."""

from __future__ import annotations

import json
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


@pytest.fixture
def flaky_conn(ttm_emulator, monkeypatch) -> str:
    """A connection to the emulator that tries each request once (so faults reach the caller)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_ONE_ATTEMPT",
        json.dumps(
            {
                "conn_type": "ttm",
                "host": ttm_emulator.url,
                "password": ttm_emulator.api_key,
                "extra": {"max_attempts": 1},
            }
        ),
    )
    return "ttm_one_attempt"
