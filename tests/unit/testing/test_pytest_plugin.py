"""The ``ttm_emulator`` fixture that the package's pytest plugin gives every test suite."""

from __future__ import annotations

import json
import os

import pytest
import requests

from airflow_provider_ttm.testing.pytest_plugin import CONN_ENV


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_clean_emulator_named_by_the_default_connection(ttm_emulator, run):
    assert ttm_emulator.control.models() == []
    assert ttm_emulator.control.counters() == {}
    assert ttm_emulator.control.faults() == []
    assert ttm_emulator.control.config.train_seconds == 1.0
    connection = json.loads(os.environ[CONN_ENV])
    assert connection == {"conn_type": "ttm", "host": ttm_emulator.url, "password": ttm_emulator.api_key}
    assert json.loads(ttm_emulator.conn_json) == connection

    # Leave a mess for the other run to prove it is cleaned up.
    headers = {"Authorization": connection["password"]}
    created = requests.post(
        connection["host"] + "/v0/models", json={"model_type": "generator"}, headers=headers
    )
    assert created.status_code == 200
    ttm_emulator.control.configure(train_seconds=99.0)
    ttm_emulator.control.add_fault(kind="error", route="/v0/nothing")
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_the_plugin_imports_no_emulator_until_a_fixture_runs():
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_ttm.testing.pytest_plugin\n"
        "loaded = [m for m in sys.modules if m.startswith(('airflow_provider_ttm.emulator', 'uvicorn', 'starlette'))]\n"
        "print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
