"""Several Tune The Model models waited on at once in the triggerer (deferrable mode).

One create task per model configuration (dynamic task mapping), then a deferrable sensor per
model, then a teardown deleting every model; beside it, one task that creates a generator and
waits for it in the triggerer itself (``wait_for_ready=True``), then one that generates responses
with it. While the models train no worker slot is held: each wait is a trigger in the triggerer. ``TTM_EXAMPLE_POKE_INTERVAL`` (seconds, default
60) lets the demo poll the bundled emulator quickly.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.sdk import DAG, TriggerRule

from airflow_provider_ttm.operators.inference import TuneTheModelGenerateOperator
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

POKE_INTERVAL = float(os.environ.get("TTM_EXAMPLE_POKE_INTERVAL", "60"))

MODEL_CONFIGS = [
    {"model_type": "classifier", "num_classes": 2},
    {"model_type": "classifier", "num_classes": 5},
    {"model_type": "generator"},
]

with DAG(
    dag_id="example_ttm_deferrable",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:
    # [START howto_ttm_deferrable_sensor]
    create = TuneTheModelCreateModelOperator.partial(task_id="create_model").expand_kwargs(MODEL_CONFIGS)
    wait = TuneTheModelModelReadySensor.partial(
        task_id="wait_until_ready",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=60 * 60 * 6,
    ).expand(model_name=create.output)
    delete = TuneTheModelDeleteModelOperator.partial(task_id="delete_model").expand(model_name=create.output)
    create >> wait >> delete.as_teardown(setups=create)
    # [END howto_ttm_deferrable_sensor]

    # [START howto_ttm_create_and_wait]
    # The same in one task: create, then wait in the triggerer before the task finishes.
    create_and_wait = TuneTheModelCreateModelOperator(
        task_id="create_and_wait",
        model_type="generator",
        wait_for_ready=True,
        deferrable=True,
        poll_interval=POKE_INTERVAL,
        timeout=60 * 60 * 6,
    )
    # Once it is Ready, the generator answers each input with num_hypos responses.
    generate = TuneTheModelGenerateOperator(
        task_id="generate",
        model_name=create_and_wait.output,
        inputs=["Write a one-line product description for a kettle", "Suggest a name for a bakery"],
        num_hypos=2,
        max_tokens=32,
    )
    delete_generator = TuneTheModelDeleteModelOperator(
        task_id="delete_generator", model_name=create_and_wait.output
    )
    create_and_wait >> generate >> delete_generator.as_teardown(setups=create_and_wait)
    # A create-and-wait task is its own setup: when its wait fails, the setup has failed, which a
    # teardown's default trigger rule reads as "nothing to tear down". The model exists by then
    # (its id is in XCom before the wait starts), so this teardown runs whatever happened.
    delete_generator.trigger_rule = TriggerRule.ALL_DONE
    # [END howto_ttm_create_and_wait]
