"""TuneTheModelModelReadySensor in poke and deferrable modes, against the emulator."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException, AirflowTaskTimeout, TaskDeferred
from support.fakes import FakeTaskInstance
from support.faults import RETRYABLE_FAULTS

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.base import DEFER_TIMEOUT_GRACE
from airflow_provider_ttm.sensors import ttm as sensor_module
from airflow_provider_ttm.sensors.ttm import WAIT_STATE_KEY, TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS

STATUS = "GET /v0/models/{id}/status"


def _model(ttm_emulator, status: str | None = None) -> str:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    if status:
        ttm_emulator.control.force_status(model_name, status)
    return model_name


def _sensor(model_name: str, **kwargs) -> TuneTheModelModelReadySensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 5)
    return TuneTheModelModelReadySensor(task_id="wait", model_name=model_name, **kwargs)


def test_poke_mode_waits_and_returns_the_model(ttm_emulator, context, capsys) -> None:
    # Created for the first 0.4 s: room for a slow first poke (Airflow 2.11 starts slower).
    ttm_emulator.control.configure(auto_train_seconds=2.0)
    model_name = _model(ttm_emulator)

    model = _sensor(model_name, deferrable=False).execute(context)

    assert model["model_name"] == model_name
    assert model["status"] == "Ready"
    logged = capsys.readouterr().out
    marker = f"Model {model_name} is"
    changes = [line[line.index(marker) :] for line in logged.splitlines() if marker in line]
    assert changes[0].startswith(f"Model {model_name} is Created")
    assert changes[-1].startswith(f"Model {model_name} is Ready")
    assert len(changes) == len(set(changes)), "each status is logged once, when it changes"


def test_fit_failure_fails_at_once_and_soft_fail_skips(ttm_emulator, context) -> None:
    model_name = _model(ttm_emulator, "FitFailed")

    with pytest.raises(TuneTheModelFitFailedError):
        _sensor(model_name, deferrable=False).execute(context)
    with pytest.raises(AirflowSkipException):
        _sensor(model_name, deferrable=False, soft_fail=True).execute(context)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 2


@pytest.mark.parametrize("skip", [{"soft_fail": True}, {"never_fail": True}])
def test_a_deferrable_sensor_skips_a_failed_fit_at_its_first_check_with_soft_fail(
    ttm_emulator, context, skip
) -> None:
    # As in poke mode and after the trigger's event; Airflow's own conversion covers neither
    # execute() of a deferrable sensor nor an error its first check raises.
    model_name = _model(ttm_emulator, "FitFailed")

    with pytest.raises(TuneTheModelFitFailedError):
        _sensor(model_name, deferrable=True).execute(context)
    with pytest.raises(AirflowSkipException):
        _sensor(model_name, deferrable=True, **skip).execute(context)


def test_strict_mode_fails_on_an_unknown_status(ttm_emulator, context, monkeypatch) -> None:
    model_name = _model(ttm_emulator)
    original = TuneTheModelHook.get_model
    monkeypatch.setattr(
        TuneTheModelHook, "get_model", lambda self, name: replace(original(self, name), status="Defrosting")
    )

    with pytest.raises(TuneTheModelFitFailedError, match="unknown status 'Defrosting'"):
        _sensor(model_name, strict=True).execute(context)
    sensor = _sensor(model_name)
    assert sensor.poke(context).is_done is False


def test_deferrable_returns_at_once_when_already_ready(ttm_emulator, context) -> None:
    model_name = _model(ttm_emulator, "Ready")

    assert _sensor(model_name, deferrable=True).execute(context)["status"] == "Ready"


def test_deferrable_defers_with_the_sensor_timeout(ttm_emulator, context) -> None:
    model_name = _model(ttm_emulator)

    with pytest.raises(TaskDeferred) as deferred:
        _sensor(model_name, deferrable=True, poke_interval=30, timeout=600).execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, TuneTheModelModelStatusTrigger)
    assert (trigger.model_name, trigger.poll_interval, trigger.ttm_conn_id) == (model_name, 30, "ttm_default")
    time_left = timedelta(seconds=trigger.deadline - time.time())
    assert timedelta(seconds=540) < time_left <= timedelta(seconds=600)
    assert abs(deferred.value.timeout - DEFER_TIMEOUT_GRACE - time_left) < timedelta(minutes=1)
    assert deferred.value.kwargs == {"deadline_set_by": "timeout"}


def test_deferred_failure_and_timeout_respect_soft_fail(ttm_emulator, context) -> None:
    failed = {"status": "failed", "model_name": "a" * 32, "model_status": "FitFailed", "message": "x"}
    timeout = {**failed, "status": "timeout", "model_status": "Training"}

    with pytest.raises(TuneTheModelFitFailedError):
        _sensor("a" * 32).resume_execution("execute_complete", {"event": failed}, context)
    with pytest.raises(TuneTheModelWaitTimeoutError):
        _sensor("a" * 32).resume_execution("execute_complete", {"event": timeout}, context)
    for event in (failed, timeout):
        with pytest.raises(AirflowSkipException):
            _sensor("a" * 32, soft_fail=True).resume_execution("execute_complete", {"event": event}, context)


def test_execute_complete_returns_the_event_model(context) -> None:
    model = {"model_name": "a" * 32, "status": "Ready"}
    event = {
        "status": "success",
        "model_name": "a" * 32,
        "model_status": "Ready",
        "message": "",
        "model": model,
    }

    assert _sensor("a" * 32).execute_complete(context, event) == model


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name": ""}, "model_name"),
        ({"model_name": "a/b?c"}, "model_name"),
        ({"poke_interval": 0}, "poke_interval"),
        ({"timeout": -1}, "timeout"),
        ({"max_consecutive_errors": -1}, "max_consecutive_errors"),
    ],
)
def test_bad_arguments_are_refused(ttm_emulator, refusal, kwargs, message) -> None:
    refusal(TuneTheModelModelReadySensor, {"model_name": "a" * 32, **kwargs}, message)
    assert ttm_emulator.control.counters() == {}


def test_transient_errors_are_tolerated_then_reported_with_their_count(
    ttm_emulator, context, one_attempt_conn
) -> None:
    model_name = _model(ttm_emulator, "Ready")
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=2)
    tolerant = _sensor(model_name, ttm_conn_id=one_attempt_conn, max_consecutive_errors=2)

    assert tolerant.execute(context)["status"] == "Ready"
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 3

    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status")
    strict = _sensor(model_name, ttm_conn_id=one_attempt_conn, max_consecutive_errors=1)
    with pytest.raises(TuneTheModelError, match=r"\(2 failed checks in a row\)"):
        strict.execute(context)


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_one_check_is_one_request_of_max_attempts_attempts(
    ttm_emulator, context, attempts_conn, fault
) -> None:
    """A poke's check is tried ``max_attempts`` times in all, whether the wait tolerates its failure or not."""
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(route=STATUS, **fault)
    conn_id = attempts_conn(3)

    tolerant = _sensor(model_name, ttm_conn_id=conn_id, max_consecutive_errors=5)
    assert tolerant.poke(context).is_done is False
    assert ttm_emulator.control.count(STATUS) == 3

    strict = _sensor(model_name, ttm_conn_id=conn_id, max_consecutive_errors=0)
    with pytest.raises(TuneTheModelError, match=f"Status check of model {model_name} failed"):
        strict.poke(context)
    assert ttm_emulator.control.count(STATUS) == 6


def test_consecutive_checks_are_separate_requests_each_with_its_attempts(
    ttm_emulator, context, attempts_conn
) -> None:
    """``max_consecutive_errors`` counts checks, one ``poke_interval`` apart, not attempts."""
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(route=STATUS, kind="error", status=503)

    with pytest.raises(TuneTheModelError, match=r"\(3 failed checks in a row\)"):
        _sensor(model_name, ttm_conn_id=attempts_conn(2), max_consecutive_errors=2).execute(context)
    assert ttm_emulator.control.count(STATUS) == 3 * 2


def test_a_rejected_key_fails_the_sensor_at_once(ttm_emulator, context) -> None:
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="unauthorized", route="GET /v0/models/{id}/status")

    with pytest.raises(TuneTheModelError, match="rejected"):
        _sensor(model_name).execute(context)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 1


# --- reschedule mode: what outlives a reschedule ------------------------------------------------


@pytest.fixture(autouse=True)
def _first_poke_from_the_fake_task_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 2.11 reads a sensor's first poke from its database; here the fake task instance says it."""
    if not AIRFLOW_V_3_0_PLUS:
        monkeypatch.setattr(
            sensor_module, "first_reschedule_date", lambda context: getattr(context["ti"], "first_poke", None)
        )


class CountingStore:
    """An in-memory ``task_state_store`` (it outlives reschedules and tries) that counts its writes."""

    def __init__(self) -> None:
        self.values: dict = {}
        self.writes = 0

    def get(self, key: str):
        return self.values.get(key)

    def set(self, key: str, value) -> None:
        self.writes += 1
        self.values[key] = json.loads(json.dumps(value))  # stored as JSON, as Airflow does


def _reschedule_context(store: CountingStore | None = None, try_number: int = 1) -> dict:
    context = {"ti": FakeTaskInstance(try_number=try_number)}
    if store is not None:
        context["task_state_store"] = store
    return context


def _poke_after_reschedule(model_name: str, context: dict, **kwargs):
    """One poke as a rescheduled sensor does it: a new operator object in a new process."""
    return _sensor(model_name, mode="reschedule", **kwargs).poke(context)


def test_reschedule_mode_counts_failed_checks_across_reschedules(ttm_emulator, one_attempt_conn) -> None:
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status")
    context = _reschedule_context(CountingStore())
    kwargs = {"ttm_conn_id": one_attempt_conn, "max_consecutive_errors": 2}

    assert _poke_after_reschedule(model_name, context, **kwargs).is_done is False
    assert _poke_after_reschedule(model_name, context, **kwargs).is_done is False
    with pytest.raises(TuneTheModelError, match=r"\(3 failed checks in a row\)"):
        _poke_after_reschedule(model_name, context, **kwargs)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 3


def test_reschedule_mode_resets_the_count_after_a_good_check_and_on_a_new_try(
    ttm_emulator, one_attempt_conn
) -> None:
    model_name = _model(ttm_emulator)
    store = CountingStore()
    kwargs = {"ttm_conn_id": one_attempt_conn, "max_consecutive_errors": 1}
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=1)
    assert _poke_after_reschedule(model_name, _reschedule_context(store), **kwargs).is_done is False
    assert _poke_after_reschedule(model_name, _reschedule_context(store), **kwargs).is_done is False  # ok
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=1)
    assert _poke_after_reschedule(model_name, _reschedule_context(store), **kwargs).is_done is False

    # A retry (the next try) starts counting afresh, though the store outlives tries.
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=1)
    retry = _reschedule_context(store, try_number=2)
    assert _poke_after_reschedule(model_name, retry, **kwargs).is_done is False
    assert store.values[WAIT_STATE_KEY]["errors_in_a_row"] == 1


def test_reschedule_mode_logs_an_unchanged_status_once(ttm_emulator, capsys) -> None:
    model_name = _model(ttm_emulator, "Training")
    store = CountingStore()

    for _ in range(4):
        assert _poke_after_reschedule(model_name, _reschedule_context(store)).is_done is False
    ttm_emulator.control.force_status(model_name, "Ready")
    assert _poke_after_reschedule(model_name, _reschedule_context(store)).is_done is True

    logged = capsys.readouterr().out
    assert logged.count(f"Model {model_name} is Training") == 1
    assert logged.count(f"Model {model_name} is Ready") == 1
    assert store.writes == 2, "the store is written when something changed, not at every poke"


def test_without_a_state_store_reschedule_mode_checks_again_within_the_poke(
    ttm_emulator, one_attempt_conn
) -> None:
    model_name = _model(ttm_emulator, "Ready")
    kwargs = {"ttm_conn_id": one_attempt_conn, "max_consecutive_errors": 2}
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=2)

    assert _poke_after_reschedule(model_name, _reschedule_context(), **kwargs).is_done is True
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 3

    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status")
    with pytest.raises(TuneTheModelError, match=r"\(3 failed checks in a row\)"):
        _poke_after_reschedule(model_name, _reschedule_context(), **kwargs)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 6


def test_poke_mode_keeps_its_count_in_memory(ttm_emulator, one_attempt_conn) -> None:
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status")
    store = CountingStore()
    context = {"ti": FakeTaskInstance(), "task_state_store": store}

    with pytest.raises(TuneTheModelError, match=r"\(3 failed checks in a row\)"):
        _sensor(model_name, ttm_conn_id=one_attempt_conn, max_consecutive_errors=2).execute(context)
    assert store.writes == 0


def test_a_failed_check_before_deferring_is_carried_into_the_trigger(ttm_emulator, one_attempt_conn) -> None:
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="error", status=503, route="GET /v0/models/{id}/status", times=1)
    sensor = _sensor(model_name, ttm_conn_id=one_attempt_conn, deferrable=True, max_consecutive_errors=2)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": FakeTaskInstance()})

    assert deferred.value.trigger.errors_in_a_row == 1


# --- execution_timeout while deferred -------------------------------------------------------------


def _started(seconds_ago: float) -> dict:
    ti = FakeTaskInstance(start_date=datetime.now(UTC) - timedelta(seconds=seconds_ago))
    return {"ti": ti}


def test_deferred_wait_ends_at_the_execution_timeout_when_it_comes_first(ttm_emulator) -> None:
    model_name = _model(ttm_emulator)
    context = _started(seconds_ago=4)
    sensor = _sensor(model_name, deferrable=True, timeout=3600, execution_timeout=timedelta(seconds=10))

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)

    start = context["ti"].start_date.timestamp()
    assert deferred.value.trigger.deadline == pytest.approx(start + 10, abs=0.01)
    assert deferred.value.kwargs == {"deadline_set_by": "execution_timeout"}
    time_left = timedelta(seconds=deferred.value.trigger.deadline - time.time())
    assert abs(deferred.value.timeout - DEFER_TIMEOUT_GRACE - time_left) < timedelta(seconds=5)


def test_deferred_wait_keeps_its_own_timeout_when_it_comes_first(ttm_emulator) -> None:
    model_name = _model(ttm_emulator)
    sensor = _sensor(model_name, deferrable=True, timeout=60, execution_timeout=timedelta(hours=1))

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_started(seconds_ago=4))

    assert deferred.value.trigger.deadline == pytest.approx(time.time() + 60, abs=5)
    assert deferred.value.kwargs == {"deadline_set_by": "timeout"}


def test_an_execution_timeout_already_passed_does_not_defer(ttm_emulator) -> None:
    model_name = _model(ttm_emulator)
    sensor = _sensor(model_name, deferrable=True, timeout=60, execution_timeout=timedelta(seconds=10))

    with pytest.raises(AirflowTaskTimeout, match="execution_timeout"):
        sensor.execute(_started(seconds_ago=11))


@pytest.mark.parametrize(
    ("deadline_set_by", "raised"),
    [
        ("execution_timeout", AirflowTaskTimeout),
        ("timeout", TuneTheModelWaitTimeoutError),
        (None, TuneTheModelWaitTimeoutError),  # deferred by an earlier version of the provider
    ],
)
def test_a_timeout_event_is_a_task_timeout_when_execution_timeout_set_the_deadline(
    context, deadline_set_by, raised
) -> None:
    event = {"status": "timeout", "model_name": "a" * 32, "model_status": "Training", "message": "late"}
    kwargs = (
        {"event": event} if deadline_set_by is None else {"event": event, "deadline_set_by": deadline_set_by}
    )

    with pytest.raises(raised, match="late"):
        _sensor("a" * 32).resume_execution("execute_complete", kwargs, context)
    with pytest.raises(AirflowSkipException):  # soft_fail skips it, as in poke mode
        _sensor("a" * 32, soft_fail=True).resume_execution("execute_complete", kwargs, context)
