"""TuneTheModelClassifyOperator, TuneTheModelGenerateOperator and public models, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.ttm import TuneTheModelListModelsOperator

from .conftest import columns

PUBLIC_CLASSIFIER = "9323f9dbc976ea5dc6c8272eb90742f9"
PUBLIC_GENERATOR = "f9cab2f96d9e65a125264702489cad7a"
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


def test_a_failed_item_is_retried_through_the_emulator(ttm_emulator, context, one_attempt_conn) -> None:
    ttm_emulator.control.add_fault(kind="error", route="POST /v0/models/{id}/classify", status=502, times=2)

    results = TuneTheModelClassifyOperator(
        task_id="s",
        model_name=PUBLIC_CLASSIFIER,
        inputs=TEXTS[:5],
        ttm_conn_id=one_attempt_conn,
        item_retries=2,
    ).execute(context)

    assert len(results) == 5
    assert ttm_emulator.control.count("POST /v0/models/{id}/classify") == 7


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
def test_bad_arguments_are_refused_when_the_dag_is_parsed(ttm_emulator, operator, kwargs, message) -> None:
    kwargs.setdefault("model_name", PUBLIC_CLASSIFIER)
    with pytest.raises(ValueError, match=message):
        operator(task_id="t", inputs=["x"], **kwargs)
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

    assert sorted(m["model_name"] for m in public) == sorted([PUBLIC_CLASSIFIER, PUBLIC_GENERATOR])
    assert [m["model_name"] for m in generators] == [PUBLIC_GENERATOR]
    assert [m["user_name"] for m in own] == ["mine"]
    assert ttm_emulator.control.count("GET /v0/public-models") == 2
