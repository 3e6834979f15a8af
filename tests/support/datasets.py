"""Fixtures of the training and inference tests: a fake task instance, connections, mocked HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import responses

import airflow_provider_ttm.hooks.batch as batch_module
import airflow_provider_ttm.hooks.polling as polling_module
import airflow_provider_ttm.hooks.transport as transport_module
import airflow_provider_ttm.hooks.ttm as hook_module
import airflow_provider_ttm.hooks.upload as upload_module

API = "https://api.example.test"
API_KEY = "secret-key-train-123"
MODEL_ID = "c4319ce72c6c48dfa0754faf3d083f02"


@dataclass
class FakeTaskInstance:
    """The parts of a RuntimeTaskInstance the operators use: identity and XCom of one try."""

    dag_id: str = "nightly"
    task_id: str = "train"
    run_id: str = "manual__2026-11-26T00:00:00+00:00"
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: int | None = None) -> Any:
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)  # this task instance's own
        return self.xcoms.get(key)


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance()}


def rows(count: int = 32, num_classes: int = 3) -> list[dict[str, Any]]:
    """``count`` classifier rows ``{"input", "class"}`` with classes cycling below ``num_classes``."""
    return [{"input": f"text number {i}", "class": i % num_classes} for i in range(count)]


def columns(count: int = 32, num_classes: int = 3) -> dict[str, list[Any]]:
    """The same rows in the service's column form."""
    data = rows(count, num_classes)
    return {"inputs": [r["input"] for r in data], "classes": [r["class"] for r in data]}


@pytest.fixture
def mocked_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define the connection ``ttm_mock`` to the mocked API (https, the test key); returns its id."""

    def define(**extra: Any) -> str:
        fields = {"conn_type": "ttm", "host": API, "password": API_KEY, "extra": {"backoff_cap": 5, **extra}}
        monkeypatch.setenv("AIRFLOW_CONN_TTM_MOCK", json.dumps(fields))
        return "ttm_mock"

    return define


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Every ``requests`` call goes to registered mocks; an unregistered URL fails the call."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class _RecordingTime:
    """Stands in for a module's ``time``: ``sleep`` records the wait and moves a virtual clock.

    ``monotonic`` reads that clock, so deadlines pass exactly when the recorded waits add up.
    """

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits
        self._clock = 0.0

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)
        self._clock += seconds

    def monotonic(self) -> float:
        return self._clock

    @staticmethod
    def time() -> float:
        import time

        return time.time()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds the transports, the upload, the batch runner and the polls waited, in order."""
    recorded: list[float] = []
    fake = _RecordingTime(recorded)
    for module in (transport_module, upload_module, batch_module, polling_module, hook_module):
        monkeypatch.setattr(module, "time", fake)
    return recorded
