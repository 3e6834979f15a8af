"""Training a model: binding datasets, requesting the fit, and what a task may do next (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.api.endpoints import ApiRequest, model_path, validate_model_type, whole_number
from airflow_provider_ttm.api.files import validate_file_id

if TYPE_CHECKING:
    from airflow_provider_ttm.api.records import ModelRecord

#: Suffixes of the two dataset files' names, after a prefix unique to the task instance.
FILE_ROLES = ("train", "validate")


def bind_datasets(model_name: str, train_file: str, validate_file: str) -> ApiRequest:
    """``POST /v0/models/{model_name}/bind``: attach the training and validation files.

    Idempotent: binding the same files again leaves the model as it was (``DatasetsLoaded``).

    :param model_name: the model's id.
    :param train_file: the id of the ready training file.
    :param validate_file: the id of the ready validation file.
    """
    body = {
        "train_file": validate_file_id(train_file, param="train_file"),
        "validate_file": validate_file_id(validate_file, param="validate_file"),
    }
    return ApiRequest("POST", model_path(model_name, "bind"), json=body)


def fit_model(model_name: str) -> ApiRequest:
    """``POST /v0/models/{model_name}/fit``: start training (not idempotent: it may be billed twice)."""
    return ApiRequest("POST", model_path(model_name, "fit"), idempotent=False)


def file_names(prefix: str) -> tuple[str, str]:
    """The names of the training and validation files: ``<prefix>.train``, ``<prefix>.validate``."""
    return (f"{prefix}.{FILE_ROLES[0]}", f"{prefix}.{FILE_ROLES[1]}")


def expected_kind(model_type: Any, num_classes: Any) -> tuple[str | None, int | None]:
    """Validate the model type and number of classes a task was told to expect (either may be None).

    :raises ValueError: naming ``model_type`` or ``num_classes``.
    """
    if model_type is not None:
        validate_model_type(model_type)
    if num_classes is not None:
        if model_type == "generator":
            raise ValueError("num_classes applies to classifiers only; got it for a generator.")
        num_classes = whole_number("num_classes", num_classes, minimum=2)
    return model_type, num_classes


def model_kind(
    record: ModelRecord, model_type: str | None, num_classes: int | None
) -> tuple[str, int | None]:
    """The model's type and number of classes, checked against what the task expected.

    :param record: the model, as the service describes it.
    :param model_type: the type the task expects, or None to take the model's.
    :param num_classes: the number of classes the task expects, or None to take the model's.
    :raises ValueError: when the model is of another type or has another number of classes.
    """
    actual_type = record.model_type or model_type
    if actual_type is None:
        raise ValueError(
            f"Model {record.model_name} does not say whether it is a classifier or a generator; "
            "set model_type."
        )
    if model_type is not None and actual_type != model_type:
        raise ValueError(f"model_type is {model_type!r}, but model {record.model_name} is a {actual_type}.")
    params_classes = record.model_params.get("num_classes")
    actual_classes = params_classes if isinstance(params_classes, int) else None
    if num_classes is not None and actual_classes is not None and num_classes != actual_classes:
        raise ValueError(
            f"num_classes is {num_classes}, but model {record.model_name} has {actual_classes} classes."
        )
    if actual_type != "classifier":
        return actual_type, None
    return actual_type, actual_classes if actual_classes is not None else num_classes
