"""Every example DAG imports cleanly: no import errors and no deprecation warnings from our code."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, EVENT_TRIGGERS_SUPPORTED

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"

DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
#: Examples of features Airflow 2.11 lacks (their docs say so): they import on Airflow 3 only.
AIRFLOW_3_ONLY = {"example_ttm_model_ready_watcher"}


def test_there_are_example_dags() -> None:
    assert {path.stem for path in DAG_FILES} >= {"example_ttm_model_lifecycle", "example_ttm_deferrable"}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.stem)
def test_dag_file_imports_without_errors_or_warnings(dag_file, request: pytest.FixtureRequest) -> None:
    if dag_file.stem in AIRFLOW_3_ONLY and not EVENT_TRIGGERS_SUPPORTED:
        pytest.skip("an Airflow 3 feature (AssetWatcher)")
    if not AIRFLOW_V_3_0_PLUS:  # 2.11 looks a DatasetAlias schedule up in its database while parsing
        request.getfixturevalue("airflow_db")
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    assert bag.dags, f"{dag_file.name} defines no DAG"
    ours = [w for w in caught if "airflow_provider_ttm" in str(w.filename) or "dags/" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    for dag in bag.dags.values():
        assert dag.tags and "tune-the-model" in dag.tags
