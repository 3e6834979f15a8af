"""Fixtures of the emulator's tests: one real server for the session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.emulator_client import FILE_SECONDS, KEY, OTHER_KEY, TRAIN_SECONDS, Api

from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer, ManualClock


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        api_keys=(KEY, OTHER_KEY), train_seconds=TRAIN_SECONDS, file_processing_seconds=FILE_SECONDS
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def server(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session's server, reset to its start state."""
    emulator_server.control.reset()
    return emulator_server


@pytest.fixture
def clock(server: EmulatorServer) -> ManualClock:
    """A hand-driven clock installed in the server."""
    manual = ManualClock()
    server.control.configure(clock=manual)
    return manual


@pytest.fixture
def api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.url, KEY)
    yield client
    client.session.close()


@pytest.fixture
def other_api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.url, OTHER_KEY)
    yield client
    client.session.close()
