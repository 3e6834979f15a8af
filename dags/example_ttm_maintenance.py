"""Every day, delete the Tune The Model models that Airflow runs created and then forgot.

A model costs money for as long as it exists. The example DAGs delete their models in teardowns,
but a teardown can fail, a run can be marked failed by hand, a DAG can be paused for good: the
models left behind are found here by the names the provider gives them by default
(``<dag_id>.<task_id>.<run_id>``) and deleted once they have not changed for ``MAX_AGE``. Models
in training are left alone, and so is the champion the nightly retrain example keeps serving (the
``model_name`` in its Airflow Variable ``ttm_nightly_champion``; until there is one, nothing is
protected by it).

The first task only lists what the second deletes, so each day's log and XCom show the models
before they go; beside them, a third lists the models in training, which no cleanup deletes but
which cost money too. A delete that fails fails the task: the models deleted before it are in the XCom
``deleted_before_failure``, and the retry deletes the rest. ``TTM_EXAMPLE_RETRY_DELAY`` (seconds,
default 300) lets the tests retry quickly.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ttm.operators.cleanup import TuneTheModelCleanupOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelListModelsOperator

RETRY_DELAY = timedelta(seconds=float(os.environ.get("TTM_EXAMPLE_RETRY_DELAY", "300")))

with DAG(
    dag_id="example_ttm_maintenance",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:
    # [START howto_ttm_cleanup]
    MAX_AGE = timedelta(days=3)
    CHAMPION = "{{ var.json.get('ttm_nightly_champion', {}).get('model_name', '') }}"

    list_forgotten = TuneTheModelCleanupOperator(
        task_id="list_forgotten_models", max_age=MAX_AGE, protected_model_ids=[CHAMPION], dry_run=True
    )
    delete_forgotten = TuneTheModelCleanupOperator(
        task_id="delete_forgotten_models",
        max_age=MAX_AGE,
        protected_model_ids=[CHAMPION],
        retries=2,
        retry_delay=RETRY_DELAY,
    )
    list_forgotten >> delete_forgotten
    # [END howto_ttm_cleanup]

    # [START howto_ttm_list_models]
    list_training = TuneTheModelListModelsOperator(
        task_id="list_models_in_training", statuses=["TrainRequested", "InQueue", "Training"]
    )
    # [END howto_ttm_list_models]
