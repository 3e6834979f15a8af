"""The status trigger's ``on_kill`` (Airflow 3.3 runs it when a user acts on the deferred task),
against the emulator: the triggerer cancels the trigger's ``run()``, then awaits ``on_kill()``."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
from support.fakes import RecordingTaskState

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers import ttm as trigger_module
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

TASK = SimpleNamespace(dag_id="d", task_id="create", run_id="manual__1", map_index=-1)


@pytest.fixture
def ti_state(monkeypatch: pytest.MonkeyPatch) -> RecordingTaskState:
    state = RecordingTaskState("deferred")
    monkeypatch.setattr(trigger_module, "task_instance_state", state.read)
    return state


def _trigger(model_name: str, **kwargs) -> TuneTheModelModelStatusTrigger:
    trigger = TuneTheModelModelStatusTrigger(
        ttm_conn_id="ttm_default", model_name=model_name, poll_interval=0.05, **kwargs
    )
    trigger.task_instance = TASK  # set by the triggerer
    return trigger


async def _killed(trigger: TuneTheModelModelStatusTrigger) -> None:
    """As the triggerer does it: the running trigger is cancelled, then its on_kill is awaited."""
    events = trigger.run()
    running = asyncio.ensure_future(events.__anext__())
    await asyncio.sleep(0.2)  # it polls meanwhile
    running.cancel("__airflow_user_action__")
    with pytest.raises(asyncio.CancelledError):
        await running
    await events.aclose()
    await trigger.on_kill()


def _models(ttm_emulator) -> dict[str, str]:
    return {model["model_name"]: model["status"] for model in ttm_emulator.control.models()}


def _model(ttm_emulator, status: str = "Training") -> str:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    ttm_emulator.control.force_status(model_name, status)
    return model_name


def test_delete_on_kill_is_serialized_and_off_by_default(ttm_emulator) -> None:
    assert _trigger("m").serialize()[1]["delete_on_kill"] is False
    assert _trigger("m", delete_on_kill=True).serialize()[1]["delete_on_kill"] is True


def test_a_task_marked_failed_has_the_training_it_started_deleted(ttm_emulator, ti_state, logs) -> None:
    model_name = _model(ttm_emulator)
    ti_state.value = "failed"

    asyncio.run(_killed(_trigger(model_name, delete_on_kill=True)))

    assert model_name not in _models(ttm_emulator)
    assert ti_state.reads == [("d", "create", "manual__1", -1)]
    assert any("Deleted model" in line and "marked failed" in line for line in logs.messages())
    assert ttm_emulator.api_key not in logs.everything()


@pytest.mark.parametrize("state", ["success", None, "scheduled", "queued", "running"])
def test_mark_success_and_clear_keep_the_model(ttm_emulator, ti_state, logs, state) -> None:
    # Clear leaves no state, then the next try's (scheduled, queued, running): it resumes the model.
    model_name = _model(ttm_emulator)
    ti_state.value = state

    asyncio.run(_killed(_trigger(model_name, delete_on_kill=True)))

    assert _models(ttm_emulator) == {model_name: "Training"}
    assert any("is kept" in line for line in logs.messages())


def test_a_trigger_whose_task_did_not_start_the_training_never_deletes(ttm_emulator, ti_state) -> None:
    # A sensor's trigger, a resumed model's, or one an earlier release stored: delete_on_kill is False.
    model_name = _model(ttm_emulator)
    ti_state.value = "failed"
    stored = TuneTheModelModelStatusTrigger(ttm_conn_id="ttm_default", model_name=model_name)
    stored.task_instance = TASK

    asyncio.run(_killed(stored))

    assert model_name in _models(ttm_emulator)
    assert ti_state.reads == []


@pytest.mark.parametrize("status", ["Ready", "FitFailed"])
def test_a_model_that_is_done_training_is_kept(ttm_emulator, ti_state, status) -> None:
    model_name = _model(ttm_emulator, status)
    ti_state.value = "failed"

    asyncio.run(_trigger(model_name, delete_on_kill=True).on_kill())

    assert _models(ttm_emulator) == {model_name: status}


def test_a_model_already_gone_is_logged_not_raised(ttm_emulator, ti_state, logs) -> None:
    model_name = _model(ttm_emulator)
    TuneTheModelHook().delete_model(model_name)
    ti_state.value = "failed"

    asyncio.run(_trigger(model_name, delete_on_kill=True).on_kill())

    assert any("already gone" in line for line in logs.messages())


def test_on_kill_is_bounded_when_the_service_stalls(ttm_emulator, ti_state, logs, monkeypatch) -> None:
    monkeypatch.setattr(trigger_module, "TRIGGER_KILL_SECONDS", 0.5)
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="latency", route="GET /v0/models/{id}/status", delay_seconds=5)
    ti_state.value = "failed"

    started = time.monotonic()
    asyncio.run(_trigger(model_name, delete_on_kill=True).on_kill())

    assert time.monotonic() - started < 3  # well before the stalled reply
    assert any("did not finish within" in line for line in logs.messages())
    assert model_name in _models(ttm_emulator)


def test_the_serialized_trigger_carries_no_key(ttm_emulator) -> None:
    assert ttm_emulator.api_key not in json.dumps(_trigger("m", delete_on_kill=True).serialize())


def test_a_repeated_cancel_does_not_cut_the_deletion_short(ttm_emulator, ti_state, logs) -> None:
    # Airflow 3.3's triggerer cancels the trigger again at each state sync while its on_kill runs.
    model_name = _model(ttm_emulator)
    ttm_emulator.control.add_fault(kind="latency", route="GET /v0/models/{id}/status", delay_seconds=0.5)
    ti_state.value = "failed"

    async def kill_and_cancel_again() -> None:
        killing = asyncio.ensure_future(_trigger(model_name, delete_on_kill=True).on_kill())
        await asyncio.sleep(0.1)
        killing.cancel("__airflow_user_action__")
        with pytest.raises(asyncio.CancelledError):
            await killing

    asyncio.run(kill_and_cancel_again())

    assert model_name not in _models(ttm_emulator)
    assert any("Deleted model" in line for line in logs.messages())
