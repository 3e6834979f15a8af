"""Waits that never take a worker slot: each sensor starts and ends in the triggerer.

One create task per model, each followed by a sensor with ``start_from_trigger=True``: on Airflow
3.3+ the scheduler hands the sensor straight to the triggerer, which renders its ``model_name``
(the create task's XCom, through a Jinja template), waits there, and ends the task itself when the
model is Ready (the model's record is the sensor's XCom) or its training failed. No worker runs
the sensors. On older Airflow the sensors defer from a worker as usual. The tasks are not mapped: Airflow starts a mapped task on a worker. ``TTM_EXAMPLE_POKE_INTERVAL``
(seconds, default 60) lets the demo poll the bundled emulator quickly.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

POKE_INTERVAL = float(os.environ.get("TTM_EXAMPLE_POKE_INTERVAL", "60"))

MODEL_CONFIGS = {
    "binary": {"model_type": "classifier", "num_classes": 2},
    "five_classes": {"model_type": "classifier", "num_classes": 5},
    "generator": {"model_type": "generator"},
}

with DAG(
    dag_id="example_ttm_start_from_trigger",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:
    for name, config in MODEL_CONFIGS.items():
        # [START howto_ttm_start_from_trigger]
        create = TuneTheModelCreateModelOperator(task_id=f"create_{name}", **config)
        wait = TuneTheModelModelReadySensor(
            task_id=f"wait_{name}",
            # A Jinja template, not create.output: the triggerer renders templates, not XComArgs.
            model_name=f"{{{{ ti.xcom_pull(task_ids='create_{name}', map_indexes=-1) }}}}",
            deferrable=True,
            start_from_trigger=True,
            poke_interval=POKE_INTERVAL,
            timeout=60 * 60 * 6,
        )
        # [END howto_ttm_start_from_trigger]
        delete = TuneTheModelDeleteModelOperator(task_id=f"delete_{name}", model_name=create.output)
        create >> wait >> delete.as_teardown(setups=create)
