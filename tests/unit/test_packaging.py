"""What `pip install` gives: Airflow's own CLI sees the provider, and the sdist and wheel hold what they should.

These run in every Airflow line of ``make test``; the four older lines and ``make release-check``
install the provider from the wheel ``make`` built (its path in ``TTM_WHEEL``, the sdist beside it),
so there they show that wheel installed next to that Airflow and check those very files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PACKAGE = REPO_ROOT / "airflow_provider_ttm"


def _checkout_version() -> str:
    """``__version__`` of the checkout's package, read as the Makefile reads it."""
    found = re.search(r'^__version__ = "([^"]+)"$', (PACKAGE / "__init__.py").read_text(), re.MULTILINE)
    assert found, "airflow_provider_ttm/__init__.py sets no __version__"
    return found[1]


PROJECT_VERSION = _checkout_version()


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


def test_the_version_is_written_once_in_the_package() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "airflow_provider_ttm.__version__"}
    import airflow_provider_ttm

    assert airflow_provider_ttm.__version__ == PROJECT_VERSION
    assert metadata.version("airflow-provider-ttm") == PROJECT_VERSION


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


def _checkout_copy(tmp_path: Path) -> Path:
    """The checkout without venvs, caches and build output (a build writes into its source tree, and
    the builds of parallel test processes must not share one)."""
    ignored = shutil.ignore_patterns(
        ".venv*", ".git", "dist", "build", "*.egg-info", "__pycache__", ".*_cache"
    )
    return Path(shutil.copytree(REPO_ROOT, tmp_path / "checkout", ignore=ignored))


def test_wheel_holds_the_package_typed_and_nothing_else(tmp_path: Path) -> None:
    if BUILT_WHEEL:
        wheel = Path(BUILT_WHEEL)
    else:
        pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
        subprocess.run(
            [sys.executable, "-m", *pip_wheel, str(_checkout_copy(tmp_path))], check=True, capture_output=True
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
    assert "[pytest11]\nttm_emulator = airflow_provider_ttm.testing.pytest_plugin" in entry_points
    wheel_metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Classifier: Framework :: Apache Airflow :: Provider" in wheel_metadata
    assert "License-Expression: Apache-2.0" in wheel_metadata
    assert "Requires-Dist: apache-airflow>=2.11.2\n" in wheel_metadata
    assert "Requires-Dist: httpx>=0.27\n" in wheel_metadata  # imported by hooks/transport.py
    assert "Requires-Python: >=3.11" in wheel_metadata
    assert f"Version: {PROJECT_VERSION}\n" in wheel_metadata
    assert "Description-Content-Type: text/markdown" in wheel_metadata


def _sdist(tmp_path: Path) -> Path:
    """The sdist beside the built wheel, or one built now from the checkout by setuptools' PEP 517 hook."""
    if BUILT_WHEEL:
        return Path(BUILT_WHEEL).with_name(f"airflow_provider_ttm-{PROJECT_VERSION}.tar.gz")
    build_sdist = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    built = subprocess.run(
        [sys.executable, "-c", build_sdist, str(tmp_path)],
        cwd=_checkout_copy(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    return tmp_path / built.stdout.splitlines()[-1]


def test_sdist_holds_the_package_readme_license_and_changelog_and_no_tests(tmp_path: Path) -> None:
    top = f"airflow_provider_ttm-{PROJECT_VERSION}/"
    with tarfile.open(_sdist(tmp_path)) as sdist:
        names = {name.removeprefix(top) for name in sdist.getnames()}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO"} <= names
    assert "airflow_provider_ttm/py.typed" in names
    checkout_modules = {str(path.relative_to(REPO_ROOT)) for path in PACKAGE.rglob("*.py")}
    assert {name for name in names if name.startswith("airflow_provider_ttm/") and name.endswith(".py")} == (
        checkout_modules
    )
    junk = ("tests", "dags", "benchmarks", "docs", "requirements", "build", "dist", ".venv", ".ci", ".git")
    assert not [name for name in names if name.split("/")[0].startswith(junk) or "__pycache__" in name]
