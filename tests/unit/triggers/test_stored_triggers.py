"""What earlier releases stored for their deferred waits still loads and ends as it would have.

Airflow keeps each deferred task's trigger (class path and arguments) and its ``next_method`` /
``next_kwargs`` in its database; after the provider is upgraded, the triggerer builds the trigger
with the new code and a worker resumes the task with it. ``stored/`` holds what each release
stored (written by ``stored/serialize_release.py`` from that release's code); the rule these tests
keep is in docs/development.md ("Stored triggers").
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout
from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import CLASSPATH as STATUS_TRIGGER
from airflow_provider_ttm.version_compat import EVENT_TRIGGERS_SUPPORTED

RELEASES = {
    path.stem: json.loads(path.read_text())
    for path in sorted(Path(__file__).with_name("stored").glob("*.json"))
}
#: Every stored trigger this Airflow can have stored (an asset watcher needs Airflow 3).
TRIGGERS = [
    (release, trigger)
    for release, stored in RELEASES.items()
    for trigger in stored["triggers"]
    if trigger["classpath"] == STATUS_TRIGGER or EVENT_TRIGGERS_SUPPORTED
]
STATUS_TRIGGERS = [
    (release, trigger) for release, trigger in TRIGGERS if trigger["classpath"] == STATUS_TRIGGER
]
#: The stored waits with a deadline (each has passed by now).
DEADLINED = [
    (release, trigger) for release, trigger in STATUS_TRIGGERS if trigger["kwargs"]["deadline"] is not None
]
RESUMES = [
    (release, next_kwargs, event)
    for release, stored in RELEASES.items()
    for next_kwargs in stored["next_kwargs"]
    for event in stored["events"]
]


def import_string(path: str) -> Any:
    """The class a stored class path names, imported as the triggerer imports it."""
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [f"{case[0]}-{index}" for index, case in enumerate(cases)]


def test_every_release_since_the_first_is_kept() -> None:
    assert {"0.1.0-6be8ab5", "0.1.0-cdcf08e"} <= set(RELEASES)
    for stored in RELEASES.values():
        assert stored["next_method"] == "execute_complete"
        assert stored["triggers"]
        assert {event["status"] for event in stored["events"]} == {"success", "failed", "timeout", "error"}


@pytest.mark.parametrize(("release", "trigger"), TRIGGERS, ids=_ids(TRIGGERS))
def test_a_stored_trigger_loads_and_serializes_what_it_stored(release: str, trigger: dict[str, Any]) -> None:
    """Arguments are only ever added, with defaults: the stored ones keep their meaning."""
    loaded = import_string(trigger["classpath"])(**trigger["kwargs"])

    path, kwargs = loaded.serialize()

    assert path == trigger["classpath"]
    assert {name: kwargs[name] for name in trigger["kwargs"]} == trigger["kwargs"]


async def _first_event(trigger: Any) -> TriggerEvent:
    return await asyncio.wait_for(trigger.run().asend(None), 10)


@pytest.mark.parametrize(("release", "trigger"), STATUS_TRIGGERS, ids=_ids(STATUS_TRIGGERS))
def test_a_stored_wait_ends_as_it_would_have(ttm_emulator, release: str, trigger: dict[str, Any]) -> None:
    """Loaded with a model of the emulator that became Ready, the wait ends Ready, as before."""
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    ttm_emulator.control.force_status(model_name, "Ready")
    kwargs = {**trigger["kwargs"], "ttm_conn_id": "ttm_default", "model_name": model_name}
    kwargs.update(poll_interval=0.05, deadline=None if kwargs["deadline"] is None else time.time() + 30)

    event = asyncio.run(_first_event(import_string(trigger["classpath"])(**kwargs)))

    if kwargs.get("end_from_trigger"):
        assert isinstance(event, TaskSuccessEvent)
    else:
        assert event.payload["status"] == "success"
        assert event.payload["model"]["model_name"] == model_name


@pytest.mark.parametrize(("release", "trigger"), DEADLINED, ids=_ids(DEADLINED))
def test_a_stored_wait_past_its_deadline_ends_it(ttm_emulator, release: str, trigger: dict[str, Any]) -> None:
    """The stored deadlines have passed: the wait ends as a timeout (a skip with ``soft_fail``)."""
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    kwargs = {**trigger["kwargs"], "model_name": model_name}

    event = asyncio.run(_first_event(import_string(trigger["classpath"])(**kwargs)))

    if kwargs.get("end_from_trigger"):
        assert isinstance(event, TaskSkippedEvent if kwargs["skip_on_failure"] else TriggerEvent)
    else:
        assert event.payload["status"] == "timeout"


def _waiting_tasks(model_name: str) -> list[Any]:
    """The tasks that defer a wait, as a user writes them."""
    return [
        TuneTheModelModelReadySensor(task_id="ready", model_name=model_name, deferrable=True),
        TuneTheModelCreateModelOperator(
            task_id="create", model_type="classifier", num_classes=3, wait_for_ready=True, deferrable=True
        ),
        TuneTheModelTrainModelOperator(
            task_id="train",
            model_name=model_name,
            train_data=[{"inputs": "a", "outputs": 0}],
            validation_data=[{"inputs": "b", "outputs": 1}],
            wait_for_ready=True,
            deferrable=True,
        ),
    ]


@pytest.mark.parametrize(("release", "next_kwargs", "event"), RESUMES, ids=_ids(RESUMES))
def test_a_task_resumes_with_a_stored_event_and_next_kwargs(
    ttm_emulator, context, release: str, next_kwargs: dict[str, Any] | None, event: dict[str, Any]
) -> None:
    """``execute_complete`` takes the ``next_kwargs`` of every release and reads its events."""
    timed_out_by_the_task = (next_kwargs or {}).get("deadline_set_by") == "execution_timeout"
    expected = {
        "failed": TuneTheModelFitFailedError,
        "timeout": AirflowTaskTimeout if timed_out_by_the_task else TuneTheModelWaitTimeoutError,
        "error": TuneTheModelError,
    }.get(event["status"])
    for task in _waiting_tasks(event["model_name"]):
        if expected is None:
            result = task.execute_complete(context, event, **(next_kwargs or {}))
            assert result == (event["model"] if task.task_id == "ready" else event["model_name"])
        else:
            with pytest.raises(expected):
                task.execute_complete(context, event, **(next_kwargs or {}))
