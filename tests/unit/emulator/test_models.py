"""Models: create, list, status, delete; validation, authentication, scoping, public models, id spellings."""

from __future__ import annotations

import re

import pytest
from support.emulator_client import KEY, Api

from airflow_provider_ttm.emulator.records import format_time, parse_time

REFERENCE_KEYS = {"status", "model_name", "model_type", "model_params", "user_name", "last_updated_time"}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}$")
PUBLIC_CLASSIFIER = "9323f9dbc976ea5dc6c8272eb90742f9"
PUBLIC_GENERATOR = "f9cab2f96d9e65a125264702489cad7a"
# The public models the vendor's docs name: (id, type, user_name, classes).
VENDOR_PUBLIC_MODELS = [
    (PUBLIC_CLASSIFIER, "classifier", "cyberbullying_tweets", 2),
    (PUBLIC_GENERATOR, "generator", "winemag-data", None),
    ("13419a9f17bf52cc48f009a512a99735", "classifier", "amazon_polarity", 2),
    ("1ec02ac96b3e3cd7762bf1e6e2955eb3", "classifier", "financial_sentiment", 3),
]


def test_create_returns_the_reference_model_plus_the_sdk_spellings(api, clock):
    model = api.create_model("classifier", name="my-shiny-classifier", model_params={"num_classes": 3})

    assert set(model) == REFERENCE_KEYS | {"model_id", "name"}
    assert model["status"] == "Created"
    assert HEX32.match(model["model_name"])
    assert model["model_id"] == model["model_name"]
    assert model["user_name"] == model["name"] == "my-shiny-classifier"
    assert model["model_type"] == "classifier"
    assert model["model_params"] == {"num_classes": 3}
    assert TIME.match(model["last_updated_time"])
    assert model["last_updated_time"] == format_time(clock())


def test_model_params_defaults_and_echo(api):
    assert api.create_model("classifier", model_params=None)["model_params"] == {"num_classes": 2}
    generator = api.create_model("generator", model_params={"train_iters": 7}, pretrained_model="base")
    assert generator["model_params"] == {"train_iters": 7}
    assert generator["user_name"] == ""


def test_list_shows_own_models_without_params_in_creation_order(api):
    first = api.create_model("classifier", name="a")
    second = api.create_model("generator", name="b")

    listed = api.ok("GET", "/v0/models")["models"]

    assert [model["model_name"] for model in listed] == [first["model_name"], second["model_name"]]
    assert all("model_params" not in model for model in listed)
    assert set(listed[0]) == REFERENCE_KEYS - {"model_params"} | {"model_id", "name"}


def test_status_then_delete_then_gone(api, server):
    model = api.create_model()
    model_id = model["model_name"]

    assert api.ok("GET", f"/v0/models/{model_id}/status") == model
    deleted = api.ok("DELETE", f"/v0/models/{model_id}/delete")

    assert deleted["model_name"] == model_id
    assert api.get(f"/v0/models/{model_id}/status").status_code == 404
    assert api.delete(f"/v0/models/{model_id}/delete").status_code == 404
    assert api.ok("GET", "/v0/models") == {"models": []}
    assert server.control.deleted_models == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "model_type"),
        (b"{not json", "JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "model_type"),
        (b'{"model_type": "regressor"}', "model_type"),
        (b'{"model_type": 3}', "model_type"),
        (b'{"model_type": "classifier", "model_params": {"num_classes": "3"}}', "model_params.num_classes"),
        (b'{"model_type": "classifier", "model_params": {"num_classes": 1}}', "model_params.num_classes"),
        (b'{"model_type": "classifier", "model_params": {"num_classes": true}}', "model_params.num_classes"),
        (b'{"model_type": "classifier", "model_params": {"num_classes": 2.5}}', "model_params.num_classes"),
        (b'{"model_type": "generator", "model_params": {"num_classes": 3}}', "model_params.num_classes"),
        (b'{"model_type": "generator", "model_params": {"train_iters": 0}}', "model_params.train_iters"),
        (b'{"model_type": "generator", "model_params": {"num_class": 3}}', "model_params.num_class"),
        (b'{"model_type": "generator", "model_params": [3]}', "model_params"),
        (b'{"model_type": "generator", "name": 5}', "name"),
        (b'{"model_type": "generator", "colour": "red"}', "colour"),
    ],
)
def test_bad_create_bodies_are_400_naming_the_problem(api, server, body, field):
    response = api.post("/v0/models", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert server.control.models() == []


ENDPOINTS = [
    ("GET", "/v0/models"),
    ("POST", "/v0/models"),
    ("GET", "/v0/models/0123/status"),
    ("DELETE", "/v0/models/0123/delete"),
    ("POST", "/v0/models/0123/bind"),
    ("POST", "/v0/models/0123/fit"),
    ("POST", "/v0/models/0123/classify"),
    ("POST", "/v0/models/0123/generate"),
    ("GET", "/v0/public-models"),
    ("GET", "/v0/files"),
    ("POST", "/v0/files"),
    ("GET", "/v0/files/0123/status"),
    ("DELETE", "/v0/files/0123/delete"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_needs_a_key(server, method, path):
    response = Api(server.url, None).request(method, path, json={})

    assert response.status_code == 401
    assert "Authorization" in response.json()["detail"]


@pytest.mark.parametrize(
    ("header", "hint"),
    [("wrong-key-123", "Invalid API key"), (f"Bearer {KEY}", "without a 'Bearer ' prefix")],
)
def test_a_wrong_key_is_401_and_never_echoed(server, header, hint):
    response = Api(server.url, header).get("/v0/models")

    assert response.status_code == 401
    assert hint in response.json()["detail"]
    assert header not in response.text
    assert KEY not in response.text


@pytest.mark.parametrize(("method", "path"), [endpoint for endpoint in ENDPOINTS if "0123" in endpoint[1]])
def test_unknown_ids_are_404(api, method, path):
    body = (
        {"input": "x"}
        if path.endswith(("classify", "generate"))
        else {"train_file": "a", "validate_file": "b"}
    )
    response = api.request(method, path, json=body)

    assert response.status_code == 404
    assert "0123" in response.json()["detail"]


def test_unknown_route_and_wrong_method_answer_json(api):
    missing = api.get("/v0/nothing-here")
    wrong_method = api.request("PUT", "/v0/models")

    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    assert wrong_method.status_code == 405
    assert "detail" in wrong_method.json()


def test_models_are_visible_only_to_the_key_that_created_them(api, other_api):
    model_id = api.create_model()["model_name"]

    assert other_api.ok("GET", "/v0/models") == {"models": []}
    assert other_api.get(f"/v0/models/{model_id}/status").status_code == 404
    assert other_api.delete(f"/v0/models/{model_id}/delete").status_code == 404
    assert api.status(model_id) == "Created"


def test_public_models_are_the_vendor_docs_ones_ready_for_every_key_and_read_only(api, other_api):
    public = api.ok("GET", "/v0/public-models")["models"]

    assert [(m["model_name"], m["model_type"], m["user_name"], m["status"]) for m in public] == [
        (model_id, model_type, name, "Ready") for model_id, model_type, name, _ in VENDOR_PUBLIC_MODELS
    ]
    assert all(TIME.match(model["last_updated_time"]) for model in public)
    assert other_api.ok("GET", "/v0/public-models") == {"models": public}
    for model_id, _, _, _ in VENDOR_PUBLIC_MODELS:
        assert api.delete(f"/v0/models/{model_id}/delete").status_code == 403
        assert api.post(f"/v0/models/{model_id}/fit").status_code == 403
        assert (
            api.post(
                f"/v0/models/{model_id}/bind", json={"train_file": "a", "validate_file": "b"}
            ).status_code
            == 403
        )
    assert api.ok("GET", "/v0/models") == other_api.ok("GET", "/v0/models") == {"models": []}


@pytest.mark.parametrize(("model_id", "model_type", "name", "num_classes"), VENDOR_PUBLIC_MODELS)
def test_a_public_model_answers_any_key_by_id(api, other_api, model_id, model_type, name, num_classes):
    status = other_api.ok("GET", f"/v0/models/{model_id}/status")
    assert (status["status"], status["model_type"], status["user_name"]) == ("Ready", model_type, name)

    if model_type == "generator":
        answer = other_api.ok("POST", f"/v0/models/{model_id}/generate", json={"input": "a red wine"})[
            "answer"
        ]
        assert [type(hypo["response"]) for hypo in answer["responses"]] == [str]
        assert api.post(f"/v0/models/{model_id}/classify", json={"input": "x"}).status_code == 400
        return
    assert status["model_params"] == {"num_classes": num_classes}
    for client in (api, other_api):
        scores = client.ok("POST", f"/v0/models/{model_id}/classify", json={"input": "you are great"})
        scores = scores["answer"]["scores"]
        # A binary classifier answers one score, the probability of class 1; k >= 3 classes, k scores.
        assert len(scores) == (1 if num_classes == 2 else num_classes)
        assert all(0.0 < score < 1.0 for score in scores)
    assert api.post(f"/v0/models/{model_id}/generate", json={"input": "x"}).status_code == 400


def test_default_generator_serves_few_shot_generation_to_any_key_unlisted(api, other_api):
    path = "/v0/models/default-generator/generate"
    body = {"input": "English: cat\nFrench: chat\nEnglish: dog\nFrench:", "num_hypos": 2, "seed": 3}

    first = api.ok("POST", path, json=body)["answer"]["responses"]

    assert len(first) == 2 and all(isinstance(hypo["response"], str) for hypo in first)
    assert other_api.ok("POST", path, json=body)["answer"]["responses"] == first
    assert api.ok("GET", "/v0/models/default-generator/status")["status"] == "Ready"
    assert api.delete("/v0/models/default-generator/delete").status_code == 403
    assert "default-generator" not in {m["model_name"] for m in api.ok("GET", "/v0/public-models")["models"]}
    assert api.ok("GET", "/v0/models") == {"models": []}
    assert api.post(path, json={"input": "x", "num_hypos": 0}).status_code == 400


def test_the_delete_reply_is_updated_at_the_time_of_the_delete(api, clock):
    created = api.create_model()
    clock.advance(7 * 60 + 6.123456)  # the reference's delete example comes 7 minutes after its create

    deleted = api.ok("DELETE", f"/v0/models/{created['model_name']}/delete")

    assert deleted["last_updated_time"] == format_time(clock())
    assert deleted["last_updated_time"] != created["last_updated_time"]
    assert {**deleted, "last_updated_time": None} == {**created, "last_updated_time": None}


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (1_654_883_555.0, "2022-06-10 17:52:35.0"),
        (1_654_883_555.5, "2022-06-10 17:52:35.5"),
        (1_654_883_555.81619, "2022-06-10 17:52:35.81619"),
        (1_654_883_555.816191, "2022-06-10 17:52:35.816191"),
        (1_654_883_555.000001, "2022-06-10 17:52:35.000001"),
    ],
)
def test_timestamps_have_1_to_6_fraction_digits_both_ways(timestamp, text):
    assert format_time(timestamp) == text
    assert TIME.match(text)
    assert parse_time(text) == pytest.approx(timestamp, abs=1e-6)
    assert parse_time(text.split(".")[0]) == int(timestamp)


@pytest.mark.parametrize(
    ("spelling", "present", "absent"),
    [
        ("both", {"model_name", "model_id", "user_name", "name"}, set()),
        ("model_name", {"model_name", "user_name"}, {"model_id", "name"}),
        ("model_id", {"model_id", "name"}, {"model_name", "user_name"}),
    ],
)
def test_id_spelling(api, server, spelling, present, absent):
    server.control.configure(id_spelling=spelling)

    created = api.create_model(name="n")
    model_id = created.get("model_name") or created["model_id"]
    replies = [
        created,
        api.ok("GET", f"/v0/models/{model_id}/status"),
        api.ok("GET", "/v0/models")["models"][0],
    ]

    for reply in replies:
        assert present <= set(reply)
        assert not absent & set(reply)
        assert {"status", "model_type", "last_updated_time"} <= set(reply)
