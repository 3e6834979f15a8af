"""What `pip install` gives: Airflow's own CLI sees the provider, and the wheel holds what it should.

These run in every Airflow line of ``make test``; the four older lines install the provider from the
wheel ``make`` built (its path in ``TTM_WHEEL``), so there they show that wheel installed next to that
Airflow and check that very file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PROJECT_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def _airflow_json(*args: str) -> list[dict[str, str]]:
    # Airflow 3.0 logs plugin set-up at INFO on stdout, before the JSON.
    completed = subprocess.run(
        [AIRFLOW, *args, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"},
    )
    return json.loads(completed.stdout)


def test_airflow_providers_list_shows_the_provider() -> None:
    providers = {row["package_name"]: row for row in _airflow_json("providers", "list")}
    assert "airflow-provider-ttm" in providers, f"not listed by Airflow {airflow_version}"
    assert providers["airflow-provider-ttm"]["version"] == PROJECT_VERSION


BUILT_WHEEL = os.environ.get("TTM_WHEEL")


@pytest.mark.skipif(not BUILT_WHEEL, reason="this environment installs the checkout editable (no TTM_WHEEL)")
def test_the_provider_is_installed_from_the_wheel_not_the_checkout() -> None:
    assert BUILT_WHEEL
    distribution = metadata.distribution("airflow-provider-ttm")
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    assert direct_url.get("url", "").endswith(f"/{Path(BUILT_WHEEL).name}")
    assert Path(BUILT_WHEEL).name == f"airflow_provider_ttm-{PROJECT_VERSION}-py3-none-any.whl"
    assert not direct_url.get("dir_info", {}).get("editable", False)
    import airflow_provider_ttm

    assert "site-packages" in Path(airflow_provider_ttm.__file__).parts


def test_airflow_providers_hooks_shows_the_connection_type() -> None:
    hooks = {row["connection_type"]: row for row in _airflow_json("providers", "hooks")}
    assert hooks["ttm"]["class"] == "airflow_provider_ttm.hooks.ttm.TuneTheModelHook"
    assert hooks["ttm"]["package_name"] == "airflow-provider-ttm"
    assert hooks["ttm"]["hook_name"] == "Tune The Model"


def test_wheel_holds_the_package_typed_and_nothing_else(tmp_path: Path) -> None:
    if BUILT_WHEEL:
        wheel = Path(BUILT_WHEEL)
    else:
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
    wheel_metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Classifier: Framework :: Apache Airflow :: Provider" in wheel_metadata
    assert "License-Expression: Apache-2.0" in wheel_metadata
    assert "Requires-Dist: apache-airflow>=2.11.2\n" in wheel_metadata
    assert "Requires-Python: >=3.11" in wheel_metadata
