"""TuneTheModelDeleteModelOperator and TuneTheModelListModelsOperator against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.exceptions import TuneTheModelNotFoundError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelDeleteModelOperator,
    TuneTheModelListModelsOperator,
)


def test_delete_returns_the_deleted_model(ttm_emulator, context) -> None:
    model = TuneTheModelHook().create_model("generator", name="gen")

    deleted = TuneTheModelDeleteModelOperator(task_id="delete", model_name=model.model_name).execute(context)

    assert deleted["model_name"] == model.model_name
    assert deleted["user_name"] == "gen"
    assert ttm_emulator.control.models() == []


def test_deleting_a_missing_model_succeeds_unless_asked_to_fail(ttm_emulator, context) -> None:
    missing = "0" * 32
    assert TuneTheModelDeleteModelOperator(task_id="d", model_name=missing).execute(context) is None
    strict = TuneTheModelDeleteModelOperator(task_id="d", model_name=missing, fail_if_missing=True)
    with pytest.raises(TuneTheModelNotFoundError):
        strict.execute(context)


@pytest.mark.parametrize("bad", ["", "   ", "../x", "a/b?c", "x" * 200])
def test_delete_refuses_bad_model_names_before_any_request(ttm_emulator, refusal, bad) -> None:
    refusal(TuneTheModelDeleteModelOperator, {"model_name": bad}, "model_name")
    assert ttm_emulator.control.counters() == {}


def test_list_returns_plain_dicts_filtered(ttm_emulator, context) -> None:
    hook = TuneTheModelHook()
    ready = hook.create_model("classifier", name="a")
    hook.create_model("classifier", name="b")
    hook.create_model("generator", name="c")
    ttm_emulator.control.force_status(ready.model_name, "Ready")

    everything = TuneTheModelListModelsOperator(task_id="l").execute(context)
    ready_only = TuneTheModelListModelsOperator(task_id="l", statuses=["ready"]).execute(context)
    generators = TuneTheModelListModelsOperator(task_id="l", model_type="generator").execute(context)

    assert sorted(m["user_name"] for m in everything) == ["a", "b", "c"]
    assert [m["model_name"] for m in ready_only] == [ready.model_name]
    assert [m["user_name"] for m in generators] == ["c"]
    assert all(isinstance(m["last_updated_time"], str) for m in everything)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statuses": ["Done"]}, "statuses must hold model statuses among"),
        ({"statuses": "Ready"}, "statuses must be a list"),
        ({"model_type": "x"}, "model_type must be one of"),
    ],
)
def test_list_refuses_bad_filters(ttm_emulator, refusal, kwargs, message) -> None:
    refusal(TuneTheModelListModelsOperator, kwargs, next(iter(kwargs)), message)
    assert ttm_emulator.control.counters() == {}
