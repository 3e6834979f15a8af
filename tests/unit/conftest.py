"""Shared fixtures of the unit tests: connections, mocked HTTP, recorded waits and captured logs.

Nothing here sleeps or opens a socket: ``responses`` intercepts every ``requests`` call, the async
tests hand an ``httpx.MockTransport`` to the transport, and the transports' sleeps only record the
wait they were asked for.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

try:  # Airflow 3 logs through structlog; Airflow 2.11 through the standard library only.
    from structlog.testing import capture_logs
except ImportError:  # pragma: no cover - Airflow 2.11
    capture_logs = None

import airflow_provider_ttm.hooks.retrying as retrying_module
import airflow_provider_ttm.hooks.ttm as hook_module

API = "https://api.example.test"
API_KEY = "secret-key-123"
CONN_ID = "ttm_test"
MODEL_ID = "c4319ce72c6c48dfa0754faf3d083f02"


@pytest.fixture
def api() -> str:
    """The base URL of the test connection."""
    return API


@pytest.fixture
def api_key() -> str:
    """The API key of the test connection (long enough for Airflow's secrets masker)."""
    return API_KEY


@pytest.fixture
def model_id() -> str:
    """A model id shaped like the service's (32 hex characters)."""
    return MODEL_ID


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define an Airflow connection through ``AIRFLOW_CONN_<ID>`` (JSON form); returns its id."""

    def define(
        conn_id: str = CONN_ID,
        *,
        host: str | None = API,
        password: str | None = API_KEY,
        extra: dict[str, Any] | None = None,
    ) -> str:
        fields: dict[str, Any] = {"conn_type": "ttm"}
        if host is not None:
            fields["host"] = host
        if password is not None:
            fields["password"] = password
        if extra is not None:
            fields["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return define


@pytest.fixture
def ttm_conn(set_connection: Callable[..., str]) -> str:
    """The default test connection: https base URL, API key, three attempts per request."""
    return set_connection(extra={"max_attempts": 3, "backoff_cap": 10})


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Every ``requests`` call goes to registered mocks; an unregistered URL fails the call."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class _RecordingTime:
    """Stands in for the ``time`` module of the transport: ``sleep`` records instead of sleeping."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)


class _RecordingAsyncio:
    """Stands in for the ``asyncio`` module of the transport: ``sleep`` records instead of waiting."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    async def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds each transport (sync or async) and the hook waited, in order."""
    recorded: list[float] = []
    monkeypatch.setattr(retrying_module, "time", _RecordingTime(recorded))
    monkeypatch.setattr(hook_module, "time", _RecordingTime(recorded))
    monkeypatch.setattr(retrying_module, "asyncio", _RecordingAsyncio(recorded))
    return recorded


class CapturedLogs:
    """Log output of one test from both logging systems in play.

    Airflow 3.3's ``LoggingMixin.log`` (the hook's ``self.log``) is a structlog logger that prints
    directly, so ``caplog`` never sees the hook's lines; ``structlog.testing.capture_logs`` does.
    Standard-library records (``requests``, ``urllib3``, and every line on Airflow 2.11) still come
    through ``caplog``.
    """

    def __init__(self, events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
        self.events = events
        self.caplog = caplog

    def messages(self, level: str | None = None) -> list[str]:
        """Every captured message (formatted), optionally only those of one level."""
        found = [
            str(event.get("event"))
            for event in self.events
            if level is None or event.get("log_level") == level
        ]
        found += [
            record.getMessage()
            for record in self.caplog.records
            if level is None or record.levelname.lower() == level
        ]
        return found

    def everything(self) -> str:
        """All captured output, every field of every event included, as one text."""
        return "\n".join([repr(event) for event in self.events] + [self.caplog.text])


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[CapturedLogs]:
    """Capture the hook's structlog events and standard-library log records of the test."""
    caplog.set_level(logging.DEBUG)
    capture = capture_logs() if capture_logs is not None else contextlib.nullcontext([])
    with capture as events:
        yield CapturedLogs(events, caplog)


@pytest.fixture
def model_payload() -> Callable[..., dict[str, Any]]:
    """A model object as the reference shows it; keyword arguments override or add fields."""

    def build(**fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": "Created",
            "model_name": MODEL_ID,
            "model_type": "classifier",
            "model_params": {"num_classes": 3},
            "user_name": "my-shiny-classifier",
            "last_updated_time": "2022-06-10 17:52:35.81619",
        }
        payload.update(fields)
        return payload

    return build
