"""TuneTheModelModelReadySensor in poke and deferrable modes, against the emulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException, TaskDeferred

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger


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
    ttm_emulator.control.configure(auto_train_seconds=0.3)
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
    assert deferred.value.timeout == timedelta(seconds=600)


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
def test_bad_arguments_are_refused(kwargs, message) -> None:
    kwargs.setdefault("model_name", "a" * 32)
    with pytest.raises(ValueError, match=message):
        TuneTheModelModelReadySensor(task_id="w", **kwargs)


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


def test_a_rejected_key_fails_the_sensor_at_once(ttm_emulator, context) -> None:
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="unauthorized", route="GET /v0/models/{id}/status")

    with pytest.raises(TuneTheModelError, match="rejected"):
        _sensor(model_name).execute(context)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 1
