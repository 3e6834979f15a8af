"""Inference: classify, generate and public-model requests, generation options, and replies."""

from __future__ import annotations

import pytest
from support.fakes import MODEL_ID

from airflow_provider_ttm.api import inference
from airflow_provider_ttm.api.inference import GenerationOptions
from airflow_provider_ttm.exceptions import (
    TuneTheModelMalformedResponseError,
)


def test_classify_and_public_models_requests() -> None:
    request = inference.classify(MODEL_ID, "hello")

    assert (request.method, request.path, request.json, request.idempotent) == (
        "POST",
        f"/v0/models/{MODEL_ID}/classify",
        {"input": "hello"},
        True,
    )
    assert inference.list_public_models().path == "/v0/public-models"
    with pytest.raises(ValueError, match="input must be text; got int"):
        inference.classify(MODEL_ID, 3)  # type: ignore[arg-type]


def test_every_generation_option_goes_into_the_body() -> None:
    options = GenerationOptions.from_arguments(
        num_hypos="2", min_tokens=3, max_tokens=40, temperature="0.7", top_k=50, top_p=0.9, seed="-7",
        prefix_tokens_only="true", span_delimiters="\n",
    )  # fmt: skip

    request = inference.generate(MODEL_ID, "Once upon", options)

    assert request.json == {
        "input": "Once upon",
        "num_hypos": 2,
        "min_tokens": 3,
        "max_tokens": 40,
        "temperature": 0.7,
        "top_k": 50,
        "top_p": 0.9,
        "seed": -7,
        "prefix_tokens_only": True,
        "span_delimiters": ["\n"],
    }
    assert request.idempotent
    assert inference.generate(MODEL_ID, "x").json == {"input": "x"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_hypos": 0}, "num_hypos must be a whole number of at least 1"),
        ({"min_tokens": 0}, "min_tokens must be a whole number of at least 1"),
        ({"max_tokens": "many"}, "max_tokens must be a whole number"),
        ({"min_tokens": 10, "max_tokens": 5}, r"min_tokens \(10\) must not exceed max_tokens \(5\)"),
        ({"temperature": -0.1}, "temperature must be a number of at least 0"),
        ({"temperature": float("nan")}, "temperature must be a number"),
        ({"temperature": True}, "temperature must be a number"),
        ({"top_k": -1}, "top_k must be a whole number of at least 0"),
        ({"top_p": 1.5}, "top_p must be a number from 0 to 1"),
        ({"top_p": "high"}, "top_p must be a number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"prefix_tokens_only": "yes"}, "prefix_tokens_only must be true or false"),
        ({"span_delimiters": ["\n", ""]}, "span_delimiters must be a string or a list of non-empty strings"),
        ({"span_delimiters": 3}, "span_delimiters must be"),
        ({"beam_size": 3}, "Unknown generation option 'beam_size'"),
    ],
)
def test_bad_generation_options_are_refused(arguments, message) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationOptions.from_arguments(**arguments)


def test_replies_are_parsed() -> None:
    assert inference.parse_scores({"answer": {"scores": [0.1, 0.7, 0.2]}}) == [0.1, 0.7, 0.2]
    assert inference.parse_responses({"answer": {"responses": [{"response": "a"}, {"response": "b"}]}}) == [
        "a",
        "b",
    ]
    assert inference.predicted_class([0.1, 0.7, 0.2]) == 1
    assert inference.predicted_class([0.5, 0.5]) == 0


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (inference.parse_scores, {"answer": {"scores": []}}),
        (inference.parse_scores, {"answer": {"scores": [0.1, "x"]}}),
        (inference.parse_scores, {"answer": {"scores": [True]}}),
        (inference.parse_scores, {"scores": [0.1]}),
        (inference.parse_scores, ["answer"]),
        (inference.parse_responses, {"answer": {"responses": "text"}}),
        (inference.parse_responses, {"answer": {"responses": [{"text": "a"}]}}),
        (inference.parse_responses, {"answer": {"responses": ["a"]}}),
    ],
)
def test_malformed_replies_are_refused(parse, payload) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError):
        parse(payload)
