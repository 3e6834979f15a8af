"""Fixtures of the hostile-server tests: the server, and connections that point at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hostile.server import HostileServer

#: An API key long enough for Airflow's secrets masker, with characters JSON and URLs escape.
API_KEY = "ttm/Ab3+xK9/q7Zr=key"


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    """A started ``HostileServer``, stopped (its trickling replies cancelled) after the test."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile_conn(hostile_server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define a connection to the hostile server (extras as keyword arguments); returns its id."""

    def define(conn_id: str = "ttm_hostile", *, password: str = API_KEY, **extra: Any) -> str:
        fields = {"conn_type": "ttm", "host": hostile_server.url, "password": password, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return define
