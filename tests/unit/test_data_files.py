"""Reading datasets and inputs from local paths and object storage; writing batch results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from support.datasets import rows

from airflow_provider_ttm import data_files


def _write_csv(path: Path, data: list[dict]) -> Path:
    lines = ["input,class"] + [f"{row['input']},{row['class']}" for row in data]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_in_memory_data_is_returned_unchanged() -> None:
    data = rows()

    assert data_files.load("train_data", data) is data


def test_a_local_csv_path_as_text_or_path(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "train.csv", rows(3))
    expected = [{"input": r["input"], "class": str(r["class"])} for r in rows(3)]

    assert data_files.load("train_data", str(path)) == expected
    assert data_files.load("train_data", path) == expected


def test_an_object_storage_path_and_a_url_are_read_through_fsspec(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows(2)), encoding="utf-8")

    assert data_files.load("train_data", ObjectStoragePath(f"file://{path}")) == rows(2)
    assert data_files.load("train_data", f"file://{path}") == rows(2)


def test_the_format_can_be_forced(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "train.txt", rows(2))

    assert len(data_files.load("train_data", path, data_format="csv")) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.csv", r"train_data: cannot read '.*missing\.csv' \(FileNotFoundError"),
        (
            lambda tmp: (tmp / "dir.csv").mkdir() or tmp / "dir.csv",
            r"train_data: cannot read '.*dir\.csv' \(IsADirectoryError",
        ),
        (
            lambda tmp: (tmp / "latin.csv").write_bytes(b"input,class\n\xe9t\xe9,1\n") and tmp / "latin.csv",
            r"train_data: cannot read '.*latin\.csv' \(UnicodeDecodeError",
        ),
        (lambda tmp: f"file://{tmp}/nowhere.jsonl", r"train_data: cannot read 'file://.*nowhere\.jsonl'"),
    ],
)
def test_an_unreadable_file_is_a_value_error_naming_the_parameter(tmp_path: Path, make, message) -> None:
    with pytest.raises(ValueError, match=message):
        data_files.load("train_data", make(tmp_path))


def test_results_are_written_as_json_lines_creating_folders(tmp_path: Path) -> None:
    target = tmp_path / "out" / "day" / "results.jsonl"
    records = [{"input": "é", "class": 1}, {"input": "b", "class": 0}]

    written = data_files.write_json_lines(str(target), records)

    assert written == str(target)
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == records


def test_results_can_go_to_object_storage(tmp_path: Path) -> None:
    target = ObjectStoragePath(f"file://{tmp_path}/results.jsonl")

    written = data_files.write_json_lines(target, [{"a": 1}])

    assert written == f"file://{tmp_path}/results.jsonl"
    assert (tmp_path / "results.jsonl").read_text() == '{"a": 1}\n'
