"""Model and file statuses: case-insensitive parsing, unknown text kept as None, terminal states."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.api.statuses import (
    MODEL_STATUSES_AFTER_FIT,
    FileStatus,
    ModelStatus,
    has_model_failed,
    has_training_started,
    is_model_ready,
)

DOCUMENTED_MODEL_STATUSES = [
    "Created",
    "DatasetsLoaded",
    "ReadyToFit",
    "TrainRequested",
    "InQueue",
    "Training",
    "Ready",
    "FitFailed",
]
DOCUMENTED_FILE_STATUSES = [
    "FileCreated",
    "FileInQueue",
    "FileLoading",
    "FileLoaded",
    "FileReady",
    "FileFailed",
]


def test_model_status_enum_is_exactly_the_documented_list() -> None:
    assert [member.value for member in ModelStatus] == DOCUMENTED_MODEL_STATUSES


def test_file_status_enum_is_exactly_the_documented_list() -> None:
    assert [member.value for member in FileStatus] == DOCUMENTED_FILE_STATUSES


@pytest.mark.parametrize("text", DOCUMENTED_MODEL_STATUSES)
@pytest.mark.parametrize("spelling", [str, str.lower, str.upper, lambda text: f"  {text}\n"])
def test_model_status_parse_ignores_case_and_surrounding_space(text: str, spelling) -> None:
    assert ModelStatus.parse(spelling(text)) is ModelStatus(text)


@pytest.mark.parametrize("text", DOCUMENTED_FILE_STATUSES)
def test_file_status_parse_ignores_case(text: str) -> None:
    assert FileStatus.parse(text.lower()) is FileStatus(text)
    assert FileStatus.parse(text.upper()) is FileStatus(text)


@pytest.mark.parametrize(
    "text", ["Trained", "", "   ", "Ready!", "Read", "fit_failed", None, 3, ["Ready"], b"Ready"]
)
def test_model_status_parse_returns_none_for_unknown_or_non_text(text: object) -> None:
    assert ModelStatus.parse(text) is None


def test_statuses_of_one_enum_are_not_members_of_the_other() -> None:
    assert FileStatus.parse("Ready") is None
    assert ModelStatus.parse("FileReady") is None
    assert FileStatus.parse("FileReady") is FileStatus.READY


def test_statuses_compare_equal_to_their_reference_spelling() -> None:
    assert ModelStatus.READY == "Ready"
    assert ModelStatus.FIT_FAILED == "FitFailed"


@pytest.mark.parametrize(
    ("status", "ready", "failed", "known"),
    [
        ("Ready", True, False, True),
        ("ready", True, False, True),
        ("FitFailed", False, True, True),
        ("FITFAILED", False, True, True),
        ("Training", False, False, True),
        ("Created", False, False, True),
        ("Exploded", False, False, False),
        ("", False, False, False),
    ],
)
def test_status_predicates(status: str, ready: bool, failed: bool, known: bool) -> None:
    assert is_model_ready(status) is ready
    assert has_model_failed(status) is failed
    assert (ModelStatus.parse(status) is not None) is known


def test_statuses_after_fit_are_the_training_and_trained_ones() -> None:
    assert {
        ModelStatus.TRAIN_REQUESTED,
        ModelStatus.IN_QUEUE,
        ModelStatus.TRAINING,
        ModelStatus.READY,
    } == MODEL_STATUSES_AFTER_FIT
    for before_fit in (ModelStatus.CREATED, ModelStatus.DATASETS_LOADED, ModelStatus.READY_TO_FIT):
        assert before_fit not in MODEL_STATUSES_AFTER_FIT
    # A failed fit may be fitted again.
    assert ModelStatus.FIT_FAILED not in MODEL_STATUSES_AFTER_FIT


@pytest.mark.parametrize(
    ("status", "started"),
    [("TrainRequested", True), ("inqueue", True), ("Training", True), ("READY", True), ("Created", False),
     ("DatasetsLoaded", False), ("ReadyToFit", False), ("FitFailed", False), ("Compiling", False)],
)  # fmt: skip
def test_training_started_is_judged_case_insensitively(status, started) -> None:
    assert has_training_started(status) is started


def test_file_statuses() -> None:
    assert FileStatus.READY.matches("fileready") and not FileStatus.READY.matches("FileLoading")
    assert FileStatus.FAILED.matches("FileFailed") and not FileStatus.FAILED.matches("FileReady")
    assert FileStatus.parse("FileInQueue") is FileStatus.IN_QUEUE and FileStatus.parse("FileScanning") is None
