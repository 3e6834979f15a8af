"""The emulator's auto-training gives way to a real training: a bind takes the model over."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.api.datasets import build_dataset
from airflow_provider_ttm.emulator import ManualClock
from airflow_provider_ttm.exceptions import TuneTheModelBadRequestError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

from .conftest import columns

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
