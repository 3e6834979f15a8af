"""Test-only DAGs: the create and train operators announce their model through asset aliases.

``ttm_test_model_assets`` creates a classifier (announced on ``ttm-test-created`` as soon as it
exists), trains it deferrably (announced on ``ttm-test-trained`` once Ready, from
``execute_complete``), then deletes it. ``ttm_test_on_trained`` is scheduled on the second alias.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, AssetAlias, task

from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)

START = datetime(2026, 1, 1)
DATA = {"inputs": [f"message {i}" for i in range(32)], "classes": [i % 2 for i in range(32)]}

with DAG("ttm_test_model_assets", schedule=None, start_date=START, catchup=False):
    create = TuneTheModelCreateModelOperator(
        task_id="create", model_type="classifier", num_classes=2, asset_alias="ttm-test-created"
    )
    train = TuneTheModelTrainModelOperator(
        task_id="train",
        model_name=create.output,
        train_data=DATA,
        validation_data=DATA,
        model_type="classifier",
        num_classes=2,
        wait_for_ready=True,
        deferrable=True,
        poll_interval=0.5,
        asset_alias="ttm-test-trained",
    )
    delete = TuneTheModelDeleteModelOperator(task_id="delete", model_name=create.output)
    create >> train >> delete.as_teardown(setups=create)

with DAG(
    "ttm_test_on_trained",
    schedule=[AssetAlias("ttm-test-trained")],
    start_date=START,
    catchup=False,
    is_paused_upon_creation=False,
):

    @task
    def noop() -> None:
        """Never run here: the test checks that Airflow queued a run."""

    noop()
