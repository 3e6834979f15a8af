"""B6, other variants: integers beyond any float, digit strings past Python's conversion limit,
strings where booleans belong, and templates rendering to such values; each refused with a
ValueError naming the argument, before any request (the emulator counts every request)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

MODEL = "a" * 32
#: An integer no float can hold: ``math.isfinite`` and ``float()`` raise OverflowError on it.
BEYOND_FLOAT = 10**400
#: An integer whose repr (and a digit string whose int()) hits Python's 4,300-digit limit.
HUGE = 10**5000
HUGE_DIGITS = "9" * 5000

CLASSIFY = (TuneTheModelClassifyOperator, {"model_name": MODEL, "inputs": ["a"]})
GENERATE = (TuneTheModelGenerateOperator, {"model_name": MODEL, "inputs": ["a"]})
CREATE = (TuneTheModelCreateModelOperator, {"model_type": "generator"})
SENSOR = (TuneTheModelModelReadySensor, {"model_name": MODEL})
TRAIN = (
    TuneTheModelTrainModelOperator,
    {"model_name": MODEL, "train_data": "t.csv", "validation_data": "v.csv"},
)


def _label(value: Any) -> str:
    """A short test id for ``value`` (``str`` of a 5,000-digit integer would raise)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**20:
        return f"{'-' if value < 0 else ''}{value.bit_length() * 3 // 10}-digit-int"
    return str(value)[:12]


def _case(target: tuple[type, dict[str, Any]], param: str, value: Any, **kwargs: Any) -> Any:
    operator, required = target
    name = f"{operator.__name__.removeprefix('TuneTheModel')}-{param}={_label(value)}"
    return pytest.param(operator, {**required, **kwargs, param: value}, param, id=name)


ARGUMENTS = [
    _case(CLASSIFY, "threshold", BEYOND_FLOAT),
    _case(CLASSIFY, "threshold", HUGE),
    _case(CLASSIFY, "threshold", HUGE_DIGITS),
    _case(CLASSIFY, "threshold", "nan"),
    _case(CLASSIFY, "threshold", "-inf"),
    _case(CLASSIFY, "threshold", -0.01),
    _case(CLASSIFY, "threshold", None),
    _case(CLASSIFY, "threshold", False),
    _case(CLASSIFY, "max_concurrency", "4.0"),
    _case(CLASSIFY, "item_retries", HUGE),
    _case(GENERATE, "temperature", BEYOND_FLOAT),
    _case(GENERATE, "temperature", -BEYOND_FLOAT),
    _case(GENERATE, "top_p", BEYOND_FLOAT),
    _case(GENERATE, "top_p", HUGE),
    _case(GENERATE, "seed", HUGE),
    _case(GENERATE, "seed", HUGE_DIGITS),
    _case(GENERATE, "seed", "-" + HUGE_DIGITS),
    _case(GENERATE, "seed", 2**64),
    _case(GENERATE, "seed", 1.5),
    _case(GENERATE, "max_tokens", HUGE_DIGITS),
    _case(GENERATE, "prefix_tokens_only", "no"),
    _case(GENERATE, "prefix_tokens_only", HUGE),
    _case(CREATE, "timeout", BEYOND_FLOAT),
    _case(CREATE, "timeout", HUGE),
    _case(CREATE, "poll_interval", BEYOND_FLOAT),
    _case(CREATE, "poll_interval", timedelta(microseconds=1)),
    _case(CREATE, "timeout", timedelta(days=100_000)),
    _case(CREATE, "max_consecutive_errors", HUGE_DIGITS),
    _case(SENSOR, "timeout", BEYOND_FLOAT),
    _case(SENSOR, "poke_interval", BEYOND_FLOAT),
    _case(SENSOR, "max_wait", BEYOND_FLOAT, exponential_backoff=True),
    _case(SENSOR, "soft_fail", "no"),
    _case(SENSOR, "soft_fail", 0),
    _case(SENSOR, "exponential_backoff", "false"),
    _case(TRAIN, "files_timeout", BEYOND_FLOAT),
    _case(TRAIN, "timeout", -BEYOND_FLOAT),
]  # fmt: skip


@pytest.mark.parametrize(("operator", "kwargs", "named"), ARGUMENTS)
def test_a_bad_argument_is_refused_naming_it(ttm_emulator, refusal, operator, kwargs, named) -> None:
    assert len(str(refusal(operator, kwargs, named))) < 400
    assert ttm_emulator.control.counters() == {}


TRIGGER_ARGUMENTS = [
    ("poll_interval", BEYOND_FLOAT),
    ("poll_interval", 1e-9),
    ("deadline", BEYOND_FLOAT),
    ("deadline", -BEYOND_FLOAT),
    ("started_at", BEYOND_FLOAT),
    ("started_at", float("inf")),
    ("max_consecutive_errors", 2**70),
    ("max_consecutive_errors", HUGE),
    ("errors_in_a_row", -1),
]


@pytest.mark.parametrize(
    ("param", "value"), TRIGGER_ARGUMENTS, ids=[f"{p}={_label(v)}" for p, v in TRIGGER_ARGUMENTS]
)
def test_a_trigger_built_with_a_bad_argument_ends_the_wait_with_an_error_event(
    ttm_emulator, param: str, value: Any
) -> None:
    """Checked when the trigger runs, not when it is built: a stored trigger always loads (see
    docs/development.md, "Stored triggers"), and a bad argument ends its wait clearly."""
    kwargs = {"ttm_conn_id": "ttm_default", "model_name": MODEL, "poll_interval": 5, param: value}
    event = asyncio.run(TuneTheModelModelStatusTrigger(**kwargs).run().asend(None))
    assert event.payload["status"] == "error"
    assert f": {param} must " in event.payload["message"]
    assert ttm_emulator.control.counters() == {}


RENDERED = [
    (CLASSIFY, "threshold", "1.5"),
    (CLASSIFY, "threshold", "abc"),
    (CLASSIFY, "threshold", HUGE_DIGITS),
    (CLASSIFY, "threshold", "1e400"),
    (GENERATE, "temperature", "inf"),
    (GENERATE, "top_p", HUGE_DIGITS),
    (GENERATE, "seed", HUGE_DIGITS),
    (GENERATE, "prefix_tokens_only", "yes"),
]


@pytest.mark.parametrize(
    ("target", "param", "rendered"),
    RENDERED,
    ids=[
        f"{target[0].__name__.removeprefix('TuneTheModel')}-{param}={rendered[:10]}"
        for target, param, rendered in RENDERED
    ],
)
def test_a_template_rendering_to_a_bad_value_is_refused_before_any_request(
    ttm_emulator, target, param: str, rendered: str
) -> None:
    operator, required = target
    task = operator(task_id="t", **required, **{param: "{{ params.x }}"})
    setattr(task, param, rendered)  # what rendering produced
    with pytest.raises(ValueError, match=rf"^{param} must "):
        task.execute({})
    assert ttm_emulator.control.counters() == {}
