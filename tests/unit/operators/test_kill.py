"""``on_kill`` of the create and train operators and the sensor, on the worker, against the emulator.

Each test kills a task the way Airflow does: ``on_kill`` from another thread while the task waits in
``execute`` (Airflow calls it from the SIGTERM handler, after the supervisor learnt that the user
changed the task instance's state), or inside the ``except AirflowTaskTimeout`` of Airflow's own
``timeout`` (``execution_timeout``). What the task instance's state reads as at that moment is what
the user did: ``failed`` (mark failed), ``success`` (mark success), ``restarting`` (clear of a
running task), ``running`` (the worker shutting down).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout, BaseOperator, timeout
from support.datasets import columns, rows
from support.fakes import RecordingTaskState

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.kill import WORKER_KILL_SECONDS
from airflow_provider_ttm.operators import kill as kill_module
from airflow_provider_ttm.operators.base import EXECUTION_TIMEOUT
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor


@pytest.fixture
def ti_state(monkeypatch: pytest.MonkeyPatch) -> RecordingTaskState:
    state = RecordingTaskState("running")
    monkeypatch.setattr(kill_module, "task_instance_state", state.read)
    return state


def killed_while_waiting(
    execute: Callable[[], Any], *, waits: Callable[[], bool], kill: Callable[[], None]
) -> tuple[Any, BaseException | None]:
    """Run ``execute`` in this thread, as the task runs; once ``waits()``, another thread calls
    ``kill()`` (as Airflow's SIGTERM handler interrupts the waiting task). Returns what ``execute``
    returned or raised; ``kill`` must also end the wait when the model is kept."""
    failure: list[BaseException] = []

    def killer() -> None:
        try:
            _until(waits)
            kill()
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result: Any = None
    error: BaseException | None = None
    try:
        result = execute()
    except Exception as raised:
        error = raised
    thread.join(30)
    assert not thread.is_alive()
    if failure:
        raise failure[0]
    return result, error


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "the task never started waiting"
        time.sleep(0.02)


def _models(ttm_emulator) -> dict[str, str]:
    return {model["model_name"]: model["status"] for model in ttm_emulator.control.models()}


def _create(**kwargs: Any) -> TuneTheModelCreateModelOperator:
    kwargs.setdefault("poll_interval", 0.05)
    return TuneTheModelCreateModelOperator(
        task_id="create", model_type="classifier", num_classes=2, wait_for_ready=True, **kwargs
    )


def test_mark_failed_deletes_the_model_the_try_created(ttm_emulator, context, ti_state, logs) -> None:
    operator = _create()
    ti_state.value = "failed"

    _, error = killed_while_waiting(
        lambda: operator.execute(context), waits=lambda: operator._started is not None, kill=operator.on_kill
    )

    assert _models(ttm_emulator) == {}
    assert ttm_emulator.control.deleted_models == 1
    assert ti_state.reads == [("demo_dag", "create", "manual__2026-11-26T00:00:00+00:00", -1)]
    assert any("Deleted model" in line and "marked failed" in line for line in logs.messages())
    assert error is not None  # the wait ended on the deleted model
    assert ttm_emulator.api_key not in logs.everything()


@pytest.mark.parametrize(
    "state",
    ["success", "restarting", "running", None, RuntimeError("supervisor gone")],
    ids=["mark-success", "clear", "worker-shutdown", "no-state", "unreadable"],
)
def test_every_other_kill_keeps_the_model(ttm_emulator, context, ti_state, logs, state) -> None:
    operator = _create()
    ti_state.value = state
    after_kill: dict[str, str] = {}

    def kill() -> None:
        operator.on_kill()
        after_kill.update(_models(ttm_emulator))
        ttm_emulator.control.force_status(context["ti"].xcoms["return_value"], "Ready")

    result, error = killed_while_waiting(
        lambda: operator.execute(context), waits=lambda: operator._started is not None, kill=kill
    )

    assert error is None
    assert after_kill == {result: "Created"}
    assert ttm_emulator.control.deleted_models == 0
    assert any("is kept" in line for line in logs.messages())


def test_a_model_already_ready_is_never_deleted(ttm_emulator, context, ti_state) -> None:
    operator = _create()
    operator.submit_job(context)  # created, about to wait
    model_name = context["ti"].xcoms["return_value"]
    ttm_emulator.control.force_status(model_name, "Ready")
    ti_state.value = "failed"

    operator.on_kill()

    assert _models(ttm_emulator) == {model_name: "Ready"}


def test_a_model_an_earlier_try_created_is_kept(ttm_emulator, context, ti_state) -> None:
    del context["task_state_store"]  # resumed by its default name, as without a state store
    first = _create()
    first.submit_job(context)
    model_name = context["ti"].xcoms["return_value"]
    retry = _create()
    assert retry.submit_job(context) == model_name  # the retry resumes it
    ti_state.value = "failed"

    retry.on_kill()

    assert model_name in _models(ttm_emulator)
    assert ti_state.reads == []  # nothing to decide: this try started nothing


def test_the_sensor_never_deletes_the_model_it_waits_on(ttm_emulator, context, ti_state) -> None:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    sensor = TuneTheModelModelReadySensor(task_id="wait", model_name=model_name, poke_interval=0.05)
    ti_state.value = "failed"
    seen: dict[str, Any] = {}

    def kill() -> None:
        before = sum(ttm_emulator.control.counters().values())
        sensor.on_kill()
        seen["requests"] = sum(ttm_emulator.control.counters().values()) - before
        seen["models"] = _models(ttm_emulator)
        ttm_emulator.control.force_status(model_name, "Ready")

    _, error = killed_while_waiting(
        lambda: sensor.execute(context),
        waits=lambda: ttm_emulator.control.count("GET /v0/models/{id}/status") > 0,
        kill=kill,
    )

    assert type(sensor).on_kill is BaseOperator.on_kill  # the sensor started nothing to stop
    assert error is None
    assert seen["models"] == {model_name: "Created"}
    assert seen["requests"] <= 2  # only its own polls meanwhile
    assert ttm_emulator.control.count("DELETE /v0/models/{id}/delete") == 0
    assert ti_state.reads == []


def _timed_out(operator, run: Callable[[], Any], seconds: float = 0.5) -> None:
    """``run()`` under Airflow's own ``execution_timeout`` handling: on_kill, then the timeout fails it."""
    with pytest.raises(AirflowTaskTimeout):
        try:
            with timeout(seconds):
                run()
        except AirflowTaskTimeout:
            operator.on_kill()
            raise


def test_execution_timeout_of_the_last_try_deletes_the_model(ttm_emulator, context, ti_state) -> None:
    operator = _create(retries=0)

    _timed_out(operator, lambda: operator.execute(context))

    assert _models(ttm_emulator) == {}
    assert ttm_emulator.control.deleted_models == 1
    assert ti_state.reads == []  # a timeout needs no state: the task itself saw it


def test_execution_timeout_with_a_retry_to_come_keeps_the_model(ttm_emulator, context, ti_state) -> None:
    operator = _create(retries=1)
    context["ti"].max_tries = 1  # first try of two

    _timed_out(operator, lambda: operator.execute(context))

    (status,) = _models(ttm_emulator).values()
    assert status == "Created"  # the retry resumes it


def _timeout_event(model_name: str) -> dict[str, Any]:
    return {"status": "timeout", "model_name": model_name, "model_status": "Training", "message": "late"}


def test_a_deferred_wait_ended_by_execution_timeout_deletes_the_model(
    ttm_emulator, context, ti_state
) -> None:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    operator = _create(deferrable=True)

    def resume() -> None:
        operator.execute_complete(
            context, _timeout_event(model_name), deadline_set_by=EXECUTION_TIMEOUT, delete_on_kill=True
        )

    _timed_out(operator, resume, seconds=30)

    assert _models(ttm_emulator) == {}


def test_a_stored_deferral_without_delete_on_kill_keeps_the_model(ttm_emulator, context, ti_state) -> None:
    # An earlier release's next_kwargs carry no delete_on_kill: nothing says this try owns the model.
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    operator = _create(deferrable=True)

    def resume() -> None:
        operator.execute_complete(context, _timeout_event(model_name), deadline_set_by=EXECUTION_TIMEOUT)

    _timed_out(operator, resume, seconds=30)

    assert model_name in _models(ttm_emulator)


def test_on_kill_is_bounded_when_the_service_stalls(ttm_emulator, context, ti_state, logs) -> None:
    operator = _create()
    ti_state.value = "failed"
    took: list[float] = []

    def kill() -> None:
        ttm_emulator.control.add_fault(
            kind="latency", route="DELETE /v0/models/{id}/delete", delay_seconds=20
        )
        started = time.monotonic()
        operator.on_kill()
        took.append(time.monotonic() - started)
        ttm_emulator.control.clear_faults()
        ttm_emulator.control.force_status(context["ti"].xcoms["return_value"], "Ready")

    killed_while_waiting(
        lambda: operator.execute(context), waits=lambda: operator._started is not None, kill=kill
    )

    assert took[0] < WORKER_KILL_SECONDS + 2  # Airflow's SIGKILL follows SIGTERM after 5 s
    assert any("did not finish within" in line for line in logs.messages())


# --- train-and-wait -------------------------------------------------------------------------------


@pytest.fixture
def slow(ttm_emulator):
    """Files are processed at once; a fit trains for an hour."""
    ttm_emulator.control.configure(file_processing_seconds=0.05, train_seconds=3600)
    return ttm_emulator


def _train(model_name: str, **kwargs: Any) -> TuneTheModelTrainModelOperator:
    return TuneTheModelTrainModelOperator(
        task_id="train",
        model_name=model_name,
        train_data=rows(40),
        validation_data=columns(32),
        wait_for_ready=True,
        poll_interval=0.05,
        **kwargs,
    )


def test_mark_failed_stops_the_fit_the_try_requested(slow, context, ti_state) -> None:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    operator = _train(model_name)
    ti_state.value = "failed"

    _, error = killed_while_waiting(
        lambda: operator.execute(context), waits=lambda: operator._started is not None, kill=operator.on_kill
    )

    assert slow.control.count("POST /v0/models/{id}/fit") == 1
    assert model_name not in _models(slow)
    assert error is not None
    assert slow.control.files() == []  # the failed wait still deleted its dataset files


def test_mark_success_keeps_the_training_model(slow, context, ti_state) -> None:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    operator = _train(model_name)
    ti_state.value = "success"
    after_kill: dict[str, str] = {}

    def kill() -> None:
        operator.on_kill()
        after_kill.update(_models(slow))
        slow.control.force_status(model_name, "Ready")

    result, error = killed_while_waiting(
        lambda: operator.execute(context), waits=lambda: operator._started is not None, kill=kill
    )

    assert error is None
    assert result == model_name
    assert after_kill[model_name] != "Ready"
    assert slow.control.count("POST /v0/models/{id}/fit") == 1


def test_a_model_already_training_is_not_the_tasks_to_stop(slow, context, ti_state) -> None:
    # Fitted by an earlier try (or by someone else): this try only waits on it.
    model_name = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    slow.control.force_status(model_name, "Training")
    operator = _train(model_name)
    ti_state.value = "failed"

    _timed_out(operator, lambda: operator.execute(context))

    assert _models(slow) == {model_name: "Training"}
    assert slow.control.count("POST /v0/models/{id}/fit") == 0


def test_the_deferred_train_wait_tells_the_trigger_it_owns_the_fit(slow, context) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    model_name = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    already = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    slow.control.force_status(already, "Training")

    with pytest.raises(TaskDeferred) as fitted:
        _train(model_name, deferrable=True).execute(context)
    with pytest.raises(TaskDeferred) as resumed:
        _train(already, deferrable=True).execute(context)

    assert fitted.value.trigger.delete_on_kill is True
    assert fitted.value.kwargs["delete_on_kill"] is True
    assert resumed.value.trigger.delete_on_kill is False
    assert "delete_on_kill" not in resumed.value.kwargs
