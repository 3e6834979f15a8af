"""
The emulator's auto-training gives way to a real training: a bind takes the model over. And the
provider binds only processed files, though the service (and the emulator) accept a bind earlier.
"""

from __future__ import annotations

import pytest
from support.datasets import columns, rows

from airflow_provider_ttm.api.datasets import Dataset, build_dataset
from airflow_provider_ttm.emulator import ManualClock
from airflow_provider_ttm.exceptions import TuneTheModelBadRequestError, TuneTheModelError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator

AUTO_TRAIN = 100.0
DATASET = build_dataset("d", columns(), model_type="classifier", num_classes=3)


@pytest.fixture
def clock(ttm_emulator) -> ManualClock:
    manual = ManualClock()
    ttm_emulator.control.configure(clock=manual, auto_train_seconds=AUTO_TRAIN, file_processing_seconds=1.0)
    return manual


def _ready_files(hook: TuneTheModelHook, clock: ManualClock) -> list[str]:
    ids = []
    for name in ("t", "v"):
        record = hook.create_file(name, "classifier")
        hook.upload_dataset(record, DATASET)
        ids.append(record.file_id)
    clock.advance(1.0)
    return ids


@pytest.mark.parametrize("elapsed", [0.0, 25.0, 45.0, 90.0])
def test_a_bind_takes_over_an_auto_training_model_until_it_is_ready(ttm_emulator, clock, elapsed) -> None:
    hook = TuneTheModelHook()
    model_name = hook.create_model("classifier", num_classes=3).model_name
    files = _ready_files(hook, clock)
    clock.advance(elapsed)

    assert hook.bind_datasets(model_name, *files).status == "DatasetsLoaded"
    assert hook.fit_model(model_name).status == "TrainRequested"
    clock.advance(AUTO_TRAIN)  # the auto-training would have ended by now; the real one decides
    assert hook.get_model(model_name).status == "Ready"


def test_a_model_auto_trained_to_ready_is_not_bound_again(ttm_emulator, clock) -> None:
    hook = TuneTheModelHook()
    model_name = hook.create_model("classifier", num_classes=3).model_name
    files = _ready_files(hook, clock)
    clock.advance(AUTO_TRAIN)

    with pytest.raises(TuneTheModelBadRequestError, match="Model is Ready"):
        hook.bind_datasets(model_name, *files)


def test_a_real_training_is_not_taken_over_by_a_second_bind(ttm_emulator, clock) -> None:
    hook = TuneTheModelHook()
    model_name = hook.create_model("classifier", num_classes=3).model_name
    files = _ready_files(hook, clock)
    hook.bind_datasets(model_name, *files)
    hook.fit_model(model_name)
    clock.advance(10.0)

    with pytest.raises(TuneTheModelBadRequestError, match="can only be bound before training"):
        hook.bind_datasets(model_name, *files)


def test_the_hook_may_bind_right_after_the_upload_as_the_sdk_does(ttm_emulator, clock) -> None:
    ttm_emulator.control.configure(train_seconds=5.0)
    hook = TuneTheModelHook()
    model_name = hook.create_model("classifier", num_classes=3).model_name
    files = []
    for name in ("t", "v"):
        record = hook.create_file(name, "classifier")
        hook.upload_dataset(record, DATASET)
        files.append(record.file_id)
    assert hook.get_file(files[0]).status == "FileLoading"

    assert hook.bind_datasets(model_name, *files).status == "DatasetsLoaded"
    assert hook.fit_model(model_name).status == "TrainRequested"
    clock.advance(1.0 + 4.9)  # processing, then (almost) the whole training
    assert hook.get_model(model_name).status == "Training"
    clock.advance(0.1)
    assert hook.get_model(model_name).status == "Ready"


@pytest.mark.parametrize(("broken", "rows_of_broken"), [("train", 40), ("validate", 32)])
def test_the_train_operator_binds_only_processed_files_and_names_one_that_failed(
    ttm_emulator, context, monkeypatch, broken, rows_of_broken
) -> None:
    ttm_emulator.control.configure(file_processing_seconds=0.05, train_seconds=0.3)
    model_name = TuneTheModelHook().create_model("classifier", num_classes=3).model_name
    good_json = Dataset.to_json

    def to_json(dataset: Dataset) -> bytes:
        """A dataset the service cannot process (too few rows for it), though it uploads fine."""
        return b'{"inputs": ["x"], "classes": [0]}' if len(dataset) == rows_of_broken else good_json(dataset)

    monkeypatch.setattr(Dataset, "to_json", to_json)
    operator = TuneTheModelTrainModelOperator(
        task_id="train",
        model_name=model_name,
        train_data=rows(40),
        validation_data=columns(32),
        poll_interval=0.05,
    )

    with pytest.raises(
        TuneTheModelError, match=rf"dataset of file \w+ \([^)]*\.{broken}\): it is FileFailed"
    ):
        operator.execute(context)

    control = ttm_emulator.control
    assert control.count("PUT /_upload/{id}") == 2
    assert control.count("POST /v0/models/{id}/bind") == 0  # nothing bound, nothing fit (or billed)
    assert control.count("POST /v0/models/{id}/fit") == 0
    assert [model["status"] for model in control.models()] == ["Created"]
    assert control.files() == []  # the failed try deletes its files
