"""Test-only DAGs: how a wait ends in reschedule mode and under an ``execution_timeout``.

``TTM_TEST_MODEL`` names the model every wait is on; the test sets it, and the emulator's state.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

MODEL = os.environ.get("TTM_TEST_MODEL", "0" * 32)
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
