"""How waits end in real Airflow runs (``airflow dags test``): reschedule mode's error count and
status log across reschedules, and ``execution_timeout`` while deferred (test DAGs in waiting_dags/)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.integration

WAITING_DAGS = Path(__file__).resolve().parent / "waiting_dags"
STATUS = "GET /v0/models/{id}/status"


@pytest.fixture
def waiting_dags(monkeypatch: pytest.MonkeyPatch, ttm_emulator):
    """The test DAGs' folder, and a model that stays ``Training`` unless a test changes it."""
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(WAITING_DAGS))
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    ttm_emulator.control.force_status(model_name, "Training")
    monkeypatch.setenv("TTM_TEST_MODEL", model_name)
    return model_name


def test_reschedule_mode_fails_after_the_tolerated_errors(
    ttm_emulator, dag_runner, waiting_dags, one_attempt_conn
) -> None:
    ttm_emulator.control.add_fault(kind="error", status=503, route=STATUS)

    result = dag_runner.run("ttm_test_reschedule_errors")

    assert result.task_states == {"wait": ["failed"]}, result.output[-3000:]
    assert ttm_emulator.control.count(STATUS) == 3
    assert "(3 failed checks in a row)" in result.output
    if AIRFLOW_V_3_3_PLUS:  # one check per run of the task: two reschedules, then the failure
        assert result.output.count("marking task as UP_FOR_RESCHEDULE") == 2
    # Kept across reschedules in task_state_store (3.3+), or counted within one poke before 3.3.
    assert "(2 in a row, 2 tolerated)" in result.output


def test_reschedule_mode_logs_an_unchanged_status_once(ttm_emulator, dag_runner, waiting_dags) -> None:
    result = dag_runner.run("ttm_test_reschedule_status_log")

    assert result.task_states == {"wait": ["failed"]}, result.output[-3000:]  # the sensor's timeout
    pokes = ttm_emulator.control.count(STATUS)
    assert pokes >= 3, result.output[-3000:]
    reschedules = result.output.count("marking task as UP_FOR_RESCHEDULE")
    logged = result.output.count(f"Model {waiting_dags} is Training")
    if AIRFLOW_V_3_3_PLUS:
        assert (reschedules, logged) == (pokes - 1, 1)
    else:  # logged at every poke; the older lines' dags test prints some log lines twice
        assert reschedules >= pokes - 1
        assert logged >= pokes


def test_execution_timeout_ends_a_deferred_wait(ttm_emulator, dag_runner, waiting_dags) -> None:
    started = time.monotonic()

    result = dag_runner.run("ttm_test_execution_timeout")

    assert result.task_states == {"sensor": ["failed"], "create_and_wait": ["failed"]}, result.output[-3000:]
    assert time.monotonic() - started < 200, "each wait ends at its 10 s execution_timeout, not at 1 h"
    # Both waits were deferred, to a trigger whose deadline is at most 10 s after the wait began
    # (Airflow 2.11's dag.test() runs triggers inline and stores none to read back).
    assert len(result.trigger_kwargs) == (2 if AIRFLOW_V_3_0_PLUS else 0)
    for kwargs in result.trigger_kwargs:
        deadline, began = (
            float(re.search(rf'"{key}": ([0-9.]+)', kwargs)[1]) for key in ("deadline", "started_at")
        )
        assert 0 < deadline - began <= 10
    # dag.test() resumes a task without the kwargs it deferred with, so the wait fails as a wait
    # timeout here; a real deployment reports the execution_timeout (tests/e2e).
    ended = set(re.findall(r"Model (\w+) was not Ready by the deadline", result.output))
    if AIRFLOW_V_3_1_PLUS or not AIRFLOW_V_3_0_PLUS:  # 3.0's dags test does not print the task's error
        assert len(ended) == 2 and waiting_dags in ended, ended  # the sensor's model and the created one


def test_waits_in_a_mapped_task_group_take_their_model_from_the_group(
    ttm_emulator, dag_runner, waiting_dags, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = TuneTheModelHook()
    models = [hook.create_model("classifier", num_classes=2).model_name for _ in range(2)]
    for model_name in models:
        ttm_emulator.control.force_status(model_name, "Ready")
    monkeypatch.setenv("TTM_TEST_MODELS", ",".join(models))

    result = dag_runner.run("ttm_test_mapped_task_group")

    assert result.state == "success", result.output[-3000:]
    assert result.task_states == {
        "wait_then_delete.wait": ["success", "success"],
        "wait_then_delete.delete": ["success", "success"],
    }
    live = {model["model_name"] for model in ttm_emulator.control.models()}
    assert live == {waiting_dags}  # both models of the group deleted, the fixture's own one kept
