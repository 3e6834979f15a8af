"""The ``ttm-emulator`` command: it serves, prints how to connect, and stops on SIGTERM or SIGINT."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from airflow_provider_ttm.emulator import EmulatorServer
from airflow_provider_ttm.emulator.cli import main
from airflow_provider_ttm.emulator.config import parse_duration

FAULT = json.dumps({"route": "GET /v0/public-models", "kind": "rate_limit", "retry_after": "7"})


def _start(command, tmp_path):
    stderr = (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        banner, conn_line = process.stdout.readline(), process.stdout.readline()
    finally:
        watchdog.cancel()
    return process, banner, conn_line


def _stop(process, signum):
    process.send_signal(signum)
    try:
        return process.wait(timeout=10)
    finally:
        process.kill()
        process.stdout.close()


def test_module_serves_and_prints_the_connection(tmp_path):
    command = [sys.executable, "-m", "airflow_provider_ttm.emulator", "--port", "0", "--api-key", "k1"]
    command += ["--api-key", "k2", "--auto-train", "250ms", "--id-spelling", "model_id", "--fault", FAULT]
    process, banner, conn_line = _start(command, tmp_path)
    try:
        url = banner.split(" on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        name, _, value = conn_line.strip().partition("=")
        assert name == "AIRFLOW_CONN_TTM_DEFAULT"
        assert json.loads(shlex.split(value)[0]) == {"conn_type": "ttm", "host": url, "password": "k1"}

        headers = {"Authorization": "k2"}
        created = requests.post(
            url + "/v0/models", json={"model_type": "generator"}, headers=headers, timeout=5
        )
        assert set(created.json()) >= {"model_id", "name"}
        assert "model_name" not in created.json()
        assert (
            requests.get(url + "/v0/public-models", headers=headers, timeout=5).headers["Retry-After"] == "7"
        )
        settings = requests.get(url + "/_emulator/config", timeout=5).json()
        assert (settings["auto_train_seconds"], settings["api_key_count"]) == (0.25, 2)
    finally:
        assert _stop(process, signal.SIGTERM) == 0


def test_console_script_stops_on_sigint(tmp_path):
    script = Path(sys.executable).with_name("ttm-emulator")
    if not script.exists():
        pytest.skip("the package is not installed with its console script")
    process, banner, conn_line = _start([str(script), "--port", "0"], tmp_path)
    try:
        assert "ttm-emulator-key" in conn_line
        url = banner.split(" on ")[1].split()[0]
        assert requests.get(url + "/v0/models", headers={"Authorization": "ttm-emulator-key"}, timeout=5).ok
    finally:
        assert _stop(process, signal.SIGINT) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--train-duration", "soon"],
        ["--fit-failure-rate", "2"],
        ["--fit-failure-rate", "often"],
        ["--fault", "{not json"],
        ["--fault", "[1]"],
        ["--fault", '{"kind": "explode"}'],
        ["--id-spelling", "camel"],
        ["--api-key-alias", "new-key"],
        ["--api-key-alias", "=old-key"],
    ],
)
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert "ttm-emulator" in capsys.readouterr().err


def test_a_busy_port_exits_1(capsys):
    with EmulatorServer() as busy:
        assert main(["--port", str(busy.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_an_invalid_setting_exits_2(capsys):
    assert main(["--api-key", ""]) == 2
    assert "API key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5.0), ("2m", 120.0), ("1.5", 1.5), ("250ms", 0.25), ("1h", 3600.0), (3, 3.0)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 days", "-1s", "s", True])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
