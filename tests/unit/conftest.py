"""The shared fixtures of the unit tests (the fakes and servers they use are in ``tests/support``).

- Mocked API: connections (``set_connection``, ``ttm_conn``, ``mocked_conn``), ``http`` (every
  ``requests`` call goes to ``responses``), ``waits`` (the transports, the upload, the batch runner and
  the polls record their sleeps instead of sleeping), ``logs``, ``model_payload``.
- A running task: ``context`` (a fake task instance and its ``task_state_store``).
- Servers on loopback: ``hostile_server`` and ``hostile_conn``; ``proxy``, the TLS emulator and
  ``connect`` for the egress tests (with ``clean_environment``).
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

from support import proxy as egress
from support.fakes import (
    API,
    API_KEY,
    MODEL_ID,
    FakeTaskInstance,
    FakeTaskStateStore,
    RecordingAsyncio,
    RecordingTime,
)
from support.hostile_server import API_KEY as HOSTILE_API_KEY
from support.hostile_server import HostileServer

import airflow_provider_ttm.hooks.polling as polling_module
import airflow_provider_ttm.hooks.retrying as retrying_module
import airflow_provider_ttm.hooks.ttm as hook_module
from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer

CONN_ID = "ttm_test"


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
def mocked_conn(set_connection: Callable[..., str]) -> Callable[..., str]:
    """Define the connection ``ttm_mock`` to the mocked API (extras as keyword arguments); its id."""

    def define(**extra: Any) -> str:
        return set_connection("ttm_mock", extra={"backoff_cap": 5, **extra})

    return define


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Every ``requests`` call goes to registered mocks; an unregistered URL fails the call."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds the retries (API calls sync or async, uploads, batch items), the polls and the
    hook waited, in order; their ``time.monotonic`` is a virtual clock moved by those waits."""
    recorded: list[float] = []
    fake = RecordingTime(recorded)
    for module in (retrying_module, polling_module, hook_module):
        monkeypatch.setattr(module, "time", fake)
    monkeypatch.setattr(retrying_module, "asyncio", RecordingAsyncio(recorded))
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


@pytest.fixture
def context() -> dict[str, Any]:
    """What a running task hands an operator: its task instance and ``task_state_store``."""
    return {"ti": FakeTaskInstance(), "task_state_store": FakeTaskStateStore()}


@pytest.fixture
def refusal(context: dict[str, Any]) -> Callable[..., ValueError]:
    """Make a task with a bad argument and return the ValueError naming it.

    A template field is kept as given when the task is made (Airflow's provider rule: it is
    rendered later) and refused once rendered, first thing in ``execute``; any other argument is
    refused when the task is made. Either way nothing reached the service yet.
    """

    def refuse(operator: type, kwargs: dict[str, Any], named: str, message: str | None = None) -> ValueError:
        match = message or rf"^{named}\b"
        if named in operator.template_fields:
            task = operator(task_id="t", **kwargs)
            with pytest.raises(ValueError, match=match) as raised:
                task.execute(context)
        else:
            with pytest.raises(ValueError, match=match) as raised:
                operator(task_id="t", **kwargs)
        return raised.value

    return refuse


# --- a hostile server -----------------------------------------------------------------------------


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A started ``HostileServer``, stopped (its trickling replies cancelled) after the test."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile_conn(hostile_server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection to the hostile server (extras as keyword arguments); returns its id."""

    def define(conn_id: str = "ttm_hostile", *, password: str = HOSTILE_API_KEY, **extra: Any) -> str:
        fields = {"conn_type": "ttm", "host": hostile_server.url, "password": password, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return define


# --- egress: a CONNECT proxy and the emulator over TLS -------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA bundle from the machine running the tests: each test sets its own."""
    for name in egress.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> egress.TlsFiles:
    """The emulator's certificate: trusted only when a test names it as the CA bundle."""
    return egress.make_self_signed(tmp_path_factory.mktemp("tls"), "emulator")


@pytest.fixture(scope="session")
def other_tls(tmp_path_factory: pytest.TempPathFactory) -> egress.TlsFiles:
    """Another self-signed certificate: as a CA bundle it does not sign the emulator's."""
    return egress.make_self_signed(tmp_path_factory.mktemp("other-tls"), "other")


@pytest.fixture(scope="session")
def tls_emulator_server(tls_files: egress.TlsFiles) -> Iterator[EmulatorServer]:
    """The emulator served over TLS on ``127.0.0.1`` for the whole session."""
    config = EmulatorConfig(
        api_keys=(egress.API_KEY,), ssl_certfile=tls_files.cert, ssl_keyfile=tls_files.key
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def tls_emulator(tls_emulator_server: EmulatorServer) -> EmulatorServer:
    """The TLS emulator, reset."""
    tls_emulator_server.control.reset()
    return tls_emulator_server


@pytest.fixture
def proxy() -> Iterator[egress.ConnectProxy]:
    """A CONNECT proxy that relays everything."""
    server = egress.ConnectProxy().start()
    yield server
    server.stop()


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, tls_emulator: EmulatorServer) -> Any:
    """``connect(host=None, **extra)``: set the connection ``ttm_egress`` to the TLS emulator; its id.

    Every request is tried once, so a failure reaches the test at once.
    """

    def set_connection(host: str | None = None, **extra: Any) -> str:
        conn = {
            "conn_type": "ttm",
            "host": host or tls_emulator.url,
            "password": egress.API_KEY,
            "extra": {"max_attempts": 1, "timeout": 10, **extra},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{egress.CONN_ID.upper()}", json.dumps(conn))
        return egress.CONN_ID

    return set_connection
