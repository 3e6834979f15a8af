"""Training: bind and fit requests, file names, and the model kind a training expects."""

from __future__ import annotations

import pytest
from support.fakes import MODEL_ID

from airflow_provider_ttm.api import training
from airflow_provider_ttm.api.records import parse_model


def test_bind_and_fit_requests() -> None:
    bind = training.bind_datasets(MODEL_ID, "a" * 32, "b" * 32)
    fit = training.fit_model(MODEL_ID)

    assert (bind.method, bind.path, bind.json, bind.idempotent) == (
        "POST",
        f"/v0/models/{MODEL_ID}/bind",
        {"train_file": "a" * 32, "validate_file": "b" * 32},
        True,
    )
    assert (fit.method, fit.path, fit.json, fit.idempotent) == (
        "POST",
        f"/v0/models/{MODEL_ID}/fit",
        None,
        False,
    )
    with pytest.raises(ValueError, match="validate_file must be a file id"):
        training.bind_datasets(MODEL_ID, "a" * 32, "b/c")
    with pytest.raises(ValueError, match="model_name"):
        training.fit_model("x?y")


def test_file_names_are_derived_from_the_prefix() -> None:
    assert training.file_names("dag.task.run") == ("dag.task.run.train", "dag.task.run.validate")


@pytest.mark.parametrize(
    ("model_type", "num_classes", "expected"),
    [
        (None, None, (None, None)),
        ("classifier", "4", ("classifier", 4)),
        ("generator", None, ("generator", None)),
    ],
)
def test_expected_kind(model_type, num_classes, expected) -> None:
    assert training.expected_kind(model_type, num_classes) == expected


@pytest.mark.parametrize(
    ("model_type", "num_classes", "message"),
    [("regressor", None, "model_type must be one of"), ("classifier", 1, "num_classes must be a whole number"),
     ("generator", 3, "num_classes applies to classifiers only")],
)  # fmt: skip
def test_expected_kind_refuses_bad_values(model_type, num_classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        training.expected_kind(model_type, num_classes)


def _model(**fields):
    return parse_model({"model_name": MODEL_ID, "status": "Created", **fields})


def test_model_kind_takes_the_models_type_and_classes() -> None:
    classifier = _model(model_type="classifier", model_params={"num_classes": 5})

    assert training.model_kind(classifier, None, None) == ("classifier", 5)
    assert training.model_kind(classifier, "classifier", 5) == ("classifier", 5)
    assert training.model_kind(_model(model_type="classifier"), None, 4) == ("classifier", 4)
    assert training.model_kind(_model(model_type="generator"), None, None) == ("generator", None)
    assert training.model_kind(_model(), "generator", None) == ("generator", None)


@pytest.mark.parametrize(
    ("record", "model_type", "num_classes", "message"),
    [
        (
            _model(model_type="generator"),
            "classifier",
            None,
            "model_type is 'classifier', but model .* is a generator",
        ),
        (
            _model(model_type="classifier", model_params={"num_classes": 3}),
            None,
            4,
            "num_classes is 4, but model .* has 3",
        ),
        (_model(), None, None, "set model_type"),
    ],
)
def test_model_kind_refuses_a_mismatch(record, model_type, num_classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        training.model_kind(record, model_type, num_classes)
