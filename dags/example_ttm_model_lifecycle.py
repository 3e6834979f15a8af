"""Create a Tune The Model classifier, wait until it is Ready, then delete it.

The delete task is a teardown of the create task: it runs, and removes the model, even when the
wait fails or the run is cut short, and it is retried. ``TTM_EXAMPLE_POKE_INTERVAL`` (seconds,
default 60) and ``TTM_EXAMPLE_RETRY_DELAY`` (seconds, default 300) let the demo and the tests run
quickly against the bundled emulator; against the real service keep the defaults.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

POKE_INTERVAL = float(os.environ.get("TTM_EXAMPLE_POKE_INTERVAL", "60"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("TTM_EXAMPLE_RETRY_DELAY", "300")))

# [START howto_ttm_model_lifecycle]
with DAG(
    dag_id="example_ttm_model_lifecycle",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:
    create = TuneTheModelCreateModelOperator(
        task_id="create_model",
        model_type="classifier",
        num_classes=3,
    )
    wait = TuneTheModelModelReadySensor(
        task_id="wait_until_ready",
        model_name=create.output,
        poke_interval=POKE_INTERVAL,
        timeout=60 * 60 * 6,
        mode="reschedule",
    )
    # Cleanup is worth retrying: a model left behind keeps costing money.
    delete = TuneTheModelDeleteModelOperator(
        task_id="delete_model", model_name=create.output, retries=2, retry_delay=RETRY_DELAY
    )

    create >> wait >> delete.as_teardown(setups=create)
# [END howto_ttm_model_lifecycle]
