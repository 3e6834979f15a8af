"""Fakes of what Airflow and the service hand the provider: a task instance, its state store, the
mocked API's address and key, and ``time``/``asyncio`` modules whose sleeps only record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The base URL, API key and a model id of the mocked API (``responses`` or ``httpx.MockTransport``).
API = "https://api.example.test"
API_KEY = "secret-key-123"
MODEL_ID = "c4319ce72c6c48dfa0754faf3d083f02"


@dataclass
class FakeTaskInstance:
    """The parts of a RuntimeTaskInstance the operators and the sensor use.

    Its identity, its try (``try_number``, ``start_date``), a sensor's first poke, and XCom.
    """

    dag_id: str = "demo_dag"
    task_id: str = "create"
    run_id: str = "manual__2026-11-26T00:00:00+00:00"
    map_index: int = -1
    try_number: int = 1
    start_date: datetime | None = None
    first_poke: datetime | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)
    stats_tags: dict[str, str] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes: int | None = None) -> Any:
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)  # this task instance's own
        return self.xcoms.get(key)

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_poke


class FakeTaskStateStore:
    """An in-memory ``task_state_store`` (Airflow 3.3) that outlives a task try."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class RecordingTime:
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
        return time.time()


class RecordingAsyncio:
    """Stands in for a module's ``asyncio``: ``sleep`` records instead of waiting."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    async def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)


class RecordingTaskState:
    """Stands in for ``version_compat.task_instance_state``: the state a kill reads (``value``; an
    exception when it cannot be read), and each task instance it was asked about (``reads``).

    :param value: the state it answers at first.
    """

    def __init__(self, value: str | Exception | None) -> None:
        self.value = value
        self.reads: list[tuple[str, str, str, int]] = []

    def read(self, dag_id: str, task_id: str, run_id: str, map_index: int) -> str | None:
        self.reads.append((dag_id, task_id, run_id, map_index))
        if isinstance(self.value, Exception):
            raise self.value
        return self.value
