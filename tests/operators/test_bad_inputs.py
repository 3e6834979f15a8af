"""The bad-input table: each bad input fails with a message naming the parameter or the cause,
before any request that changes state on the service (the emulator counts every request)."""

from __future__ import annotations

import json

import pytest
import responses
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES
from airflow_provider_ttm.exceptions import (
    TuneTheModelConnectionConfigError,
    TuneTheModelMalformedResponseError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

STATE_CHANGING = ("POST /v0/models", "DELETE /v0/models/{id}/delete")

OPERATOR_ARGUMENTS = [
    ("wrong model_type", TuneTheModelCreateModelOperator, {"model_type": "regressor"}, "model_type"),
    ("num_classes 1", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": 1}, "num_classes"),
    ("num_classes 0", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": 0}, "num_classes"),
    ("num_classes -3", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": -3}, "num_classes"),
    ("num_classes '3a'", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": "3a"}, "num_classes"),
    ("num_classes float", TuneTheModelCreateModelOperator, {"model_type": "classifier", "num_classes": 3.0}, "num_classes"),
    ("num_classes for a generator", TuneTheModelCreateModelOperator, {"model_type": "generator", "num_classes": 3}, "num_classes"),
    ("empty model id", TuneTheModelDeleteModelOperator, {"model_name": ""}, "model_name"),
    ("blank model id", TuneTheModelDeleteModelOperator, {"model_name": "   "}, "model_name"),
    ("over-long model id", TuneTheModelDeleteModelOperator, {"model_name": "a" * 129}, "model_name"),
    ("path-like model id", TuneTheModelDeleteModelOperator, {"model_name": "../x"}, "model_name"),
    ("query-like model id", TuneTheModelModelReadySensor, {"model_name": "a/b?c"}, "model_name"),
    ("zero poll_interval", TuneTheModelCreateModelOperator, {"model_type": "generator", "poll_interval": 0}, "poll_interval"),
    ("negative poll_interval", TuneTheModelCreateModelOperator, {"model_type": "generator", "poll_interval": -5}, "poll_interval"),
    ("zero timeout", TuneTheModelCreateModelOperator, {"model_type": "generator", "timeout": 0}, "timeout"),
    ("negative sensor timeout", TuneTheModelModelReadySensor, {"model_name": "a" * 32, "timeout": -1}, "timeout"),
    ("zero poke_interval", TuneTheModelModelReadySensor, {"model_name": "a" * 32, "poke_interval": 0}, "poke_interval"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "operator", "kwargs", "named"), OPERATOR_ARGUMENTS, ids=[c[0] for c in OPERATOR_ARGUMENTS]
)
def test_bad_argument_is_refused_naming_it(ttm_emulator, case, operator, kwargs, named) -> None:
    with pytest.raises(ValueError, match=named):
        operator(task_id="t", **kwargs)
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
