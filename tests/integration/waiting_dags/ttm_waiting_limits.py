"""Test-only DAGs: how a wait ends in reschedule mode and under an ``execution_timeout``, and waits
in a mapped task group.

``TTM_TEST_MODEL`` names the model every wait is on (``TTM_TEST_MODELS``, comma-separated, those of
the mapped task group); the test sets them, and the emulator's state.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, task_group

from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

MODEL = os.environ.get("TTM_TEST_MODEL", "0" * 32)
MODELS = os.environ.get("TTM_TEST_MODELS", "0" * 32).split(",")
START = datetime(2026, 1, 1)

with DAG("ttm_test_reschedule_errors", schedule=None, start_date=START, catchup=False):
    TuneTheModelModelReadySensor(
        task_id="wait",
        model_name=MODEL,
        mode="reschedule",
        poke_interval=0.5,
        timeout=120,
        max_consecutive_errors=2,
        ttm_conn_id="ttm_one_attempt",
    )

with DAG("ttm_test_reschedule_status_log", schedule=None, start_date=START, catchup=False):
    TuneTheModelModelReadySensor(
        task_id="wait", model_name=MODEL, mode="reschedule", poke_interval=0.5, timeout=10
    )

with DAG("ttm_test_execution_timeout", schedule=None, start_date=START, catchup=False):
    TuneTheModelModelReadySensor(
        task_id="sensor",
        model_name=MODEL,
        deferrable=True,
        poke_interval=1,
        timeout=3600,
        execution_timeout=timedelta(seconds=10),
    )
    TuneTheModelCreateModelOperator(
        task_id="create_and_wait",
        model_type="generator",
        wait_for_ready=True,
        deferrable=True,
        poll_interval=1,
        timeout=3600,
        execution_timeout=timedelta(seconds=10),
    )


with DAG("ttm_test_mapped_task_group", schedule=None, start_date=START, catchup=False):

    @task_group
    def wait_then_delete(model_name: str) -> None:
        """One model's wait and deletion: ``model_name`` is a MappedArgument when the DAG is parsed."""
        waited = TuneTheModelModelReadySensor(
            task_id="wait", model_name=model_name, deferrable=True, poke_interval=0.5, timeout=120
        )
        waited >> TuneTheModelDeleteModelOperator(task_id="delete", model_name=model_name)

    wait_then_delete.expand(model_name=MODELS)
