"""Serve the emulator with uvicorn on a background thread: for tests, the CLI and benchmarks."""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import TYPE_CHECKING, Final

import uvicorn

from airflow_provider_ttm.emulator.app import create_app
from airflow_provider_ttm.emulator.config import EmulatorConfig
from airflow_provider_ttm.emulator.control import EmulatorControl
from airflow_provider_ttm.emulator.state import EmulatorState

if TYPE_CHECKING:
    from types import TracebackType

    from starlette.types import ASGIApp

# uvicorn's complaint when a reply is cut short, which a "drop" fault does on purpose.
_DROP_COMPLAINT: Final = "ASGI callable returned without completing response."


class _QuietDrops(logging.Filter):
    """Hide uvicorn's error line for replies that a drop fault cut short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_COMPLAINT


def connection_json(url: str, api_key: str) -> str:
    """The ``AIRFLOW_CONN_TTM_DEFAULT`` value for an emulator at ``url``: the key as the password."""
    return json.dumps({"conn_type": "ttm", "host": url, "password": api_key})


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    """The host to put in URLs: loopback for a wildcard address, IPv6 in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


class _NotifyingServer(uvicorn.Server):
    """A uvicorn server that sets an event once it serves."""

    def __init__(self, config: uvicorn.Config, serving: threading.Event) -> None:
        super().__init__(config)
        self._serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._serving.set()


class EmulatorServer:
    """
    The emulator served over real sockets by uvicorn on a daemon thread.

    ``with EmulatorServer(EmulatorConfig(train_seconds=0.1)) as server: requests.get(server.url + ...)``

    :param config: the settings; port 0 (the default) picks a free port, read back from ``port``.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.control = EmulatorControl(self.state)
        self.app: ASGIApp = create_app(self.state)
        self._server: _NotifyingServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (``https`` with TLS)."""
        scheme = "https" if self.config.ssl_certfile else "http"
        return f"{scheme}://{_url_host(self.config.host)}:{self.port}"

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self.control.config.api_keys[0]

    @property
    def conn_json(self) -> str:
        """The ``AIRFLOW_CONN_TTM_DEFAULT`` value pointing at this emulator."""
        return connection_json(self.url, self.api_key)

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Listen, serve on a daemon thread, and return once requests are served."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        uvicorn_error = logging.getLogger("uvicorn.error")
        if not any(isinstance(existing, _QuietDrops) for existing in uvicorn_error.filters):
            uvicorn_error.addFilter(_QuietDrops())
        sock = _listen(self.config.host, self.config.port)
        self._port = sock.getsockname()[1]
        serving = threading.Event()
        self._failure = None
        self._server = _NotifyingServer(
            uvicorn.Config(
                self.app,
                lifespan="off",
                ws="none",
                log_config=None,
                log_level=self.config.log_level,
                ssl_certfile=self.config.ssl_certfile,
                ssl_keyfile=self.config.ssl_keyfile,
                timeout_graceful_shutdown=1,
            ),
            serving,
        )
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._server, sock, serving),
            name=f"ttm-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        if not serving.wait(timeout) or self._failure is not None:
            failure = self._failure
            self.stop()
            raise RuntimeError(f"the TTM emulator did not start on port {self._port}") from failure
        return self

    def _serve(self, server: uvicorn.Server, sock: socket.socket, serving: threading.Event) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn exits on startup errors (e.g. unreadable TLS files)
            self._failure = exc
        finally:
            sock.close()
            serving.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: replies in flight get a second to finish, then connections close."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
