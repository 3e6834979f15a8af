"""B5, other variants: numbers too big for a float that JSON parsing accepts, bad values deep in a
reply, nesting deep enough to pass the parser but not the walks after it, ids that do not match."""

from __future__ import annotations

import asyncio
import time

import pytest
from support.hostile_server import API_KEY, HostileServer, Reply, call_within

from airflow_provider_ttm.api.records import MAX_MODEL_NESTING
from airflow_provider_ttm.exceptions import TuneTheModelMalformedResponseError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

try:
    from airflow.sdk.bases.xcom import BaseXCom
except ImportError:  # Airflow 2
    from airflow.models.xcom import BaseXCom  # type: ignore[no-redef]

BOUND = 20
MODEL = "a" * 32
OTHER = "b" * 32


def _model(model_id: str = MODEL, **fields: str) -> str:
    extra = "".join(f', "{name}": {value}' for name, value in fields.items())
    return '{"model_name": "' + model_id + '", "status": "Ready"' + extra + "}"


def _hook(hostile_conn) -> TuneTheModelHook:
    return TuneTheModelHook(hostile_conn(max_attempts=2, backoff_cap=0))


#: Scores JSON parsing accepts but no float can hold, or no classifier answers.
BAD_SCORES = {
    "400-digit-integer": "1" + "0" * 400,
    "negative-400-digit-integer": "-" + "9" * 400,
    "4300-digit-integer": "7" * 4300,
    "nan-in-list": "0.5, NaN, 0.1",
    "float-overflow-exponent": "1e400",
    "float-overflow-digits": "9" * 400 + ".5",
}


@pytest.mark.parametrize("score", list(BAD_SCORES))
def test_a_classify_score_no_float_holds_is_a_malformed_reply(
    hostile_server: HostileServer, hostile_conn, score: str
) -> None:
    hostile_server.respond(Reply.json('{"answer": {"scores": [' + BAD_SCORES[score] + "]}}"))
    outcome = call_within(BOUND, _hook(hostile_conn).classify, MODEL, "text")
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
    assert outcome.retryable
    assert "finite number" in str(outcome) or "not valid JSON" in str(outcome)


#: Model objects with a bad number somewhere inside (the list and status replies alike).
BAD_MODELS = {
    "params-4301-digits": _model(model_params='{"num_classes": ' + "3" * 4301 + "}"),
    "params-nan-in-array": _model(model_params='{"weights": [[0.1, [NaN]]]}'),
    "params-minus-infinity": _model(model_params='{"lr": -Infinity}'),
    "params-1e400": _model(model_params='{"lr": 1e400}'),
    "extra-field-huge-integer": _model(size="-" + "1" * 4400),
    "deep-nesting": _model(model_params='{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
}


@pytest.mark.parametrize("where", ["list", "status"])
@pytest.mark.parametrize("bad", list(BAD_MODELS))
def test_a_bad_number_inside_a_model_is_a_malformed_reply(
    hostile_server: HostileServer, hostile_conn, where: str, bad: str
) -> None:
    body = BAD_MODELS[bad]
    hostile_server.respond(Reply.json('{"models": [' + body + "]}" if where == "list" else body))
    hook = _hook(hostile_conn)
    call = hook.list_models if where == "list" else (lambda: hook.get_model(MODEL))
    outcome = call_within(BOUND, call)
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
    assert len(hostile_server.requests) == 2


@pytest.mark.parametrize("depth", [500, 900, 990])
def test_nesting_the_parser_accepts_does_not_break_the_key_redaction(
    hostile_server: HostileServer, hostile_conn, depth: int
) -> None:
    """A reply that may hold the key is walked after parsing: a deep one is malformed, not a crash."""
    nested = "[" * depth + '"' + API_KEY + '"' + "]" * depth
    hostile_server.respond(Reply.json('{"models": [' + _model(model_params='{"a": ' + nested + "}") + "]}"))
    outcome = call_within(BOUND, _hook(hostile_conn).list_models)
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
        assert API_KEY not in str(outcome)
    else:
        assert API_KEY not in repr(outcome[0].model_params)


@pytest.mark.parametrize("where", ["list", "status"])
@pytest.mark.parametrize("depth", [20, 40, 500, 900])
def test_a_model_nested_too_deep_for_xcom_is_a_malformed_reply(
    hostile_server: HostileServer, hostile_conn, where: str, depth: int
) -> None:
    """Nesting the JSON parser accepts (up to about 1,000) would fail the XCom push of the result."""
    body = _model(model_params='{"a": ' + "[" * depth + "]" * depth + "}")
    hostile_server.respond(Reply.json('{"models": [' + body + "]}" if where == "list" else body))
    hook = _hook(hostile_conn)
    outcome = call_within(BOUND, hook.list_models if where == "list" else (lambda: [hook.get_model(MODEL)]))
    if depth <= MAX_MODEL_NESTING - 2:  # the model object and model_params are two levels
        assert not isinstance(outcome, BaseException), repr(outcome)
        assert BaseXCom.serialize_value([record.to_dict() for record in outcome])
    else:
        assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
        assert f"deeper than {MAX_MODEL_NESTING} levels" in str(outcome)


#: Model ids a list or status reply must not hand on (to XCom, or into a model URL).
BAD_IDS = {
    "traversal": "../../v0/models",
    "200-characters": "a" * 200,
    "query": f"{MODEL}?x=1",
    "empty": "",
    "with-slash": f"{MODEL}/delete",
}


@pytest.mark.parametrize("bad_id", list(BAD_IDS))
def test_a_listed_id_no_model_url_can_hold_is_a_malformed_reply(
    hostile_server: HostileServer, hostile_conn, bad_id: str
) -> None:
    hostile_server.respond(Reply.json({"models": [{"model_name": BAD_IDS[bad_id], "status": "Ready"}]}))
    outcome = call_within(BOUND, _hook(hostile_conn).list_models)
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)


def test_a_status_reply_about_another_model_is_a_malformed_reply(
    hostile_server: HostileServer, hostile_conn
) -> None:
    hostile_server.respond(Reply.json(_model(OTHER)))
    outcome = call_within(BOUND, _hook(hostile_conn).get_model, MODEL)
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
    assert OTHER in str(outcome)


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesced", "per-model"])
@pytest.mark.parametrize(
    "bad_model",
    [_model(model_params='{"n": ' + "9" * 4301 + "}"), _model(model_params='{"n": NaN}'), _model(OTHER)],
    ids=["huge-integer", "nan", "another-model"],
)
def test_a_trigger_reports_a_malformed_reply_as_an_event(
    hostile_server: HostileServer, hostile_conn, coalesce: bool, bad_model: str
) -> None:
    """Not an exception out of ``run``: an error event once the tolerated failures are spent."""
    listed = bad_model if bad_model != _model(OTHER) else _model(OTHER) + ", " + _model(model_params="[NaN]")
    hostile_server.respond(
        lambda request: Reply.json(
            '{"models": [' + listed + "]}" if request.path == "/v0/models" else bad_model
        )
    )
    conn_id = hostile_conn(max_attempts=1)
    trigger = TuneTheModelModelStatusTrigger(
        conn_id, MODEL, 0.05, deadline=time.time() + 10, coalesce=coalesce, max_consecutive_errors=1
    )
    event = asyncio.run(asyncio.wait_for(trigger.run().asend(None), BOUND))
    assert event.payload["status"] == "error", event.payload
    assert "2 failed polls in a row" in event.payload["message"]
    assert "Unexpected reply" in event.payload["message"] or "not valid JSON" in event.payload["message"]
