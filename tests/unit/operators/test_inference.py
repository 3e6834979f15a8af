"""TuneTheModelClassifyOperator, TuneTheModelGenerateOperator and public models, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from support.datasets import columns
from support.faults import RETRYABLE_FAULTS

from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.ttm import TuneTheModelListModelsOperator

PUBLIC_CLASSIFIER = "9323f9dbc976ea5dc6c8272eb90742f9"  # cyberbullying_tweets, 2 classes
PUBLIC_GENERATOR = "f9cab2f96d9e65a125264702489cad7a"  # winemag
AMAZON_POLARITY = "13419a9f17bf52cc48f009a512a99735"  # 2 classes
FINANCIAL_SENTIMENT = "1ec02ac96b3e3cd7762bf1e6e2955eb3"  # 3 classes
PUBLIC_MODELS = [PUBLIC_CLASSIFIER, PUBLIC_GENERATOR, AMAZON_POLARITY, FINANCIAL_SENTIMENT]
TEXTS = [f"support message number {i}" for i in range(20)]


def _ready(ttm_emulator, model_type: str = "classifier", num_classes: int | None = 4) -> str:
    model_name = TuneTheModelHook().create_model(model_type, num_classes=num_classes).model_name
    ttm_emulator.control.force_status(model_name, "Ready")
    return model_name


def test_classify_returns_scores_and_class_in_input_order(ttm_emulator, context) -> None:
    model_name = _ready(ttm_emulator)
    expected = [TuneTheModelHook().classify(model_name, text) for text in TEXTS]

    results = TuneTheModelClassifyOperator(
        task_id="score", model_name=model_name, inputs=TEXTS, max_concurrency=5
    ).execute(context)

    assert [r["input"] for r in results] == TEXTS
    assert [r["scores"] for r in results] == expected
    assert all(
        len(r["scores"]) == 4 and r["class"] == max(range(4), key=r["scores"].__getitem__) for r in results
    )
    assert ttm_emulator.control.count("POST /v0/models/{id}/classify") == 2 * len(TEXTS)


def test_inputs_from_a_dataset_and_from_a_file(ttm_emulator, context, tmp_path: Path) -> None:
    source = tmp_path / "inputs.jsonl"
    source.write_text("".join(json.dumps({"body": text}) + "\n" for text in TEXTS), encoding="utf-8")

    from_dataset = TuneTheModelClassifyOperator(
        task_id="s", model_name=PUBLIC_CLASSIFIER, inputs=columns(32)
    ).execute(context)
    from_file = TuneTheModelClassifyOperator(
        task_id="s", model_name=PUBLIC_CLASSIFIER, inputs=f"file://{source}", input_column="body"
    ).execute(context)

    assert [r["input"] for r in from_dataset] == columns(32)["inputs"]
    assert [r["input"] for r in from_file] == TEXTS


def test_a_large_batch_goes_to_a_file_instead_of_xcom(ttm_emulator, context, tmp_path: Path) -> None:
    target = ObjectStoragePath(f"file://{tmp_path}/scores/results.jsonl")

    written = TuneTheModelClassifyOperator(
        task_id="s", model_name=PUBLIC_CLASSIFIER, inputs=TEXTS, output_path=target
    ).execute(context)

    assert written == str(target)
    lines = (tmp_path / "scores" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["input"] for line in lines] == TEXTS


def test_a_failed_item_is_retried_through_the_emulator(ttm_emulator, context, attempts_conn) -> None:
    ttm_emulator.control.add_fault(kind="error", route="POST /v0/models/{id}/classify", status=502, times=2)

    results = TuneTheModelClassifyOperator(
        task_id="s",
        model_name=PUBLIC_CLASSIFIER,
        inputs=TEXTS[:5],
        ttm_conn_id=attempts_conn(3),
        item_retries=2,
    ).execute(context)

    assert len(results) == 5
    assert ttm_emulator.control.count("POST /v0/models/{id}/classify") == 7


OPERATORS = [
    pytest.param(TuneTheModelClassifyOperator, PUBLIC_CLASSIFIER, "classify", id="classify"),
    pytest.param(TuneTheModelGenerateOperator, PUBLIC_GENERATOR, "generate", id="generate"),
]


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
@pytest.mark.parametrize(("operator", "model_name", "call"), OPERATORS)
def test_one_failing_input_is_sent_max_attempts_times_in_all(
    ttm_emulator, context, attempts_conn, operator, model_name, call, fault
) -> None:
    route = f"POST /v0/models/{{id}}/{call}"
    ttm_emulator.control.add_fault(route=route, **fault)
    task = operator(task_id="s", model_name=model_name, inputs=["one input"], ttm_conn_id=attempts_conn(3))

    with pytest.raises(TuneTheModelBatchItemError, match="failed after 3 attempts"):
        task.execute(context)
    assert ttm_emulator.control.count(route) == 3


@pytest.mark.parametrize(("item_retries", "sent"), [(0, 1), (1, 2), (9, 3)])
@pytest.mark.parametrize(("operator", "model_name", "call"), OPERATORS)
def test_item_retries_cap_an_input_within_max_attempts(
    ttm_emulator, context, attempts_conn, operator, model_name, call, item_retries, sent
) -> None:
    route = f"POST /v0/models/{{id}}/{call}"
    ttm_emulator.control.add_fault(route=route, kind="error", status=503)
    task = operator(
        task_id="s",
        model_name=model_name,
        inputs=["a", "b", "c"],
        max_concurrency=1,
        item_retries=item_retries,
        ttm_conn_id=attempts_conn(3),
    )

    with pytest.raises(TuneTheModelBatchItemError, match=r"Input 0 \('a'\) failed"):
        task.execute(context)
    assert ttm_emulator.control.count(route) == sent  # the first input's, and the batch stopped


def test_a_final_failure_names_the_item(ttm_emulator, context) -> None:
    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name  # not Ready

    with pytest.raises(TuneTheModelBatchItemError, match=r"Input 0 \('only one'\) failed: .* not Ready"):
        TuneTheModelClassifyOperator(task_id="s", model_name=model_name, inputs=["only one"]).execute(context)


def test_generate_passes_every_option_and_returns_responses_in_order(ttm_emulator, context) -> None:
    model_name = _ready(ttm_emulator, "generator", None)
    operator = TuneTheModelGenerateOperator(
        task_id="gen", model_name=model_name, inputs=TEXTS[:6], num_hypos=2, min_tokens=2, max_tokens=5,
        temperature=0.8, top_k=10, top_p=0.9, seed=7, prefix_tokens_only=False, span_delimiters=["."],
        max_concurrency=3,
    )  # fmt: skip

    first = operator.execute(context)
    again = operator.execute(context)

    assert first == again  # a seed makes generation repeatable
    assert [r["input"] for r in first] == TEXTS[:6]
    assert all(len(r["responses"]) == 2 for r in first)
    assert all(2 <= len(text.split()) <= 5 for r in first for text in r["responses"])


def test_templated_generation_options_are_checked_once_rendered(ttm_emulator, context) -> None:
    operator = TuneTheModelGenerateOperator(
        task_id="gen", model_name=PUBLIC_GENERATOR, inputs=["x"], top_p="{{ params.p }}"
    )
    operator.top_p = "2"  # what rendering produced

    with pytest.raises(ValueError, match="top_p must be a number from 0 to 1"):
        operator.execute(context)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("operator", "kwargs", "message"),
    [
        (TuneTheModelClassifyOperator, {"model_name": "a/b"}, "model_name must be a model id"),
        (
            TuneTheModelClassifyOperator,
            {"max_concurrency": 0},
            "max_concurrency must be a whole number of at least 1",
        ),
        (TuneTheModelClassifyOperator, {"max_concurrency": 65}, "max_concurrency must be at most 64"),
        (
            TuneTheModelClassifyOperator,
            {"item_retries": -1},
            "item_retries must be a whole number of at least 0",
        ),
        (TuneTheModelClassifyOperator, {"data_format": "parquet"}, "data_format must be one of"),
        (TuneTheModelGenerateOperator, {"num_hypos": 0}, "num_hypos must be a whole number of at least 1"),
        (
            TuneTheModelGenerateOperator,
            {"min_tokens": 9, "max_tokens": 3},
            "min_tokens .* must not exceed max_tokens",
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    ttm_emulator, refusal, operator, kwargs, message
) -> None:
    named = next(iter(kwargs))
    refusal(operator, {"model_name": PUBLIC_CLASSIFIER, "inputs": ["x"], **kwargs}, named, message)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("/nowhere/inputs.csv", r"inputs: cannot read '/nowhere/inputs\.csv'"),
        (["fine", 3], "inputs: row 1: the input must be text"),
        ({"texts": ["a"]}, "inputs has no column 'inputs' or 'input'"),
    ],
)
def test_bad_inputs_are_refused_before_any_request(ttm_emulator, context, inputs, message) -> None:
    with pytest.raises(ValueError, match=message):
        TuneTheModelClassifyOperator(task_id="t", model_name=PUBLIC_CLASSIFIER, inputs=inputs).execute(
            context
        )
    assert ttm_emulator.control.counters() == {}


def test_the_list_operator_lists_public_models(ttm_emulator, context) -> None:
    TuneTheModelHook().create_model("classifier", name="mine")

    public = TuneTheModelListModelsOperator(task_id="l", public=True).execute(context)
    generators = TuneTheModelListModelsOperator(task_id="l", public=True, model_type="generator").execute(
        context
    )
    own = TuneTheModelListModelsOperator(task_id="l").execute(context)

    assert sorted(m["model_name"] for m in public) == sorted(PUBLIC_MODELS)
    assert [m["model_name"] for m in generators] == [PUBLIC_GENERATOR]
    assert [m["user_name"] for m in own] == ["mine"]
    assert ttm_emulator.control.count("GET /v0/public-models") == 2


@pytest.mark.parametrize("source", ["trained", "cyberbullying_tweets", "amazon_polarity"])
@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.3, 0.8, 1.0])
def test_a_binary_classifier_answers_one_score_and_the_threshold_sets_the_class(
    ttm_emulator, context, source, threshold
) -> None:
    model_name = {"cyberbullying_tweets": PUBLIC_CLASSIFIER, "amazon_polarity": AMAZON_POLARITY}.get(
        source
    ) or _ready(ttm_emulator, num_classes=2)

    results = TuneTheModelClassifyOperator(
        task_id="s", model_name=model_name, inputs=TEXTS, threshold=threshold
    ).execute(context)

    assert all(len(r["scores"]) == 1 for r in results)
    assert [r["class"] for r in results] == [int(r["scores"][0] >= threshold) for r in results]
    if threshold in (0.0, 1.0):
        assert {r["class"] for r in results} == {1 if threshold == 0.0 else 0}
    else:  # the emulator's scores spread over (0, 1), so both classes show up at 0.5
        assert threshold != 0.5 or {r["class"] for r in results} == {0, 1}


def test_the_default_threshold_is_one_half(ttm_emulator, context) -> None:
    results = TuneTheModelClassifyOperator(task_id="s", model_name=PUBLIC_CLASSIFIER, inputs=TEXTS).execute(
        context
    )

    assert [r["class"] for r in results] == [int(r["scores"][0] >= 0.5) for r in results]


@pytest.mark.parametrize("threshold", [0.5, 0.99])
def test_a_classifier_of_three_classes_takes_the_highest_score(ttm_emulator, context, threshold) -> None:
    results = TuneTheModelClassifyOperator(
        task_id="s", model_name=FINANCIAL_SENTIMENT, inputs=TEXTS, threshold=threshold
    ).execute(context)

    assert all(len(r["scores"]) == 3 for r in results)
    assert [r["class"] for r in results] == [max(range(3), key=r["scores"].__getitem__) for r in results]


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "abc", True, float("nan"), float("inf"), None, [0.5]])
def test_a_bad_threshold_is_refused_before_any_request(ttm_emulator, refusal, threshold) -> None:
    kwargs = {"model_name": PUBLIC_CLASSIFIER, "inputs": ["x"], "threshold": threshold}
    refusal(TuneTheModelClassifyOperator, kwargs, "threshold", "threshold must be a number")
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("rendered", "valid"), [("0.7", True), (" 1 ", True), ("1.01", False), ("high", False)]
)
def test_a_templated_threshold_is_checked_once_rendered_before_any_request(
    ttm_emulator, context, rendered, valid
) -> None:
    operator = TuneTheModelClassifyOperator(
        task_id="t", model_name=PUBLIC_CLASSIFIER, inputs=TEXTS[:4], threshold="{{ params.threshold }}"
    )
    assert "threshold" in operator.template_fields
    operator.threshold = rendered  # what rendering produced

    if not valid:
        with pytest.raises(ValueError, match="threshold must be a number from 0 to 1"):
            operator.execute(context)
        assert ttm_emulator.control.counters() == {}
        return
    results = operator.execute(context)
    assert [r["class"] for r in results] == [int(r["scores"][0] >= float(rendered)) for r in results]


@pytest.mark.parametrize("model_name", ["default-generator", PUBLIC_GENERATOR])
def test_generation_needs_no_training_of_ones_own(ttm_emulator, context, model_name) -> None:
    results = TuneTheModelGenerateOperator(
        task_id="g",
        model_name=model_name,
        inputs=["Q: capital of France?\nA: Paris\nQ: of Spain?\nA:"],
        seed=1,
    ).execute(context)

    assert len(results) == 1 and all(isinstance(text, str) for text in results[0]["responses"])
    assert ttm_emulator.control.count("POST /v0/models/{id}/generate") == 1
    assert ttm_emulator.control.models() == []


@pytest.mark.parametrize(
    "text",
    [
        "2022-06-10 17:52:35.8",
        "2022-06-10 17:52:35.81",
        "2022-06-10 17:52:35.816",
        "2022-06-10 17:52:35.8161",
        "2022-06-10 17:52:35.81619",
        "2022-06-10 17:52:35.816190",
    ],
)
def test_a_record_with_1_to_6_fraction_digits_parses(text) -> None:
    from airflow_provider_ttm.api.records import parse_model

    model = parse_model({"model_name": PUBLIC_CLASSIFIER, "status": "Ready", "last_updated_time": text})

    assert model.last_updated_time is not None
    fraction = text.split(".")[1]
    assert model.last_updated_time.microsecond == int(fraction.ljust(6, "0"))
    assert (model.last_updated_time.second, model.last_updated_time.utcoffset().total_seconds()) == (35, 0)


def test_the_emulator_timestamps_parse_whatever_their_fraction_digits(ttm_emulator) -> None:
    public = {m.model_name: m for m in TuneTheModelHook().list_public_models()}

    assert public[AMAZON_POLARITY].last_updated_time.microsecond == 500_000  # "….5"
    assert public[FINANCIAL_SENTIMENT].last_updated_time.microsecond == 816_190  # "….81619"
    assert public[PUBLIC_CLASSIFIER].last_updated_time.microsecond == 878_585
