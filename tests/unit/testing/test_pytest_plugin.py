"""The ``ttm_emulator`` fixture that the package's pytest plugin gives every test suite, and how it loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


def test_the_plugin_imports_no_emulator_and_no_airflow_until_a_fixture_runs():
    code = (
        "import sys, airflow_provider_ttm.testing.pytest_plugin\n"
        "heavy = ('airflow_provider_ttm.emulator', 'uvicorn', 'starlette', 'httpx', 'requests', 'airflow')\n"
        "print([m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy[0])])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# A user's test: it reaches the emulator through the connection the fixture sets.
USER_TEST = """
import json, os, requests


def test_my_code_creates_one_model(ttm_emulator):
    connection = json.loads(os.environ["AIRFLOW_CONN_TTM_DEFAULT"])
    headers = {"Authorization": connection["password"]}
    requests.post(connection["host"] + "/v0/models", json={"model_type": "generator"}, headers=headers)
    assert ttm_emulator.control.count("POST /v0/models") == 1
"""


@pytest.mark.parametrize(
    ("options", "autoload", "outcome"),
    [
        pytest.param([], True, "1 passed", id="installed-the-entry-point-loads-it"),
        pytest.param(["-p", "no:ttm_emulator"], True, "fixture 'ttm_emulator' not found", id="turned-off"),
        pytest.param([], False, "fixture 'ttm_emulator' not found", id="autoload-off"),
        pytest.param(
            ["-p", "airflow_provider_ttm.testing.pytest_plugin"],
            False,
            "1 passed",
            id="autoload-off-named-with-p",
        ),
    ],
)
def test_a_project_outside_this_repository_gets_the_fixture_from_the_installed_plugin(
    tmp_path, options, autoload, outcome
):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "PYTHONPATH"))
    }
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "test_user.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert outcome in run.stdout, run.stdout + run.stderr
    assert run.returncode == (0 if outcome == "1 passed" else 1)
