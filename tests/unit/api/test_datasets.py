"""The pure dataset module: accepted shapes, validation with errors that name the parameter and row."""

from __future__ import annotations

import json

import pytest
from support.datasets import columns, rows

from airflow_provider_ttm.api.datasets import (
    Dataset,
    build_dataset,
    data_format_of,
    inputs_from,
    parse_records,
)


def _classifier(value, **kwargs) -> Dataset:
    kwargs.setdefault("num_classes", 3)
    return build_dataset("train_data", value, model_type="classifier", **kwargs)


def test_the_service_form_is_accepted_and_uploaded_as_is() -> None:
    dataset = _classifier(columns())

    assert len(dataset) == 32
    assert dataset.payload() == columns()
    assert json.loads(dataset.to_json()) == columns()


def test_rows_pairs_and_named_columns_give_the_same_dataset() -> None:
    expected = _classifier(columns())

    assert _classifier(rows()) == expected
    assert _classifier([(r["input"], r["class"]) for r in rows()]) == expected
    renamed = [{"text": r["input"], "label": r["class"]} for r in rows()]
    assert _classifier(renamed, input_column="text", target_column="label") == expected
    named_columns = {"text": columns()["inputs"], "label": columns()["classes"]}
    assert _classifier(named_columns, input_column="text", target_column="label") == expected


def test_class_indices_from_csv_text_are_read_as_numbers() -> None:
    data = [{"input": r["input"], "class": f" {r['class']} "} for r in rows()]

    assert _classifier(data).targets == tuple(r["class"] for r in rows())


def test_a_generator_dataset_has_outputs() -> None:
    data = [{"input": f"q{i}", "output": f"a{i}"} for i in range(40)]

    dataset = build_dataset("validation_data", data, model_type="generator")

    assert dataset.payload() == {
        "inputs": [f"q{i}" for i in range(40)],
        "outputs": [f"a{i}" for i in range(40)],
    }


def test_without_num_classes_any_non_negative_class_is_accepted() -> None:
    data = [(f"t{i}", i) for i in range(32)]

    assert max(build_dataset("d", data, model_type="classifier").targets) == 31


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (rows(31), r"^train_data has 31 rows; the service needs at least 32\.$"),
        ([], "train_data has 0 rows"),
        ({"inputs": ["x"] * 32, "classes": [0] * 31}, "inputs have 32 rows but the targets have 31"),
        (
            [*rows()[:-1], {"input": "last", "class": 3}],
            r"row 31: class 3 is out of range .* 3 classes \(0 to 2\)",
        ),
        (
            [*rows()[:-1], {"input": "last", "class": -1}],
            "row 31: the class must be a whole number >= 0; got -1",
        ),
        ([*rows()[:-1], {"input": "last", "class": 1.0}], "row 31: the class must be a whole number"),
        ([*rows()[:-1], {"input": "last", "class": True}], "row 31: the class must be a whole number"),
        ([*rows()[:-1], {"input": "last", "class": "two"}], "row 31: the class must be a whole number"),
        ([*rows()[:5], {"input": 7, "class": 1}, *rows()[6:]], "row 5: the input must be text; got 7"),
        (
            [*rows()[:2], {"text": "x", "class": 1}, *rows()[3:]],
            r"row 2 has no column 'input' \(its columns: 'text', 'class'\)",
        ),
        ([*rows()[:2], {"input": "x"}, *rows()[3:]], "row 2 has no column 'class'"),
        (
            [*rows()[:2], ("a", 1, 2), *rows()[3:]],
            r"row 2 must be a mapping of columns or an \(input, target\) pair",
        ),
        ({"inputs": ["x"] * 32}, r"has no column 'classes' or 'class' \(its columns: 'inputs'\)"),
        ({"inputs": "x" * 32, "classes": [0] * 32}, "column 'inputs' must be a list"),
        ({"inputs": ["x"] * 32, "outputs": ["y"] * 32}, "'outputs', the column of another model type"),
        ("not a dataset", "train_data must be a dataset"),
        (42, "train_data must be a dataset"),
    ],
)
def test_bad_datasets_are_refused_naming_the_parameter(value, message) -> None:
    with pytest.raises(ValueError, match=message):
        _classifier(value)


def test_a_generator_output_must_be_text() -> None:
    data = [{"input": f"q{i}", "output": i} for i in range(32)]

    with pytest.raises(ValueError, match="validation_data: row 0: the output must be text; got 0"):
        build_dataset("validation_data", data, model_type="generator")


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    data = [*rows()[:-1], {"input": "x" * 500, "class": "y" * 500}]

    with pytest.raises(ValueError) as error:
        _classifier(data)
    assert len(str(error.value)) < 200


@pytest.mark.parametrize(
    ("name", "explicit", "expected"),
    [
        ("train.csv", None, "csv"),
        ("s3://bucket/dir/train.JSONL", None, "jsonl"),
        ("/data/train.ndjson", None, "jsonl"),
        ("train.json", None, "json"),
        ("train.txt", "csv", "csv"),
    ],
)
def test_the_data_format_comes_from_the_suffix_unless_given(name, explicit, expected) -> None:
    assert data_format_of(name, explicit, param="train_data") == expected


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match=r"train_data: cannot tell the format of 'data\.txt'"):
        data_format_of("data.txt", None, param="train_data")
    with pytest.raises(ValueError, match="data_format must be one of csv, jsonl, json; got 'xml'"):
        data_format_of("data.csv", "xml", param="train_data")


def test_csv_jsonl_and_json_texts_parse_to_rows() -> None:
    csv_text = 'input,class\n"hello, world",1\nbye,0\n'
    jsonl_text = '{"input": "hello", "class": 1}\n\n{"input": "bye", "class": 0}\n'

    assert parse_records(csv_text, "csv", param="p", source="f") == [
        {"input": "hello, world", "class": "1"},
        {"input": "bye", "class": "0"},
    ]
    assert parse_records(jsonl_text, "jsonl", param="p", source="f") == [
        {"input": "hello", "class": 1},
        {"input": "bye", "class": 0},
    ]
    assert parse_records(json.dumps(columns()), "json", param="p", source="f") == columns()


@pytest.mark.parametrize(
    ("text", "data_format", "message"),
    [
        ('{"input": "a"}\n{"input": \n', "jsonl", r"p: 'f\.jsonl', line 2, is not valid JSON"),
        ("{", "json", r"p: 'f\.jsonl', its content, is not valid JSON"),
        ('input,class\n"unterminated,1\n', "csv", r"p: 'f\.jsonl' is not valid CSV"),
    ],
)
def test_unparseable_files_are_refused_naming_the_line(text, data_format, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_records(text, data_format, param="p", source="'f.jsonl'")


def test_inference_inputs_come_from_texts_rows_or_a_dataset() -> None:
    texts = ["a", "b"]

    assert inputs_from("inputs", texts) == texts
    assert inputs_from("inputs", [{"input": "a"}, {"input": "b"}]) == texts
    assert inputs_from("inputs", [{"body": "a"}, {"body": "b"}], input_column="body") == texts
    assert inputs_from("inputs", {"inputs": texts, "classes": [0, 1]}) == texts
    assert inputs_from("inputs", []) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("just text", "inputs must be a list of texts"),
        (["a", 3], "inputs: row 1: the input must be text; got 3"),
        ([{"text": "a"}], "inputs: row 0 has no column 'input'"),
        ({"classes": [1]}, "inputs has no column 'inputs' or 'input'"),
    ],
)
def test_bad_inference_inputs_are_refused(value, message) -> None:
    with pytest.raises(ValueError, match=message):
        inputs_from("inputs", value)
