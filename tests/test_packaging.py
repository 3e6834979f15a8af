"""What `pip install` gives: Airflow's own CLI sees the provider, and the wheel holds what it should."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _airflow_json(*args: str) -> list[dict[str, str]]:
    completed = subprocess.run(
        [AIRFLOW, *args, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    return json.loads(completed.stdout)


def test_airflow_providers_list_shows_the_provider() -> None:
    providers = {row["package_name"]: row for row in _airflow_json("providers", "list")}
    assert "airflow-provider-ttm" in providers
    assert providers["airflow-provider-ttm"]["version"] == "0.1.0"


def test_airflow_providers_hooks_shows_the_connection_type() -> None:
    hooks = {row["connection_type"]: row for row in _airflow_json("providers", "hooks")}
    assert hooks["ttm"]["class"] == "airflow_provider_ttm.hooks.ttm.TuneTheModelHook"
    assert hooks["ttm"]["package_name"] == "airflow-provider-ttm"
    assert hooks["ttm"]["hook_name"] == "Tune The Model"


def test_wheel_holds_the_package_typed_and_nothing_else(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("airflow_provider_ttm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "airflow_provider_ttm/py.typed" in names
    assert "airflow_provider_ttm/emulator/app.py" in names
    assert not [name for name in names if name.startswith(("tests/", "dags/", "benchmarks/"))]
    entry_points = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    )
    assert "[apache_airflow_provider]" in entry_points
    assert "provider_info = airflow_provider_ttm.get_provider_info:get_provider_info" in entry_points
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Classifier: Framework :: Apache Airflow :: Provider" in metadata
    assert "License-Expression: Apache-2.0" in metadata
