"""
The 2023 SDK (tune-the-model 0.1.33) builds its objects with ``cls(**reply)``: a model from
``(model_id, status, model_type, *args, **kwargs)`` and a file from
``(file_id, status, task_type, file_name, *args, **kwargs)``; it PUTs the dataset as a JSON string
without a content type, posts ``fit`` without a body, sends every generate knob (``span_delimiters``
as one string or null) and lower-cases statuses. These tests replay that contract over HTTP.
"""

from __future__ import annotations

import json

import pytest
import requests
from support.emulator_client import FILE_SECONDS, TRAIN_SECONDS, classifier_dataset

from airflow_provider_ttm.emulator.lifecycle import MODEL_STATUSES

SDK_MODEL_STATUSES = {
    "ready",
    "created",
    "datasetsloaded",
    "trainrequested",
    "training",
    "fitfailed",
    "readytofit",
    "inqueue",
}


def sdk_model(model_id, status, model_type, *args, **kwargs):
    return {"id": model_id, "status": status.lower(), "type": model_type, "name": kwargs.get("name")}


def sdk_file(file_id, status, task_type, file_name, *args, **kwargs):
    return {"id": file_id, "status": status.lower(), "upload_url": kwargs.get("upload_url")}


def _sdk_post(api, path, data=None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    reply = api.post(path, data=None if data is None else json.dumps(data), headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_sdk_flow_from_create_to_generate(api, clock):
    model = sdk_model(**_sdk_post(api, "/v0/models", {"model_type": "generator", "name": "g"}))
    assert (model["status"], model["name"]) == ("created", "g")

    files = []
    for name in ("train", "val"):
        file = sdk_file(**_sdk_post(api, "/v0/files", {"name": name, "task_type": "generator"}))
        dataset = json.dumps({"inputs": ["алый"] * 32, "outputs": ["escarlata"] * 32})
        assert requests.put(file["upload_url"], data=dataset, timeout=5).status_code == 200
        files.append(file["id"])
    assert sdk_file(**api.ok("GET", f"/v0/files/{files[0]}/status"))["status"] == "fileloading"

    # Since 2022-08 the SDK binds and fits right after the upload, without waiting for FileReady.
    _sdk_post(api, f"/v0/models/{model['id']}/bind", {"train_file": files[0], "validate_file": files[1]})
    assert sdk_model(**api.ok("GET", f"/v0/models/{model['id']}/status"))["status"] == "datasetsloaded"
    _sdk_post(api, f"/v0/models/{model['id']}/fit")
    clock.advance(FILE_SECONDS + TRAIN_SECONDS)
    assert [sdk_model(**item)["status"] for item in api.ok("GET", "/v0/models")["models"]] == ["ready"]

    knobs = {
        "input": "бассейн",
        "num_hypos": 2,
        "min_tokens": 1,
        "max_tokens": 128,
        "temperature": 0.6,
        "top_k": 50,
        "top_p": None,
        "seed": None,
        "prefix_tokens_only": False,
        "span_delimiters": None,
    }
    answer = _sdk_post(api, f"/v0/models/{model['id']}/generate", knobs)["answer"]
    assert len([hypo["response"] for hypo in answer["responses"]]) == 2


def test_the_sdk_classifier_flow(api, clock):
    body = {"model_type": "classifier", "model_params": {"train_iters": 10, "num_classes": 2}}
    model = sdk_model(**_sdk_post(api, "/v0/models", body))
    files = [api.uploaded_file(dataset=classifier_dataset(num_classes=2)) for _ in range(2)]
    _sdk_post(api, f"/v0/models/{model['id']}/bind", {"train_file": files[0], "validate_file": files[1]})
    _sdk_post(api, f"/v0/models/{model['id']}/fit")
    clock.advance(FILE_SECONDS + TRAIN_SECONDS)

    scores = _sdk_post(api, f"/v0/models/{model['id']}/classify", {"input": "irony"})["answer"]["scores"]

    assert len(scores) == 1  # a binary classifier answers the probability of class 1; `[0]` reads it
    assert 0.0 < scores[0] < 1.0


def test_the_sdk_few_shot_generate_needs_no_model_of_its_own(api, other_api):
    knobs = {"input": "Q: 2+2?\nA: 4\nQ: 3+3?\nA:", "num_hypos": 1, "max_tokens": 8, "span_delimiters": None}

    answers = [
        _sdk_post(client, "/v0/models/default-generator/generate", knobs)["answer"]
        for client in (api, other_api)
    ]

    assert all(len(answer["responses"]) == 1 for answer in answers)
    assert api.ok("GET", "/v0/models") == {"models": []}


def test_public_models_build_sdk_objects(api):
    models = [sdk_model(**item) for item in api.ok("GET", "/v0/public-models")["models"]]

    assert {model["type"] for model in models} == {"classifier", "generator"}


def test_every_status_is_known_to_the_sdk():
    assert {status.lower() for status in MODEL_STATUSES} == SDK_MODEL_STATUSES


def test_the_reference_spelling_alone_breaks_the_sdk(api, server):
    server.control.configure(id_spelling="model_name")

    with pytest.raises(TypeError):
        sdk_model(**_sdk_post(api, "/v0/models", {"model_type": "generator"}))
