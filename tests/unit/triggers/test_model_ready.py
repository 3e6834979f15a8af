"""``TuneTheModelModelReadyEventTrigger``: its filter, firing once per model, its state, its events.

The watchers run the way the triggerer runs them (``run()`` in one event loop) against the emulator
over loopback; tests wait for conditions (polls counted, states saved), never for elapsed time.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
from support.conditions import until

from airflow_provider_ttm.api.records import ModelRecord
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers import model_ready
from airflow_provider_ttm.triggers.model_ready import (
    CLASSPATH,
    TuneTheModelModelReadyEventTrigger,
    ready_models,
)
from airflow_provider_ttm.triggers.poller import StatusPoller, active_pollers
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger
from airflow_provider_ttm.version_compat import EVENT_TRIGGERS_SUPPORTED

LIST = "GET /v0/models"
STATUS = "GET /v0/models/{id}/status"
ID = "0123456789abcdef0123456789abcdef"

needs_event_triggers = pytest.mark.skipif(
    not EVENT_TRIGGERS_SUPPORTED, reason="event triggers need Airflow 3 (the 2.11 test is below)"
)


class FakeStateStore:
    """An ``asset_state_store`` of one asset, in memory, counting writes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.saves = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        json.dumps(value)  # the real store keeps JSON
        self.values[key] = value
        self.saves += 1


class BrokenStateStore:
    """An ``asset_state_store`` that fails, as one watching several assets does (``ValueError``)."""

    async def aget(self, key: str, default: Any = None) -> Any:
        raise ValueError("Task has 2 concrete inlets and outlets")

    async def aset(self, key: str, value: Any) -> None:
        raise AssertionError("not called once reading failed")


class Watch:
    """A watcher's ``run()`` in a task of the running loop, its events collected."""

    def __init__(self, trigger: TuneTheModelModelReadyEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.trigger.run():
            self.events.append(event.payload)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.wait([self.task])


def _watcher(store: Any = None, **kwargs: Any) -> TuneTheModelModelReadyEventTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    trigger = TuneTheModelModelReadyEventTrigger(**kwargs)
    trigger.asset_state_store = store
    return trigger


def _model(name: str, model_type: str = "classifier") -> str:
    spec: dict[str, Any] = {"num_classes": 2} if model_type == "classifier" else {}
    return TuneTheModelHook().create_model(model_type, name=name, **spec).model_name


def _the_poller() -> StatusPoller:
    (poller,) = active_pollers()
    return poller


async def _more_polls(count: int) -> None:
    """Wait until the shared poller has sent ``count`` more lists (each one seen by the watchers)."""
    poller = _the_poller()
    target = poller.polls + count
    await until(lambda: poller.polls >= target, f"{count} more polls")


def _record(**fields: Any) -> ModelRecord:
    return ModelRecord(**{"model_name": ID, "status": "Ready", **fields})


@needs_event_triggers
@pytest.mark.parametrize(
    ("filters", "record", "expected"),
    [
        ({}, _record(), True),
        ({"model_name": ID}, _record(), True),
        ({"model_name": "f" * 32}, _record(), False),
        ({"user_name_prefix": "nightly-"}, _record(user_name="nightly-7"), True),
        ({"user_name_prefix": "nightly-"}, _record(user_name="weekly-7"), False),
        ({"user_name_prefix": "nightly-"}, _record(user_name=None), False),
        ({"model_type": "generator"}, _record(model_type="generator"), True),
        ({"model_type": "generator"}, _record(model_type="classifier"), False),
        (
            {"user_name_prefix": "n", "model_type": "classifier", "model_name": ID},
            _record(user_name="n1", model_type="generator"),
            False,
        ),
    ],
)
def test_the_filter_needs_every_given_field_to_match(filters, record, expected) -> None:
    assert TuneTheModelModelReadyEventTrigger(**filters).matches(record) is expected


@needs_event_triggers
@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model_name": "../x"}, "model_name"),
        ({"model_type": "regressor"}, "model_type"),
        ({"user_name_prefix": " "}, "user_name_prefix"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"ttm_conn_id": ""}, "ttm_conn_id"),
    ],
)
def test_bad_arguments_are_refused_naming_the_parameter(kwargs, param) -> None:
    with pytest.raises(ValueError, match=param):
        TuneTheModelModelReadyEventTrigger(**kwargs)


@needs_event_triggers
def test_it_serializes_to_its_classpath_and_plain_arguments_and_back() -> None:
    trigger = TuneTheModelModelReadyEventTrigger(
        "ttm_other", user_name_prefix="nightly-", model_type="classifier", poll_interval=5
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == CLASSPATH
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "ttm_conn_id": "ttm_other",
        "model_name": None,
        "user_name_prefix": "nightly-",
        "model_type": "classifier",
        "poll_interval": 5.0,
    }
    # Airflow identifies an event trigger by this hash: equal arguments, one trigger.
    assert type(trigger).hash(classpath, kwargs) == type(rebuilt).hash(*rebuilt.serialize())


@needs_event_triggers
def test_each_matching_model_fires_once_and_models_ready_before_the_start_do_not(ttm_emulator) -> None:
    control = ttm_emulator.control
    before = _model("nightly-before")
    control.force_status(before, "Ready")
    fresh, other, generator = _model("nightly-fresh"), _model("weekly-1"), _model("nightly-gen", "generator")
    store = FakeStateStore()

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(_watcher(store, user_name_prefix="nightly-", model_type="classifier"))
        await until(lambda: store.saves == 1, "the first listing is recorded")
        for model_name in (fresh, other, generator):
            control.force_status(model_name, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await _more_polls(5)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())

    assert [event["model_name"] for event in events] == [fresh]
    assert events[0]["kind"] == "ttm_model_ready"
    assert events[0]["model"]["user_name"] == "nightly-fresh"
    assert events[0]["model"]["status"] == "Ready"
    assert active_pollers() == []


@needs_event_triggers
def test_a_model_given_by_id_fires_when_it_becomes_ready(ttm_emulator) -> None:
    wanted, unwanted = _model("a"), _model("b")

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(_watcher(model_name=wanted))
        await until(lambda: bool(active_pollers()) and _the_poller().polls >= 2, "the first listing")
        ttm_emulator.control.force_status(unwanted, "Ready")
        await _more_polls(2)
        assert watch.events == []
        ttm_emulator.control.force_status(wanted, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await _more_polls(3)
        await watch.stop()
        return watch.events

    assert [event["model_name"] for event in asyncio.run(scenario())] == [wanted]


@needs_event_triggers
def test_a_re_created_watcher_goes_on_from_its_stored_state(ttm_emulator) -> None:
    """Triggerer restart with a state store (Airflow 3.3): what became Ready meanwhile fires, once."""
    control = ttm_emulator.control
    first, meanwhile = _model("nightly-1"), _model("nightly-2")
    store = FakeStateStore()

    async def run_once(model_to_make_ready: str | None) -> list[dict[str, Any]]:
        saves = store.saves
        watch = Watch(_watcher(store, user_name_prefix="nightly-"))
        if model_to_make_ready is None:
            await until(lambda: len(watch.events) == 1, "the model made Ready while stopped")
        else:
            await until(lambda: store.saves > saves, "the first listing")
            control.force_status(model_to_make_ready, "Ready")
            await until(lambda: len(watch.events) == 1, "one event")
        await _more_polls(3)
        await watch.stop()
        return watch.events

    first_events = asyncio.run(run_once(first))
    control.force_status(meanwhile, "Ready")  # no watcher runs now
    second_events = asyncio.run(run_once(None))

    assert [event["model_name"] for event in first_events] == [first]
    assert [event["model_name"] for event in second_events] == [meanwhile]
    (kept,) = store.values.values()
    assert sorted(kept) == sorted([first, meanwhile])


@needs_event_triggers
def test_without_a_state_store_a_re_created_watcher_starts_from_a_new_first_listing(ttm_emulator) -> None:
    """Airflow 3.0-3.2: the memory is the trigger's; what became Ready while none ran does not fire."""
    control = ttm_emulator.control
    first, meanwhile, later = _model("nightly-1"), _model("nightly-2"), _model("nightly-3")

    async def run_once(model_to_make_ready: str, store: Any) -> list[dict[str, Any]]:
        watch = Watch(_watcher(store, user_name_prefix="nightly-"))
        await until(lambda: bool(active_pollers()) and _the_poller().polls >= 2, "the first listing")
        control.force_status(model_to_make_ready, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await _more_polls(3)
        await watch.stop()
        return watch.events

    first_events = asyncio.run(run_once(first, None))
    control.force_status(meanwhile, "Ready")
    second_events = asyncio.run(run_once(later, BrokenStateStore()))

    assert [event["model_name"] for event in first_events] == [first]
    assert [event["model_name"] for event in second_events] == [later]


@needs_event_triggers
def test_a_deleted_model_is_forgotten(ttm_emulator) -> None:
    control = ttm_emulator.control
    kept, deleted = _model("nightly-1"), _model("nightly-2")
    store = FakeStateStore()

    async def scenario() -> None:
        watch = Watch(_watcher(store, user_name_prefix="nightly-"))
        await until(lambda: store.saves == 1, "the first listing")
        control.force_status(kept, "Ready")
        control.force_status(deleted, "Ready")
        await until(lambda: len(watch.events) == 2, "two events")
        await asyncio.to_thread(TuneTheModelHook().delete_model, deleted)
        await until(lambda: list(store.values.values()) == [[kept]], "forgotten")
        await watch.stop()

    asyncio.run(scenario())


@needs_event_triggers
def test_watchers_and_status_waits_on_one_connection_share_one_list_per_poll(ttm_emulator) -> None:
    control = ttm_emulator.control
    nightly, weekly, waited = _model("nightly-1"), _model("weekly-1"), _model("x")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        watches = [Watch(_watcher(user_name_prefix=prefix)) for prefix in ("nightly-", "weekly-")]
        status = TuneTheModelModelStatusTrigger(
            ttm_conn_id="ttm_default", model_name=waited, poll_interval=0.05
        )
        wait = asyncio.create_task(status.run().asend(None))
        await until(lambda: bool(active_pollers()) and len(_the_poller().waiters) == 3, "all joined")
        await _more_polls(2)
        for model_name in (nightly, weekly, waited):
            control.force_status(model_name, "Ready")
        await until(lambda: all(watch.events for watch in watches) and wait.done(), "every event")
        for watch in watches:
            await watch.stop()
        return watches[0].events, watches[1].events, wait.result().payload

    nightly_events, weekly_events, wait_event = asyncio.run(scenario())

    assert [event["model_name"] for event in nightly_events] == [nightly]
    assert [event["model_name"] for event in weekly_events] == [weekly]
    assert wait_event["status"] == "success"
    assert control.count(STATUS) == 0
    assert control.count(LIST) >= 3
    assert active_pollers() == []


@needs_event_triggers
def test_a_failing_list_is_logged_and_the_watch_goes_on(ttm_emulator, logs) -> None:
    control = ttm_emulator.control
    model_name = _model("nightly-1")
    store = FakeStateStore()

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(_watcher(store, user_name_prefix="nightly-"))
        await until(lambda: store.saves == 1, "the first listing")
        control.add_fault(kind="unauthorized", route=LIST, times=3)
        await until(lambda: control.count(LIST) >= 5, "lists past the failures")
        control.force_status(model_name, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await watch.stop()
        return watch.events

    assert [event["model_name"] for event in asyncio.run(scenario())] == [model_name]
    assert any("Listing the models of connection 'ttm_default' failed" in m for m in logs.messages("warning"))


@needs_event_triggers
def test_neither_events_nor_the_serialized_trigger_hold_the_api_key(ttm_emulator, logs) -> None:
    model_name = _model("nightly-1")
    store = FakeStateStore()
    trigger = _watcher(store, user_name_prefix="nightly-")

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(trigger)
        await until(lambda: store.saves == 1, "the first listing")
        ttm_emulator.control.force_status(model_name, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())

    key = ttm_emulator.api_key
    assert key not in json.dumps(events)
    assert key not in json.dumps(trigger.serialize())
    assert key not in json.dumps(store.values)
    assert key not in logs.everything()


def test_ready_models_reads_the_models_of_this_triggers_asset_events() -> None:
    model = {"model_name": ID, "status": "Ready"}
    events = [
        SimpleNamespace(extra={"from_trigger": True, "payload": {"kind": "ttm_model_ready", "model": model}}),
        SimpleNamespace(extra={"from_trigger": True, "payload": {"kind": "other", "model": model}}),
        SimpleNamespace(extra={}),
        SimpleNamespace(extra=None),
    ]

    assert ready_models(events) == [model]


def test_without_event_triggers_creating_one_says_which_airflow_it_needs(monkeypatch) -> None:
    monkeypatch.setattr(model_ready, "EVENT_TRIGGERS_SUPPORTED", False)

    with pytest.raises(RuntimeError, match=r"needs Airflow 3\.0 or later"):
        TuneTheModelModelReadyEventTrigger(user_name_prefix="nightly-")


@pytest.mark.skipif(EVENT_TRIGGERS_SUPPORTED, reason="Airflow 2.11 only")
def test_on_airflow_2_the_module_imports_and_the_trigger_cannot_be_made() -> None:
    with pytest.raises(RuntimeError, match="TuneTheModelModelReadySensor instead"):
        TuneTheModelModelReadyEventTrigger(user_name_prefix="nightly-")


@needs_event_triggers
def test_a_connection_defined_after_the_start_is_picked_up(ttm_emulator, monkeypatch, logs) -> None:
    model_name = _model("nightly-1")
    store = FakeStateStore()

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(_watcher(store, ttm_conn_id="ttm_later", user_name_prefix="nightly-"))
        await until(
            lambda: any("Cannot watch connection 'ttm_later'" in m for m in logs.messages()), "a warning"
        )
        monkeypatch.setenv("AIRFLOW_CONN_TTM_LATER", ttm_emulator.conn_json)
        await until(lambda: store.saves == 1, "the first listing")
        ttm_emulator.control.force_status(model_name, "Ready")
        await until(lambda: len(watch.events) == 1, "one event")
        await watch.stop()
        return watch.events

    assert [event["model_name"] for event in asyncio.run(scenario())] == [model_name]
