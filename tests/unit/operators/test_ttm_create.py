"""TuneTheModelCreateModelOperator against the emulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout, TaskDeferred

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)
from airflow_provider_ttm.operators.base import DEFER_TIMEOUT_GRACE
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_3_PLUS


def _arguments(**kwargs: Any) -> dict[str, Any]:
    return {"model_type": "classifier", "num_classes": 3, **kwargs}


def _operator(**kwargs: Any) -> TuneTheModelCreateModelOperator:
    return TuneTheModelCreateModelOperator(task_id="create", **_arguments(**kwargs))


def test_creates_returns_the_id_and_pushes_it_at_once(ttm_emulator, context) -> None:
    model_name = _operator().execute(context)

    (model,) = ttm_emulator.control.models()
    assert model["model_name"] == model_name
    assert model["model_params"] == {"num_classes": 3}
    assert model["user_name"] == "demo_dag.create.manual__2026-11-26T00:00:00+00:00"
    assert context["ti"].xcoms == {"return_value": model_name}


@pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="task_state_store and ResumableJobMixin arrived in Airflow 3.3"
)
def test_the_model_id_is_kept_in_the_task_state_store(ttm_emulator, context) -> None:
    model_name = _operator().execute(context)

    assert context["task_state_store"].values == {"ttm_model_name": model_name}


def test_a_retried_task_resumes_its_model_instead_of_creating_another(ttm_emulator, context) -> None:
    first = _operator().execute(context)
    second = _operator().execute(context)

    assert second == first
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_without_a_state_store_the_default_name_still_finds_the_model(ttm_emulator, context) -> None:
    del context["task_state_store"]
    first = _operator().execute(context)
    second = _operator().execute(context)

    assert second == first
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_a_user_given_name_is_used_and_not_adopted(ttm_emulator, context) -> None:
    del context["task_state_store"]
    first = _operator(name="tweets").execute(context)
    second = _operator(name="tweets").execute(context)

    assert first != second
    assert {m["user_name"] for m in ttm_emulator.control.models()} == {"tweets"}


def test_wait_for_ready_in_the_worker(ttm_emulator, context) -> None:
    ttm_emulator.control.configure(auto_train_seconds=0.3)

    model_name = _operator(wait_for_ready=True, deferrable=False, poll_interval=0.05).execute(context)

    assert ttm_emulator.control.models()[0]["status"] == "Ready"
    assert context["ti"].xcoms["return_value"] == model_name


def test_wait_for_ready_fails_on_fit_failure(ttm_emulator, context) -> None:
    ttm_emulator.control.configure(auto_train_seconds=0.2, fit_failure_rate=1.0)

    with pytest.raises(TuneTheModelFitFailedError):
        _operator(wait_for_ready=True, deferrable=False, poll_interval=0.05).execute(context)
    assert len(context["ti"].xcoms["return_value"]) == 32


def test_wait_for_ready_times_out(ttm_emulator, context) -> None:
    operator = _operator(wait_for_ready=True, deferrable=False, poll_interval=0.05, timeout=0.2)

    with pytest.raises(TuneTheModelWaitTimeoutError, match=r"not Ready after 0\.2 s"):
        operator.execute(context)


def test_deferrable_wait_defers_with_the_timeout(ttm_emulator, context) -> None:
    operator = _operator(wait_for_ready=True, deferrable=True, poll_interval=5, timeout=timedelta(hours=2))

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, TuneTheModelModelStatusTrigger)
    assert trigger.model_name == context["ti"].xcoms["return_value"]
    assert trigger.poll_interval == 5
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.kwargs == {"deadline_set_by": "timeout"}
    time_left = trigger.deadline - time.time()
    assert timedelta(hours=2) - timedelta(minutes=1) < timedelta(seconds=time_left) <= timedelta(hours=2)
    assert abs(deferred.value.timeout - DEFER_TIMEOUT_GRACE - timedelta(seconds=time_left)) < timedelta(
        minutes=1
    )


def test_execute_complete_trusts_only_the_event(ttm_emulator, context) -> None:
    operator = _operator()
    ready = {"status": "success", "model_name": "a" * 32, "model_status": "Ready", "message": "",
             "model": {"model_name": "a" * 32, "status": "Ready"}}  # fmt: skip
    assert operator.execute_complete(context, ready) == "a" * 32
    with pytest.raises(TuneTheModelFitFailedError):
        operator.execute_complete(context, {**ready, "status": "failed", "model": None})
    with pytest.raises(TuneTheModelWaitTimeoutError):
        operator.execute_complete(context, {**ready, "status": "timeout"})
    with pytest.raises(TuneTheModelError):
        operator.execute_complete(context, {**ready, "status": "error"})
    with pytest.raises(TuneTheModelError, match="Unexpected"):
        operator.execute_complete(context, {"status": "success"})
    with pytest.raises(TuneTheModelError, match="Unexpected"):
        operator.execute_complete(context, {**ready, "model": {"model_name": "b" * 32}})
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_type": "regressor"}, "model_type must be one of classifier, generator"),
        ({"num_classes": 1}, "num_classes must be a whole number of at least 2"),
        ({"num_classes": 0}, "num_classes must be a whole number of at least 2"),
        ({"num_classes": -3}, "num_classes must be a whole number of at least 2"),
        ({"num_classes": "3a"}, "num_classes must be a whole number of at least 2"),
        ({"num_classes": 2.5}, "num_classes must be a whole number of at least 2"),
        ({"model_type": "generator", "num_classes": 3}, "num_classes applies to classifiers only"),
        ({"name": "  "}, "name must be a non-blank string"),
        ({"poll_interval": 0}, "poll_interval must be a number of seconds"),
        ({"poll_interval": -1}, "poll_interval must be a number of seconds"),
        ({"timeout": 0}, "timeout must be a number of seconds"),
        ({"timeout": timedelta(seconds=-5)}, "timeout must be a number of seconds"),
        ({"pretrained_model": "../etc"}, "pretrained_model must be a model id"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(ttm_emulator, refusal, kwargs, message) -> None:
    refusal(TuneTheModelCreateModelOperator, _arguments(**kwargs), list(kwargs)[-1], message)
    assert ttm_emulator.control.counters() == {}


def test_templated_arguments_are_checked_once_rendered_before_any_request(ttm_emulator, context) -> None:
    operator = _operator(num_classes="{{ params.classes }}")
    operator.num_classes = "3a"  # what rendering produced

    with pytest.raises(ValueError, match="num_classes"):
        operator.execute(context)
    assert ttm_emulator.control.counters() == {}


def test_rendered_numeric_string_is_accepted(ttm_emulator, context) -> None:
    operator = _operator(num_classes="{{ params.classes }}")
    operator.num_classes = "4"

    operator.execute(context)

    assert ttm_emulator.control.models()[0]["model_params"] == {"num_classes": 4}


def test_deferred_wait_ends_at_the_execution_timeout(ttm_emulator, context) -> None:
    context["ti"].start_date = datetime.now(UTC) - timedelta(seconds=5)
    operator = _operator(
        wait_for_ready=True,
        deferrable=True,
        timeout=timedelta(hours=2),
        execution_timeout=timedelta(seconds=20),
    )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    assert deferred.value.trigger.deadline == pytest.approx(
        context["ti"].start_date.timestamp() + 20, abs=0.01
    )
    assert deferred.value.timeout < timedelta(seconds=15) + DEFER_TIMEOUT_GRACE
    timeout = {"status": "timeout", "model_name": "a" * 32, "model_status": "Created", "message": "late"}
    with pytest.raises(AirflowTaskTimeout, match="execution_timeout"):
        operator.resume_execution("execute_complete", {**deferred.value.kwargs, "event": timeout}, context)
