"""Request builders: methods, paths, bodies, idempotency, and argument checks that name the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.endpoints import ApiRequest


def test_list_models_is_an_idempotent_get() -> None:
    assert endpoints.list_models() == ApiRequest("GET", "/v0/models", json=None, idempotent=True)


def test_create_model_builds_the_reference_body() -> None:
    request = endpoints.create_model(
        endpoints.ModelSpec("classifier", name="my-shiny-classifier", num_classes=3)
    )

    assert request.method == "POST"
    assert request.path == "/v0/models"
    assert request.json == {
        "model_type": "classifier",
        "name": "my-shiny-classifier",
        "model_params": {"num_classes": 3},
    }
    assert request.idempotent is False


def test_create_model_with_every_option() -> None:
    request = endpoints.create_model(
        endpoints.ModelSpec(
            "classifier", name="n", num_classes="4", train_iters=" 10 ", pretrained_model="base_model-1"
        )
    )

    assert request.json == {
        "model_type": "classifier",
        "name": "n",
        "model_params": {"num_classes": 4, "train_iters": 10},
        "pretrained_model": "base_model-1",
    }


def test_create_model_minimal_generator_sends_no_params() -> None:
    request = endpoints.create_model(endpoints.ModelSpec("generator"))

    assert request.json == {"model_type": "generator"}


def test_create_model_generator_accepts_train_iters() -> None:
    request = endpoints.create_model(endpoints.ModelSpec("generator", train_iters=1))

    assert request.json == {"model_type": "generator", "model_params": {"train_iters": 1}}


@pytest.mark.parametrize("num_classes", [2, "2", "3", " 7 ", 1000])
def test_create_model_accepts_whole_class_counts(num_classes: object) -> None:
    request = endpoints.create_model(endpoints.ModelSpec("classifier", num_classes=num_classes))

    assert request.json is not None
    assert request.json["model_params"]["num_classes"] == int(str(num_classes).strip())


def test_create_model_accepts_a_name_of_the_maximum_length() -> None:
    name = "x" * endpoints.MAX_NAME_LENGTH

    assert endpoints.create_model(endpoints.ModelSpec("generator", name=name)).json == {
        "model_type": "generator",
        "name": name,
    }


def test_get_model_status_path(model_id: str) -> None:
    assert endpoints.get_model_status(model_id) == ApiRequest("GET", f"/v0/models/{model_id}/status")


def test_delete_model_path_and_idempotency(model_id: str) -> None:
    request = endpoints.delete_model(model_id)

    assert request == ApiRequest("DELETE", f"/v0/models/{model_id}/delete")
    assert request.idempotent is True


# Every bad argument of create_model, and the text its error must contain (the parameter or cause).
BAD_CREATE_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"model_type": "regressor"}, "model_type must be one of classifier, generator; got 'regressor'"),
    ({"model_type": "Classifier"}, "model_type must be one of"),
    ({"model_type": ""}, "model_type must be one of"),
    ({"model_type": None}, "model_type must be one of"),
    ({"model_type": "classifier", "num_classes": 1}, "num_classes must be a whole number of at least 2"),
    ({"model_type": "classifier", "num_classes": 0}, "num_classes must be a whole number of at least 2"),
    ({"model_type": "classifier", "num_classes": -3}, "num_classes must be a whole number of at least 2"),
    ({"model_type": "classifier", "num_classes": "-3"}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": "3a"}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": "1"}, "num_classes must be a whole number of at least 2"),
    ({"model_type": "classifier", "num_classes": ""}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": 2.5}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": 3.0}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": True}, "num_classes must be a whole number"),
    ({"model_type": "classifier", "num_classes": [3]}, "num_classes must be a whole number"),
    ({"model_type": "generator", "num_classes": 3}, "num_classes applies to classifiers only"),
    ({"model_type": "generator", "num_classes": "3"}, "num_classes applies to classifiers only"),
    ({"model_type": "classifier", "train_iters": 0}, "train_iters must be a whole number of at least 1"),
    ({"model_type": "classifier", "train_iters": "many"}, "train_iters must be a whole number"),
    ({"model_type": "classifier", "train_iters": 1.5}, "train_iters must be a whole number"),
    ({"model_type": "classifier", "name": ""}, "name must be a non-blank string"),
    ({"model_type": "classifier", "name": "   "}, "name must be a non-blank string"),
    ({"model_type": "classifier", "name": "x" * 257}, "name must be a non-blank string of at most 256"),
    ({"model_type": "classifier", "name": 5}, "name must be a non-blank string"),
    ({"model_type": "classifier", "pretrained_model": "../x"}, "pretrained_model must be a model id"),
    ({"model_type": "classifier", "pretrained_model": ""}, "pretrained_model must be a model id"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CREATE_ARGUMENTS)
def test_create_model_refuses_bad_arguments_naming_the_parameter(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments = dict(kwargs)
    model_type = arguments.pop("model_type")

    with pytest.raises(ValueError) as raised:
        endpoints.ModelSpec(model_type, **arguments)

    assert message in str(raised.value)


def test_num_classes_error_shows_the_value_given() -> None:
    with pytest.raises(ValueError, match=r"num_classes must be a whole number of at least 2; got '3a'\."):
        endpoints.ModelSpec("classifier", num_classes="3a")


@pytest.mark.parametrize("value", ["²", "3²"])
def test_num_classes_with_a_non_decimal_digit_is_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(ValueError, match="num_classes"):
        endpoints.ModelSpec("classifier", num_classes=value)


# Model ids that must never reach a URL path, and what the error must show.
BAD_MODEL_IDS: list[tuple[object, str]] = [
    ("", "got ''"),
    ("   ", "got '   '"),
    ("a" * 129, "got '" + "a" * 39 + "...."),
    ("../x", "got '../x'"),
    ("..", "got '..'"),
    ("a/b?c", "got 'a/b?c'"),
    ("a b", "got 'a b'"),
    ("abc\n", "got 'abc\\n'"),
    ("%2e%2e", "got '%2e%2e'"),
    ("-leading-dash", "got '-leading-dash'"),
    ("_leading_underscore", "got '_leading_underscore'"),
    ("modèle", "got 'modèle'"),
    (None, "got None"),
    (123, "got 123"),
]


@pytest.mark.parametrize("build", [endpoints.get_model_status, endpoints.delete_model])
@pytest.mark.parametrize(("model_name", "shown"), BAD_MODEL_IDS)
def test_model_requests_refuse_unsafe_ids_naming_the_parameter(build, model_name: object, shown: str) -> None:
    with pytest.raises(ValueError) as raised:
        build(model_name)

    message = str(raised.value)
    assert message.startswith("model_name must be a model id of 1 to 128 letters, digits, '_' or '-'")
    assert shown in message


@pytest.mark.parametrize(
    "model_name",
    ["c4319ce72c6c48dfa0754faf3d083f02", "a", "A_b-9", "a" * 128, "9323F9DB"],
)
def test_model_requests_accept_safe_ids(model_name: str) -> None:
    assert endpoints.get_model_status(model_name).path == f"/v0/models/{model_name}/status"
    assert endpoints.validate_model_name(model_name) == model_name


def test_validate_model_name_names_the_parameter_it_is_given() -> None:
    with pytest.raises(ValueError, match=r"^pretrained_model must be a model id"):
        endpoints.validate_model_name("../etc", param="pretrained_model")


@pytest.mark.parametrize("model_type", ["classifier", "generator"])
def test_validate_model_type_returns_the_type(model_type: str) -> None:
    assert endpoints.validate_model_type(model_type) == model_type


@pytest.mark.parametrize(("value", "minimum", "expected"), [(1, 1, 1), ("0", 0, 0), ("0042", 2, 42)])
def test_whole_number_accepts_the_minimum_and_digit_strings(
    value: object, minimum: int, expected: int
) -> None:
    assert endpoints.whole_number("count", value, minimum=minimum) == expected
