"""The kill policy (``airflow_provider_ttm.kill``) and how a task reads its own state."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.kill import kill_verdict
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, task_instance_state


@pytest.mark.parametrize(
    ("timed_out", "retry_follows", "state", "stop"),
    [
        (False, False, "failed", True),  # mark failed
        (False, True, "failed", True),  # mark failed: no retry follows a user's mark
        (False, False, "success", False),  # mark success
        (False, False, "restarting", False),  # clear of a running task
        (False, False, None, False),  # clear of a deferred task, or a state that cannot be read
        (False, False, "scheduled", False),  # cleared, and the next try is on its way
        (False, False, "running", False),  # the worker shuts down
        (True, False, "running", True),  # execution_timeout of the last try
        (True, True, "running", False),  # execution_timeout with a retry to come: it resumes
    ],
)
def test_only_mark_failed_and_a_final_timeout_stop_the_training(
    timed_out, retry_follows, state, stop
) -> None:
    verdict = kill_verdict(timed_out=timed_out, retry_follows=retry_follows, state=state)

    assert verdict.stop is stop
    assert verdict.reason


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3 asks the supervisor; 2.11 reads its database")
@pytest.mark.parametrize(("map_index", "key"), [(-1, "train"), (3, "train_3")])
def test_the_state_is_asked_of_the_supervisor(monkeypatch, map_index, key) -> None:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked = []

    def get_task_states(**criteria):
        asked.append(criteria)
        return {"r1": {key: "failed", "other": "success"}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(get_task_states))

    assert task_instance_state("d", "train", "r1", map_index) == "failed"
    assert asked == [{"dag_id": "d", "task_ids": ["train"], "run_ids": ["r1"], "map_index": map_index}]
    assert task_instance_state("d", "train", "r2", map_index) is None
