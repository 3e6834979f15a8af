"""Test-wide setup: an isolated Airflow home (SQLite) made before anything imports Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_ttm.testing.lifetime import interrupt_on_terminate

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ttm-test-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "TTM_EXAMPLE_POKE_INTERVAL": "0.5",
        "TTM_EXAMPLE_RETRY_DELAY": "1",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI time limit, ``timeout``) stops the run as Ctrl-C does: every fixture's teardown
    runs, so every process a test started is stopped (docs/development.md)."""
    interrupt_on_terminate()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database of this test session (for ``dag.test()``)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def one_attempt_conn(ttm_emulator, monkeypatch: pytest.MonkeyPatch) -> str:
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


@pytest.fixture
def attempts_conn(ttm_emulator, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], str]:
    """``attempts_conn(n)``: a connection to the emulator trying each request ``n`` times in all,
    with no wait between attempts; returns its id."""

    def define(max_attempts: int) -> str:
        extra = {"max_attempts": max_attempts, "backoff_cap": 0, "timeout": 10}
        conn = {
            "conn_type": "ttm",
            "host": ttm_emulator.url,
            "password": ttm_emulator.api_key,
            "extra": extra,
        }
        monkeypatch.setenv("AIRFLOW_CONN_TTM_ATTEMPTS", json.dumps(conn))
        return "ttm_attempts"

    return define
