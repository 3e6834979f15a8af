"""The bad-input table: each bad input fails with a message naming the parameter or the cause,
before any request that changes state on the service (the emulator counts every request)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
import responses
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES
from airflow_provider_ttm.exceptions import (
    TuneTheModelConnectionConfigError,
    TuneTheModelMalformedResponseError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import TuneTheModelClassifyOperator
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
    TuneTheModelListModelsOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

MODEL = "a" * 32
NAN, INF = float("nan"), float("inf")
CREATE = (TuneTheModelCreateModelOperator, {"model_type": "generator"})
SENSOR = (TuneTheModelModelReadySensor, {"model_name": MODEL})
DELETE = (TuneTheModelDeleteModelOperator, {"model_name": MODEL})
LIST = (TuneTheModelListModelsOperator, {})
CLASSIFY = (TuneTheModelClassifyOperator, {"model_name": MODEL, "inputs": ["a"]})
TRAIN = (
    TuneTheModelTrainModelOperator,
    {"model_name": MODEL, "train_data": "t.csv", "validation_data": "v.csv"},
)


def _case(case: str, target: tuple[type, dict[str, Any]], named: str, **kwargs: Any) -> Any:
    operator, required = target
    return pytest.param(operator, {**required, **kwargs}, named, id=case)


# Each bad argument of every operator and sensor, in several forms: numbers (bool is no number,
# NaN, infinities, huge values, strings), booleans (a string such as "false" is no boolean), lists
# against strings, ids, connection ids.
OPERATOR_ARGUMENTS = [
    _case("wrong model_type", CREATE, "model_type", model_type="regressor"),
    _case("model_type case", CREATE, "model_type", model_type="Classifier"),
    _case("num_classes 1", CREATE, "num_classes", model_type="classifier", num_classes=1),
    _case("num_classes 0", CREATE, "num_classes", model_type="classifier", num_classes=0),
    _case("num_classes -3", CREATE, "num_classes", model_type="classifier", num_classes=-3),
    _case("num_classes '3a'", CREATE, "num_classes", model_type="classifier", num_classes="3a"),
    _case("num_classes float", CREATE, "num_classes", model_type="classifier", num_classes=3.0),
    _case("num_classes bool", CREATE, "num_classes", model_type="classifier", num_classes=True),
    _case("num_classes huge", CREATE, "num_classes", model_type="classifier", num_classes=10**30),
    _case("num_classes 5000 digits", CREATE, "num_classes", model_type="classifier", num_classes="9" * 5000),
    _case("num_classes int of 5000 digits", CREATE, "num_classes", model_type="classifier", num_classes=10**5000),
    _case("num_classes for a generator", CREATE, "num_classes", num_classes=3),
    _case("train_iters 0", CREATE, "train_iters", train_iters=0),
    _case("train_iters nan", CREATE, "train_iters", train_iters=NAN),
    _case("name blank", CREATE, "name", name="  "),
    _case("name too long", CREATE, "name", name="n" * 257),
    _case("name not text", CREATE, "name", name=42),
    _case("pretrained_model path", CREATE, "pretrained_model", pretrained_model="../etc"),
    _case("create timeout 1e15", CREATE, "timeout", timeout=1e15),
    _case("create timeout inf", CREATE, "timeout", timeout=INF),
    _case("create timeout nan", CREATE, "timeout", timeout=NAN),
    _case("create timeout 0", CREATE, "timeout", timeout=0),
    _case("create timeout True", CREATE, "timeout", timeout=True),
    _case("create timeout string", CREATE, "timeout", timeout="3600"),
    _case("create timeout huge timedelta", CREATE, "timeout", timeout=timedelta(days=999_999)),
    _case("create timeout negative timedelta", CREATE, "timeout", timeout=timedelta(seconds=-5)),
    _case("poll_interval 0", CREATE, "poll_interval", poll_interval=0),
    _case("poll_interval negative", CREATE, "poll_interval", poll_interval=-5),
    _case("poll_interval below the floor", CREATE, "poll_interval", poll_interval=0.001),
    _case("poll_interval inf", CREATE, "poll_interval", poll_interval=INF),
    _case("poll_interval nan", CREATE, "poll_interval", poll_interval=NAN),
    _case("poll_interval True", CREATE, "poll_interval", poll_interval=True),
    _case("max_consecutive_errors -1", CREATE, "max_consecutive_errors", max_consecutive_errors=-1),
    _case("max_consecutive_errors float", CREATE, "max_consecutive_errors", max_consecutive_errors=2.5),
    _case("max_consecutive_errors bool", CREATE, "max_consecutive_errors", max_consecutive_errors=True),
    _case("max_consecutive_errors inf", CREATE, "max_consecutive_errors", max_consecutive_errors=INF),
    _case("wait_for_ready 'false'", CREATE, "wait_for_ready", wait_for_ready="false"),
    _case("wait_for_ready 1", CREATE, "wait_for_ready", wait_for_ready=1),
    _case("wait_for_ready None", CREATE, "wait_for_ready", wait_for_ready=None),
    _case("create deferrable 'no'", CREATE, "deferrable", deferrable="no"),
    _case("create coalesce 'True'", CREATE, "coalesce", coalesce="True"),
    _case("ttm_conn_id empty", CREATE, "ttm_conn_id", ttm_conn_id=""),
    _case("ttm_conn_id not text", CREATE, "ttm_conn_id", ttm_conn_id=7),
    _case("ttm_conn_id None", DELETE, "ttm_conn_id", ttm_conn_id=None),
    _case("empty model id", DELETE, "model_name", model_name=""),
    _case("blank model id", DELETE, "model_name", model_name="   "),
    _case("over-long model id", DELETE, "model_name", model_name="a" * 129),
    _case("path-like model id", DELETE, "model_name", model_name="../x"),
    _case("model id not text", DELETE, "model_name", model_name=12345),
    _case("fail_if_missing 'no'", DELETE, "fail_if_missing", fail_if_missing="no"),
    _case("fail_if_missing 0", DELETE, "fail_if_missing", fail_if_missing=0),
    _case("statuses a string", LIST, "statuses", statuses="Ready"),
    _case("statuses a comma list", LIST, "statuses", statuses="Ready,Training"),
    _case("statuses a set", LIST, "statuses", statuses={"Ready"}),
    _case("statuses unknown", LIST, "statuses", statuses=["Done"]),
    _case("statuses not text", LIST, "statuses", statuses=[1]),
    _case("public 'yes'", LIST, "public", public="yes"),
    _case("public 1", LIST, "public", public=1),
    _case("list model_type", LIST, "model_type", model_type="x"),
    _case("query-like sensor model id", SENSOR, "model_name", model_name="a/b?c"),
    _case("sensor model id None", SENSOR, "model_name", model_name=None),
    _case("sensor timeout inf", SENSOR, "timeout", timeout=INF),
    _case("sensor timeout nan", SENSOR, "timeout", timeout=NAN),
    _case("sensor timeout 1e15", SENSOR, "timeout", timeout=1e15),
    _case("sensor timeout negative", SENSOR, "timeout", timeout=-1),
    _case("sensor timeout True", SENSOR, "timeout", timeout=True),
    _case("poke_interval 0", SENSOR, "poke_interval", poke_interval=0),
    _case("poke_interval inf", SENSOR, "poke_interval", poke_interval=INF),
    _case("poke_interval below the floor", SENSOR, "poke_interval", poke_interval=0.01),
    _case("poke_interval huge timedelta", SENSOR, "poke_interval", poke_interval=timedelta(days=10**6)),
    _case("max_wait inf", SENSOR, "max_wait", max_wait=INF, exponential_backoff=True),
    _case("sensor deferrable 'false'", SENSOR, "deferrable", deferrable="false"),
    _case("sensor strict 'no'", SENSOR, "strict", strict="no"),
    _case("sensor coalesce 1", SENSOR, "coalesce", coalesce=1),
    _case("sensor max_consecutive_errors bool", SENSOR, "max_consecutive_errors", max_consecutive_errors=False),
    _case("sensor max_consecutive_errors -1", SENSOR, "max_consecutive_errors", max_consecutive_errors=-1),
    _case("sensor ttm_conn_id blank", SENSOR, "ttm_conn_id", ttm_conn_id=" "),
    _case("train timeout 1e15", TRAIN, "timeout", timeout=1e15),
    _case("files_timeout inf", TRAIN, "files_timeout", files_timeout=INF),
    _case("files_timeout 0", TRAIN, "files_timeout", files_timeout=0),
    _case("delete_files 'no'", TRAIN, "delete_files", delete_files="no"),
    _case("train wait_for_ready 'false'", TRAIN, "wait_for_ready", wait_for_ready="false"),
    _case("train poll_interval 0", TRAIN, "poll_interval", poll_interval=0),
    _case("file_name_prefix blank", TRAIN, "file_name_prefix", file_name_prefix=""),
    _case("file_name_prefix too long", TRAIN, "file_name_prefix", file_name_prefix="p" * 250),
    _case("input_column empty", TRAIN, "input_column", input_column=""),
    _case("target_column not text", TRAIN, "target_column", target_column=3),
    _case("train model id", TRAIN, "model_name", model_name="a b"),
    _case("train num_classes", TRAIN, "num_classes", model_type="classifier", num_classes="two"),
    _case("train data_format", TRAIN, "data_format", data_format="xml"),
    _case("classify ttm_conn_id", CLASSIFY, "ttm_conn_id", ttm_conn_id=""),
]  # fmt: skip


@pytest.mark.parametrize(("operator", "kwargs", "named"), OPERATOR_ARGUMENTS)
def test_bad_argument_is_refused_naming_it(ttm_emulator, refusal, operator, kwargs, named) -> None:
    refusal(operator, kwargs, named)
    assert ttm_emulator.control.counters() == {}


TRIGGER_ARGUMENTS = [
    ("poll_interval", 0),
    ("poll_interval", -1),
    ("poll_interval", 0.001),
    ("poll_interval", NAN),
    ("poll_interval", INF),
    ("poll_interval", True),
    ("poll_interval", "5"),
    ("deadline", INF),
    ("deadline", NAN),
    ("deadline", 1e300),
    ("deadline", True),
    ("deadline", "tomorrow"),
    ("max_consecutive_errors", -1),
    ("max_consecutive_errors", 1.5),
    ("max_consecutive_errors", True),
    ("max_consecutive_errors", None),
    ("strict", "no"),
    ("coalesce", "yes"),
    ("started_at", NAN),
    ("started_at", -INF),
    ("ttm_conn_id", ""),
    ("ttm_conn_id", None),
]


@pytest.mark.parametrize(
    ("param", "value"), TRIGGER_ARGUMENTS, ids=[f"{p}={v!r}" for p, v in TRIGGER_ARGUMENTS]
)
def test_bad_trigger_argument_ends_the_wait_with_an_error_event(ttm_emulator, param, value) -> None:
    """Checked when the trigger runs, not when it is built: a stored trigger always loads (see
    docs/development.md, "Stored triggers"), and a bad argument ends its wait clearly."""
    kwargs = {"ttm_conn_id": "ttm_default", "model_name": MODEL, "poll_interval": 5, param: value}
    event = asyncio.run(TuneTheModelModelStatusTrigger(**kwargs).run().asend(None))
    assert event.payload["status"] == "error"
    assert f": {param} must " in event.payload["message"]
    assert ttm_emulator.control.counters() == {}


# Templated values, rendered to something bad: refused in execute, before the first request.
RENDERED = [
    ("create name", TuneTheModelCreateModelOperator, {"model_type": "generator", "name": "{{ x }}"}, "name", ""),
    ("create num_classes", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": "{{ x }}"}, "num_classes", "1"),
    ("create train_iters", TuneTheModelCreateModelOperator, {"model_type": "generator", "train_iters": "{{ x }}"}, "train_iters", "0"),
    ("create pretrained_model", TuneTheModelCreateModelOperator, {"model_type": "generator", "pretrained_model": "{{ x }}"}, "pretrained_model", "../x"),
    ("create model_type", TuneTheModelCreateModelOperator, {"model_type": "{{ x }}"}, "model_type", "regressor"),
    ("create ttm_conn_id", TuneTheModelCreateModelOperator, {"model_type": "generator", "ttm_conn_id": "{{ x }}"}, "ttm_conn_id", ""),
    ("delete model_name", TuneTheModelDeleteModelOperator, {"model_name": "{{ x }}"}, "model_name", "a/../b"),
    ("list statuses string", TuneTheModelListModelsOperator, {"statuses": "{{ x }}"}, "statuses", "Ready"),
    ("list statuses item", TuneTheModelListModelsOperator, {"statuses": ["Ready", "{{ x }}"]}, "statuses", ["Ready", "Done"]),
    ("list model_type", TuneTheModelListModelsOperator, {"model_type": "{{ x }}"}, "model_type", "Generator"),
    ("sensor model_name", TuneTheModelModelReadySensor, {"model_name": "{{ x }}"}, "model_name", ""),
    ("sensor ttm_conn_id", TuneTheModelModelReadySensor, {"model_name": MODEL, "ttm_conn_id": "{{ x }}"}, "ttm_conn_id", "  "),
    ("train model_name", TuneTheModelTrainModelOperator, {"model_name": "{{ x }}", "train_data": "t.csv", "validation_data": "v.csv"}, "model_name", "?"),
    ("train file_name_prefix", TuneTheModelTrainModelOperator, {"model_name": MODEL, "train_data": "t.csv", "validation_data": "v.csv", "file_name_prefix": "{{ x }}"}, "file_name_prefix", " "),
    ("train input_column", TuneTheModelTrainModelOperator, {"model_name": MODEL, "train_data": "t.csv", "validation_data": "v.csv", "input_column": "{{ x }}"}, "input_column", ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("operator", "kwargs", "param", "rendered"),
    [pytest.param(*case[1:], id=case[0]) for case in RENDERED],
)
def test_bad_rendered_value_is_refused_before_any_request(
    ttm_emulator, context, operator, kwargs, param, rendered
) -> None:
    task = operator(task_id="t", **kwargs)  # a template is not checked when the DAG is parsed
    setattr(task, param, rendered)  # what rendering produced
    with pytest.raises(ValueError, match=rf"^{param} must "):
        task.execute(context)
    assert ttm_emulator.control.counters() == {}


def _set_connection(monkeypatch, **fields) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTM_DEFAULT", json.dumps({"conn_type": "ttm", **fields}))


def test_unknown_connection_id_names_it(ttm_emulator, context) -> None:
    operator = TuneTheModelCreateModelOperator(
        task_id="c", model_type="generator", ttm_conn_id="no_such_conn"
    )
    with pytest.raises(AirflowNotFoundException, match="no_such_conn"):
        operator.execute(context)
    assert ttm_emulator.control.counters() == {}


def test_empty_api_key_names_the_field(ttm_emulator, context, monkeypatch) -> None:
    _set_connection(monkeypatch, host=ttm_emulator.url, password="")
    with pytest.raises(TuneTheModelConnectionConfigError, match="no API key"):
        TuneTheModelCreateModelOperator(task_id="c", model_type="generator").execute(context)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    "host", ["ftp://api.example.test", "https://", "https://host:port", "http://example.com"]
)
def test_malformed_base_url_names_the_host(ttm_emulator, context, monkeypatch, host) -> None:
    _set_connection(monkeypatch, host=host, password=ttm_emulator.api_key)
    with pytest.raises(TuneTheModelConnectionConfigError, match=r"host|http://"):
        TuneTheModelCreateModelOperator(task_id="c", model_type="generator").execute(context)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"<html>Bad gateway</html>", "not valid JSON"),
        (b'{"models": [{"status": "Rea', "not valid JSON"),
        (b'{"models": "' + b"x" * (MAX_REPLY_BYTES + 10) + b'"}', "larger than"),
    ],
    ids=["non-JSON", "truncated", "huge"],
)
def test_unusable_reply_names_the_cause(monkeypatch, body, cause) -> None:
    _set_connection(
        monkeypatch, host="https://api.example.test", password="secret-key-123", extra={"max_attempts": 1}
    )
    with responses.RequestsMock() as http:
        http.get("https://api.example.test/v0/models", body=body)
        with pytest.raises(TuneTheModelMalformedResponseError, match=cause) as error:
            TuneTheModelHook().list_models()
    assert "HTTP 200" in str(error.value)
