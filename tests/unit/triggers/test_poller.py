"""The shared status poller: many waits on one connection, one list request per poll interval.

Every test runs real triggers in one event loop, the way the triggerer runs them, against the
emulator over loopback, and counts what the emulator received. Nothing here asserts on elapsed
time: tests wait for conditions (with a deadline) instead.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from support.conditions import until
from support.faults import RETRYABLE_FAULTS

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.records import ModelIndex
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers import poller as poller_module
from airflow_provider_ttm.triggers.poller import ModelListFeed, StatusPoller, active_pollers
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

LIST = "GET /v0/models"
STATUS = "GET /v0/models/{id}/status"
#: A public model of the emulator: callable with any key, but not in the key's own list.
PUBLIC_MODEL = "9323f9dbc976ea5dc6c8272eb90742f9"


def _models(count: int) -> list[str]:
    hook = TuneTheModelHook()
    return [hook.create_model("classifier", num_classes=2).model_name for _ in range(count)]


def _trigger(model_name: str, poll_interval: float = 0.05, **kwargs) -> TuneTheModelModelStatusTrigger:
    kwargs.setdefault("ttm_conn_id", "ttm_default")
    return TuneTheModelModelStatusTrigger(model_name=model_name, poll_interval=poll_interval, **kwargs)


async def _first_event(trigger: TuneTheModelModelStatusTrigger) -> dict:
    event = await trigger.run().asend(None)
    return event.payload


def _start(*triggers: TuneTheModelModelStatusTrigger) -> list[asyncio.Task[dict]]:
    return [asyncio.create_task(_first_event(trigger)) for trigger in triggers]


async def _gather(tasks: list[asyncio.Task[dict]], timeout: float = 10.0) -> list[dict]:
    return list(await asyncio.wait_for(asyncio.gather(*tasks), timeout))


def _the_poller() -> StatusPoller:
    (poller,) = active_pollers()
    return poller


@pytest.fixture
def opened(monkeypatch) -> list:
    """Every async transport the hook opens (to check that each one is closed)."""
    transports: list = []
    original = TuneTheModelHook.async_transport

    async def recording(self):
        transport = await original(self)
        transports.append(transport)
        return transport

    monkeypatch.setattr(TuneTheModelHook, "async_transport", recording)
    return transports


def test_waiters_that_arrive_together_share_a_single_list_request(ttm_emulator, opened) -> None:
    models = _models(20)
    for model_name in models:
        ttm_emulator.control.force_status(model_name, "Ready")

    async def scenario() -> list[dict]:
        return await _gather(_start(*(_trigger(name, poll_interval=30) for name in models)))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["success"] * 20
    assert [payload["model"]["model_name"] for payload in payloads] == models
    assert ttm_emulator.control.counters() == {"POST /v0/models": 20, LIST: 1}
    assert len(opened) == 1


def test_fan_out_sends_one_list_per_poll_whatever_the_number_of_waiters(ttm_emulator) -> None:
    models = _models(12)
    twice = models[0]  # two tasks may wait on the same model

    async def scenario() -> tuple[list[dict], int]:
        tasks = _start(*(_trigger(name) for name in [*models, twice]))
        await until(lambda: len(active_pollers()) == 1 and len(_the_poller().waiters) == 13, "all joined")
        poller = _the_poller()
        await until(lambda: poller.polls >= 3, "three polls")
        for model_name in models:
            ttm_emulator.control.force_status(model_name, "Ready")
        payloads = await _gather(tasks)
        return payloads, poller.polls

    payloads, polls = asyncio.run(scenario())

    assert {payload["status"] for payload in payloads} == {"success"}
    assert [payload["model_name"] for payload in payloads] == [*models, twice]
    assert ttm_emulator.control.count(LIST) == polls
    assert ttm_emulator.control.count(STATUS) == 0
    assert active_pollers() == []


def test_per_model_mode_sends_one_status_request_per_waiter_and_no_list(ttm_emulator) -> None:
    models = _models(5)

    async def scenario() -> list[dict]:
        tasks = _start(*(_trigger(name, coalesce=False) for name in models))
        await until(lambda: ttm_emulator.control.count(STATUS) >= 10, "two rounds of status requests")
        assert active_pollers() == []
        for model_name in models:
            ttm_emulator.control.force_status(model_name, "Ready")
        return await _gather(tasks)

    payloads = asyncio.run(scenario())

    assert {payload["status"] for payload in payloads} == {"success"}
    assert ttm_emulator.control.count(LIST) == 0


def test_a_model_missing_from_the_list_is_read_from_its_status_endpoint(ttm_emulator) -> None:
    (own,) = _models(1)
    ttm_emulator.control.force_status(own, "Ready")

    async def scenario() -> list[dict]:
        return await _gather(
            _start(_trigger(own, poll_interval=30), _trigger(PUBLIC_MODEL, poll_interval=30))
        )

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["success", "success"]
    assert payloads[1]["model"]["model_name"] == PUBLIC_MODEL
    assert ttm_emulator.control.count(LIST) == 1
    assert ttm_emulator.control.count(STATUS) == 1


def test_a_missing_model_that_does_not_exist_yields_the_404(ttm_emulator) -> None:
    # A long interval: with 0.05 s, a busy machine let the next list request start before the end.
    payload = asyncio.run(_first_event(_trigger("f" * 32, poll_interval=60)))

    assert payload["status"] == "error"
    assert "404" in payload["message"]
    assert ttm_emulator.control.counters() == {LIST: 1, STATUS: 1}


def test_fallback_reads_are_paced_by_the_waiters_own_interval(ttm_emulator, monkeypatch) -> None:
    listed, hidden = _models(2)

    async def without_hidden(self, transport, wanted=None):
        reply = await transport.send(endpoints.list_models())
        return ModelIndex({"models": [item for item in reply["models"] if item["model_name"] != hidden]})

    monkeypatch.setattr(TuneTheModelHook, "aindex_models", without_hidden)

    async def scenario() -> None:
        tasks = _start(_trigger(listed, poll_interval=0.05), _trigger(hidden, poll_interval=30))
        # Counted where they arrive: the poller counts a poll as it sends it.
        await until(lambda: ttm_emulator.control.count(LIST) >= 8, "eight polls")
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)

    asyncio.run(scenario())

    assert ttm_emulator.control.count(LIST) >= 8
    assert ttm_emulator.control.count(STATUS) == 1
    assert active_pollers() == []


def test_cancelling_one_waiter_leaves_the_others_polling(ttm_emulator, opened) -> None:
    models = _models(3)

    async def scenario() -> list[dict]:
        tasks = _start(*(_trigger(name) for name in models))
        await until(lambda: len(active_pollers()) == 1 and len(_the_poller().waiters) == 3, "all joined")
        poller = _the_poller()
        await until(lambda: poller.polls >= 2, "two polls")
        tasks[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        assert active_pollers() == [poller]
        assert {waiter.model_name for waiter in poller.waiters} == set(models[1:])
        polls = poller.polls
        await until(lambda: poller.polls >= polls + 2, "two more polls")
        for model_name in models[1:]:
            ttm_emulator.control.force_status(model_name, "Ready")
        return await _gather(tasks[1:])

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["success", "success"]
    assert len(opened) == 1
    assert opened[0].client.is_closed


def test_the_last_waiter_leaving_stops_the_task_and_closes_the_client(ttm_emulator, opened) -> None:
    models = _models(2)
    for model_name in models:
        ttm_emulator.control.force_status(model_name, "Ready")

    async def scenario() -> set[asyncio.Task]:
        await _gather(_start(*(_trigger(name) for name in models)))
        return asyncio.all_tasks() - {asyncio.current_task()}

    leftover_tasks = asyncio.run(scenario())

    assert leftover_tasks == set()
    assert active_pollers() == []
    assert len(opened) == 1
    assert opened[0].client.is_closed


def test_each_event_loop_gets_its_own_poller(ttm_emulator, opened, monkeypatch) -> None:
    (model_name,) = _models(1)
    ttm_emulator.control.force_status(model_name, "Ready")
    seen: list[StatusPoller] = []
    poller_for = poller_module._poller_for

    def recording_poller_for(*args, **kwargs):
        poller = poller_for(*args, **kwargs)
        seen.append(poller)
        return poller

    async def one_wait() -> dict:
        return await _start(_trigger(model_name))[0]

    # A poller left behind by a loop that closed is dropped when the next loop asks for one.
    stale_loop = asyncio.new_event_loop()

    async def register_only() -> None:
        poller_module._poller_for("ttm_default")

    stale_loop.run_until_complete(register_only())
    stale_loop.close()
    assert len(active_pollers()) == 1
    monkeypatch.setattr(poller_module, "_poller_for", recording_poller_for)

    first = asyncio.run(one_wait())
    second = asyncio.run(one_wait())

    assert first["status"] == second["status"] == "success"
    assert len(seen) == 2
    assert seen[0] is not seen[1]
    assert seen[0].loop is not seen[1].loop
    assert [transport.client.is_closed for transport in opened] == [True, True]
    assert active_pollers() == []


def test_a_failed_list_is_a_transient_error_for_every_waiter(ttm_emulator, one_attempt_conn) -> None:
    models = _models(3)
    for model_name in models:
        ttm_emulator.control.force_status(model_name, "Ready")
    ttm_emulator.control.add_fault(kind="error", status=503, route=LIST, times=2)

    async def scenario() -> list[dict]:
        triggers = [_trigger(name, ttm_conn_id=one_attempt_conn, max_consecutive_errors=2) for name in models]
        return await _gather(_start(*triggers))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["success"] * 3
    assert ttm_emulator.control.count(LIST) == 3


def test_too_many_failed_lists_in_a_row_fail_every_waiter(ttm_emulator, one_attempt_conn) -> None:
    models = _models(3)
    ttm_emulator.control.add_fault(kind="error", status=503, route=LIST)

    async def scenario() -> list[dict]:
        triggers = [_trigger(name, ttm_conn_id=one_attempt_conn, max_consecutive_errors=2) for name in models]
        return await _gather(_start(*triggers))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["error"] * 3
    assert all("after 3 failed polls in a row" in payload["message"] for payload in payloads)
    assert ttm_emulator.control.count(LIST) == 3


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_one_poll_is_one_list_request_of_max_attempts_attempts(ttm_emulator, attempts_conn, fault) -> None:
    """However many waiters share it, a failing poll reaches the service ``max_attempts`` times."""
    models = _models(3)
    ttm_emulator.control.add_fault(route=LIST, **fault)
    conn_id = attempts_conn(3)

    async def scenario() -> list[dict]:
        triggers = [_trigger(name, ttm_conn_id=conn_id, max_consecutive_errors=0) for name in models]
        return await _gather(_start(*triggers))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["error"] * 3
    assert ttm_emulator.control.count(LIST) == 3


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_one_poll_of_a_per_model_wait_is_sent_max_attempts_times(ttm_emulator, attempts_conn, fault) -> None:
    (model_name,) = _models(1)
    ttm_emulator.control.add_fault(route=STATUS, **fault)
    trigger = _trigger(model_name, ttm_conn_id=attempts_conn(3), max_consecutive_errors=0, coalesce=False)

    payload = asyncio.run(asyncio.wait_for(_first_event(trigger), 10))

    assert payload["status"] == "error"
    assert ttm_emulator.control.count(STATUS) == 3


def test_consecutive_failed_polls_are_separate_requests_each_with_its_attempts(
    ttm_emulator, attempts_conn
) -> None:
    (model_name,) = _models(1)
    ttm_emulator.control.add_fault(route=LIST, kind="error", status=503)
    trigger = _trigger(model_name, ttm_conn_id=attempts_conn(2), max_consecutive_errors=2)

    payload = asyncio.run(asyncio.wait_for(_first_event(trigger), 10))

    assert "after 3 failed polls in a row" in payload["message"]
    assert ttm_emulator.control.count(LIST) == 3 * 2


def test_an_unexpected_list_failure_reaches_every_waiter(ttm_emulator, monkeypatch) -> None:
    models = _models(2)

    async def broken(self, transport, wanted=None):
        raise RuntimeError("bug")

    monkeypatch.setattr(TuneTheModelHook, "aindex_models", broken)

    async def scenario() -> list[BaseException | dict]:
        return await asyncio.gather(*_start(*(_trigger(name) for name in models)), return_exceptions=True)

    outcomes = asyncio.run(scenario())

    assert [str(outcome) for outcome in outcomes] == ["bug", "bug"]
    assert active_pollers() == []


def test_a_missing_connection_fails_every_waiter_and_leaves_no_poller(ttm_emulator) -> None:
    async def scenario() -> list[dict]:
        return await _gather(_start(*(_trigger(name, ttm_conn_id="ttm_nowhere") for name in _ids(3))))

    payloads = asyncio.run(scenario())

    assert [payload["status"] for payload in payloads] == ["error"] * 3
    assert all("ttm_nowhere" in payload["message"] for payload in payloads)
    assert active_pollers() == []
    assert ttm_emulator.control.counters() == {}


def _ids(count: int) -> list[str]:
    return [f"{index:032x}" for index in range(count)]


def test_a_waiter_with_a_shorter_interval_speeds_the_poller_up(ttm_emulator) -> None:
    slow, fast = _models(2)

    async def scenario() -> dict:
        (slow_task,) = _start(_trigger(slow, poll_interval=600))
        await until(lambda: len(active_pollers()) == 1 and _the_poller().polls == 1, "the first poll")
        (fast_task,) = _start(_trigger(fast, poll_interval=0.05))
        await until(lambda: len(_the_poller().waiters) == 2, "the fast waiter joined")
        ttm_emulator.control.force_status(fast, "Ready")
        payload = await asyncio.wait_for(fast_task, 10)
        slow_task.cancel()
        await asyncio.wait([slow_task])
        return payload

    assert asyncio.run(scenario())["status"] == "success"
    assert active_pollers() == []


def test_sensor_and_create_operator_pass_coalesce_to_the_trigger(ttm_emulator, context) -> None:
    (model_name,) = _models(1)

    def deferred_trigger(task) -> TuneTheModelModelStatusTrigger:
        with pytest.raises(TaskDeferred) as deferred:
            task.execute(context)
        return deferred.value.trigger

    sensor = {"task_id": "wait", "model_name": model_name, "deferrable": True, "timeout": 60}
    create = {"task_id": "create", "model_type": "classifier", "wait_for_ready": True, "deferrable": True}
    create["timeout"] = timedelta(minutes=1)

    assert deferred_trigger(TuneTheModelModelReadySensor(**sensor)).coalesce is True
    assert deferred_trigger(TuneTheModelModelReadySensor(**sensor, coalesce=False)).coalesce is False
    assert deferred_trigger(TuneTheModelCreateModelOperator(**create, name="a")).coalesce is True
    operator = TuneTheModelCreateModelOperator(**create, name="b", coalesce=False)
    assert deferred_trigger(operator).coalesce is False


def test_a_list_feed_passes_over_a_list_read_for_other_ids_only() -> None:
    """A watcher joining while a list for the status waits' ids is under way waits for the next one."""
    whole = ModelIndex({"models": []})
    partial = ModelIndex({"models": []}, wanted={"a" * 32})

    async def scenario() -> tuple[bool, ModelIndex]:
        feed = ModelListFeed(StatusPoller("ttm_default", asyncio.get_running_loop()), 1.0, wanted=None)
        feed.deliver(feed.reading_from(partial))
        taken = asyncio.create_task(feed.next_list())
        for _ in range(5):
            await asyncio.sleep(0)
        waited = not taken.done()
        feed.deliver(feed.reading_from(whole))
        return waited, await asyncio.wait_for(taken, 5)

    waited, index = asyncio.run(scenario())

    assert waited
    assert index is whole
