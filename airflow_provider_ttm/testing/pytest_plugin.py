"""
pytest fixtures serving the TTM API emulator over loopback.

``ttm_emulator`` gives each test a clean emulator, with ``AIRFLOW_CONN_TTM_DEFAULT`` pointing at it::

    def test_create(ttm_emulator):
        ttm_emulator.control.add_fault(kind="rate_limit", route="POST /v0/models", times=1)
        ...
        assert ttm_emulator.control.count("POST /v0/models") == 2

The ``pytest11`` entry point ``ttm_emulator`` loads this module in every pytest run where the provider
is installed, so it imports only pytest and the standard library, and the emulator inside the fixtures
(docs/packaging.md has the measured cost). ``-p no:ttm_emulator`` turns it off; where plugin autoloading
is off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``), ``-p airflow_provider_ttm.testing.pytest_plugin`` turns it on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_ttm.emulator import EmulatorControl, EmulatorServer

TEST_API_KEY = "ttm-test-key"
CONN_ENV = "AIRFLOW_CONN_TTM_DEFAULT"


@dataclass(frozen=True)
class EmulatorHandle:
    """
    What the ``ttm_emulator`` fixture yields.

    :param url: the emulator's base URL (``http://127.0.0.1:PORT``), the connection's host.
    :param api_key: the API key it accepts, the connection's password.
    :param control: faults, counters, models, forced statuses and settings
        (:class:`~airflow_provider_ttm.emulator.EmulatorControl`).
    :param conn_json: the JSON connection set as ``AIRFLOW_CONN_TTM_DEFAULT``.
    """

    url: str
    api_key: str
    control: EmulatorControl
    conn_json: str


@pytest.fixture(scope="session")
def ttm_emulator_server() -> Iterator[EmulatorServer]:
    """One emulator for the whole session, accepting the key ``ttm-test-key``."""
    from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(api_keys=(TEST_API_KEY,))) as server:
        yield server


@pytest.fixture
def ttm_emulator(ttm_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """A freshly reset emulator (no models, files, faults; start settings), set as ``ttm_default``."""
    ttm_emulator_server.control.reset()
    monkeypatch.setenv(CONN_ENV, ttm_emulator_server.conn_json)
    return EmulatorHandle(
        url=ttm_emulator_server.url,
        api_key=ttm_emulator_server.api_key,
        control=ttm_emulator_server.control,
        conn_json=ttm_emulator_server.conn_json,
    )
