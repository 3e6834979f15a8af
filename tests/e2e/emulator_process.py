"""The emulator CLI (``python -m airflow_provider_ttm.emulator``) run as a separate process (ending with the
test run)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx

from airflow_provider_ttm.testing.lifetime import forget, start_guarded

from .airflow_home import free_port


class EmulatorProcess:
    """Starts ``ttm-emulator`` on a free loopback port and stops it.

    :param api_key: the key it accepts.
    :param auto_train: how long a bare created model takes to become Ready (CLI syntax, e.g. ``6s``).
    """

    def __init__(self, api_key: str, auto_train: str) -> None:
        self.api_key = api_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = ["--port", str(self.port), "--api-key", api_key, "--auto-train", auto_train]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def conn_json(self) -> str:
        """The ``AIRFLOW_CONN_TTM_DEFAULT`` value that points at this emulator."""
        return json.dumps({"conn_type": "ttm", "host": self.url, "password": self.api_key})

    def state(self) -> dict[str, Any]:
        """The emulator's admin view: counters, live models, deleted models."""
        return httpx.get(f"{self.url}/_emulator/state", timeout=5).json()

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the admin API (``/_emulator/<path>``) and return its JSON reply.

        :param method: the HTTP method.
        :param path: the path under ``/_emulator/``, e.g. ``config`` or ``models/<id>/status``.
        :param body: the JSON body, if any.
        """
        reply = httpx.request(method, f"{self.url}/_emulator/{path}", json=body, timeout=10)
        return reply.raise_for_status().json()

    def force_status(self, model_name: str, status: str) -> None:
        """Set a model's status now (stopping its auto-training)."""
        self.admin("POST", f"models/{model_name}/status", {"status": status})

    def __enter__(self) -> EmulatorProcess:
        command = [sys.executable, "-m", "airflow_provider_ttm.emulator", *self._args]
        self._process = start_guarded(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator exited with code {self._process.returncode}")
            try:
                self.state()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise TimeoutError("the emulator did not answer within 30 s")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None:
            forget(self._process.pid)
