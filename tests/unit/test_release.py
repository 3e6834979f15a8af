"""The release as a user gets it: the lifecycle example DAG runs from the installed wheel.

``make release-check`` runs this (``TTM_RELEASE_CHECK=1``) in a new venv that holds only the pinned
Airflow and the built wheel. The DAG runs in a real Airflow (``airflow dags test``, through
``airflow_provider_ttm.testing.demo``) against the bundled emulator, from a folder outside the
checkout with a copy of the DAG file, so no path on the way leads back to the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "example_ttm_model_lifecycle"

pytestmark = pytest.mark.skipif(
    os.environ.get("TTM_RELEASE_CHECK") != "1",
    reason="runs in `make release-check` (the built wheel alone in a new venv)",
)


@pytest.fixture
def outside(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder outside the checkout holding a copy of the DAG, and an environment that names neither
    the checkout nor this test session's Airflow home (the demo makes its own under ``TMPDIR``)."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / f"{DAG_ID}.py", dags)
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(("AIRFLOW", "TTM_"))
    }
    env["TMPDIR"] = str(tmp_path)
    return tmp_path, env


def test_the_provider_is_imported_from_site_packages_outside_the_checkout(outside) -> None:
    folder, env = outside
    show = "import json, sys, airflow_provider_ttm as p; print(json.dumps([p.__file__, sys.path]))"
    shown = subprocess.run(
        [sys.executable, "-c", show], cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    module_file, search_path = json.loads(shown.stdout)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    assert Path(module_file) == site_packages / "airflow_provider_ttm" / "__init__.py"
    # The venv may live in the checkout (.venv-release-check); nothing else on the path may.
    venv = Path(sys.prefix).resolve()
    into_checkout = [
        entry
        for entry in map(Path, filter(None, search_path))
        if entry.resolve().is_relative_to(REPO_ROOT) and not entry.resolve().is_relative_to(venv)
    ]
    assert into_checkout == []


def test_the_lifecycle_dag_runs_from_the_wheel_against_the_emulator(outside) -> None:
    folder, env = outside
    demo = [sys.executable, "-m", "airflow_provider_ttm.testing.demo", "--dags-folder", "dags", DAG_ID]
    run = subprocess.run(demo, cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"=== {DAG_ID} succeeded" in run.stdout
    assert "All 1 DAG(s) succeeded and no model was left behind." in run.stdout
    # The provider's own log lines, from the DAG's tasks: it created, waited for and deleted a model.
    for step in ("Created classifier", "is Ready", "Deleted model"):
        assert step in run.stdout, step
