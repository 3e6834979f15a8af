"""A1 and A5, other variants: binary scores at the threshold's edges, mixed score counts, and
timestamps at the edges of what a datetime holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.hostile_server import HostileServer, Reply, call_within, outcome_of

from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError, TuneTheModelMalformedResponseError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import TuneTheModelClassifyOperator

BOUND = 20
MODEL = "a" * 32


def _classify(hostile_server: HostileServer, hostile_conn, answers: dict[str, str], **kwargs: Any) -> Any:
    """Run the classify operator on ``answers``' inputs, the server answering each its scores."""

    def reply(request: Any) -> Reply:
        text = json.loads(request.body)["input"]
        return Reply.json('{"answer": {"scores": [' + answers[text] + "]}}")

    hostile_server.respond(reply)
    operator = TuneTheModelClassifyOperator(
        task_id="c",
        model_name=MODEL,
        inputs=list(answers),
        ttm_conn_id=hostile_conn(max_attempts=1),
        item_retries=0,
        **kwargs,
    )
    return outcome_of(operator.execute, {})


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.5, [0, 1, 1, 0]),
        (0, [1, 1, 1, 1]),  # every score is at or above 0
        (1, [0, 0, 1, 0]),  # only a certain 1.0
        ("0.25", [1, 1, 1, 0]),  # a rendered template
        (0.5000000001, [0, 0, 1, 0]),
    ],
)
def test_a_binary_score_at_the_threshold_is_class_1(
    hostile_server: HostileServer, hostile_conn, threshold: Any, expected: list[int]
) -> None:
    answers = {"low": "0.4999999999", "edge": "0.5", "one": "1", "zero": "0"}
    if threshold == "0.25":
        answers["low"] = "0.25"
    results = _classify(hostile_server, hostile_conn, answers, threshold=threshold)
    assert [result["class"] for result in results] == expected
    assert all(len(result["scores"]) == 1 for result in results)


def test_many_classes_take_the_first_highest_score_whatever_the_threshold(
    hostile_server: HostileServer, hostile_conn
) -> None:
    answers = {"a": "0.2, 0.4, 0.4", "b": "0.9, 0.05, 0.05", "c": "0, 0, 0"}  # a tie: the first
    results = _classify(hostile_server, hostile_conn, answers, threshold=0.01)
    assert [result["class"] for result in results] == [1, 0, 0]


@pytest.mark.parametrize(
    "answers",
    [
        {"a": "0.3", "b": "0.2, 0.3, 0.5"},  # binary and 3-class answers from one model
        {"a": "0.2, 0.3, 0.5", "b": "0.1, 0.2, 0.3, 0.4"},
    ],
    ids=["one-and-three", "three-and-four"],
)
def test_answers_disagreeing_on_the_number_of_scores_are_malformed(
    hostile_server: HostileServer, hostile_conn, answers: dict[str, str]
) -> None:
    outcome = _classify(hostile_server, hostile_conn, answers)
    assert isinstance(outcome, TuneTheModelMalformedResponseError), repr(outcome)
    assert not outcome.retryable


@pytest.mark.parametrize("scores", ["0.5, 0.5", "", "true", '"0.5"', "null"])
def test_a_reply_no_classifier_gives_is_malformed(
    hostile_server: HostileServer, hostile_conn, scores: str
) -> None:
    outcome = _classify(hostile_server, hostile_conn, {"a": scores})
    cause = outcome.__cause__ if isinstance(outcome, TuneTheModelBatchItemError) else outcome
    assert isinstance(cause, TuneTheModelMalformedResponseError), repr(outcome)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2022-06-10 17:52:35.8", "2022-06-10T17:52:35.800000+00:00"),
        ("2022-06-10 17:52:35.81619", "2022-06-10T17:52:35.816190+00:00"),
        ("2022-06-10 17:52:35.816190", "2022-06-10T17:52:35.816190+00:00"),
        ("2022-06-10 17:52:35", "2022-06-10T17:52:35+00:00"),
        ("2022-06-10T17:52:35.81Z", "2022-06-10T17:52:35.810000+00:00"),
        ("2022-06-10 19:52:35.5+02:00", "2022-06-10T17:52:35.500000+00:00"),
        ("9999-12-31 23:59:59.999999-01:00", None),  # after year 9999 in UTC
        ("0001-01-01 00:00:00+01:00", None),  # before year 1 in UTC
        ("2022-06-10 17:52:35.", None),
        ("not a time", None),
    ],
)
def test_a_timestamp_is_read_or_left_out_never_fatal(
    hostile_server: HostileServer, hostile_conn, stamp: str, expected: str | None
) -> None:
    model = {"model_name": MODEL, "status": "Ready", "last_updated_time": stamp}
    hostile_server.respond(
        lambda request: Reply.json({"models": [model]} if request.path == "/v0/models" else model)
    )
    hook = TuneTheModelHook(hostile_conn(max_attempts=1))
    for call in (hook.list_models, lambda: [hook.get_model(MODEL)]):
        outcome = call_within(BOUND, call)
        assert not isinstance(outcome, BaseException), repr(outcome)
        assert outcome[0].to_dict()["last_updated_time"] == expected
