"""Files: create, signed upload without the API key, processing, list, delete; dataset validation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from support.emulator_client import FILE_SECONDS, KEY, classifier_dataset, generator_dataset


def _create(api, task_type="classifier"):
    return api.ok("POST", "/v0/files", json={"name": "train.json", "task_type": task_type})


def test_create_upload_and_process_a_file(api, server, clock):
    created = _create(api)

    assert set(created) == {"id", "file_id", "status", "task_type", "file_name", "upload_url"}
    assert created["file_id"] == created["id"]
    assert (created["status"], created["task_type"], created["file_name"]) == (
        "FileCreated",
        "classifier",
        "train.json",
    )
    url = urlsplit(created["upload_url"])
    assert f"{url.scheme}://{url.netloc}" == server.url
    assert url.path == f"/_upload/{created['id']}"
    assert parse_qs(url.query)["signature"]

    upload = requests.put(created["upload_url"], json=classifier_dataset(), timeout=5)

    assert upload.status_code == 200
    status = f"/v0/files/{created['id']}/status"
    assert api.ok("GET", status)["status"] == "FileLoading"
    clock.advance(FILE_SECONDS / 2)
    assert api.ok("GET", status)["status"] == "FileLoading"
    clock.advance(FILE_SECONDS)
    assert api.ok("GET", status) == {**created, "status": "FileReady"}
    assert server.control.files()[0]["rows"] == 32
    assert server.control.upload_requests_with_authorization == 0


def test_list_and_delete_files(api, other_api):
    first, second = _create(api)["id"], _create(api, "generator")["id"]

    assert [item["id"] for item in api.ok("GET", "/v0/files")["files"]] == [first, second]
    assert other_api.ok("GET", "/v0/files") == {"files": []}
    assert other_api.get(f"/v0/files/{first}/status").status_code == 404
    assert api.ok("DELETE", f"/v0/files/{first}/delete")["id"] == first
    assert api.get(f"/v0/files/{first}/status").status_code == 404
    assert [item["id"] for item in api.ok("GET", "/v0/files")["files"]] == [second]


def test_an_upload_carrying_the_api_key_is_recorded(api, server):
    created = _create(api)

    requests.put(created["upload_url"], json=classifier_dataset(), headers={"Authorization": KEY}, timeout=5)

    assert server.control.upload_requests_with_authorization == 1
    assert server.control.snapshot()["upload_requests_with_authorization"] == 1
    assert server.control.count("PUT /_upload/{id}") == 1


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda url: url.replace("signature=", "signature=x"), 403),
        (lambda url: url.split("?")[0], 403),
        (lambda url: url.replace("/_upload/", "/_upload/0"), 404),
    ],
)
def test_the_upload_url_needs_its_signature(api, mangle, status):
    created = _create(api)

    response = requests.put(mangle(created["upload_url"]), json=classifier_dataset(), timeout=5)

    assert response.status_code == status
    assert api.ok("GET", f"/v0/files/{created['id']}/status")["status"] == "FileCreated"


def test_a_dataset_can_be_uploaded_again(api, clock):
    created = _create(api, "generator")
    requests.put(created["upload_url"], json=generator_dataset(), timeout=5)
    clock.advance(FILE_SECONDS)

    again = requests.put(created["upload_url"], json=generator_dataset(40), timeout=5)

    assert again.status_code == 200
    assert api.ok("GET", f"/v0/files/{created['id']}/status")["status"] == "FileLoading"


INVALID_DATASETS = [
    ("classifier", classifier_dataset(rows=31), "inputs"),
    ("classifier", {**classifier_dataset(), "classes": [0] * 33}, "classes"),
    ("classifier", {**classifier_dataset(), "classes": [-1] * 32}, "classes"),
    ("classifier", {**classifier_dataset(), "classes": ["a"] * 32}, "classes"),
    ("classifier", {**classifier_dataset(), "classes": [True] * 32}, "classes"),
    ("classifier", {"inputs": [1] * 32, "classes": [0] * 32}, "inputs"),
    ("classifier", {"classes": [0] * 32}, "inputs"),
    ("classifier", {"inputs": ["a"] * 32}, "classes"),
    ("classifier", generator_dataset(), "outputs"),
    ("classifier", {"inputs": "abc", "classes": [0] * 32}, "inputs"),
    ("generator", {**generator_dataset(), "outputs": [1] * 32}, "outputs"),
    ("generator", {**generator_dataset(), "outputs": ["a"] * 2}, "outputs"),
    ("generator", [1, 2, 3], "JSON object"),
]


@pytest.mark.parametrize(("task_type", "dataset", "field"), INVALID_DATASETS)
def test_an_invalid_dataset_is_stored_then_fails_processing(api, server, clock, task_type, dataset, field):
    created = _create(api, task_type)
    status = f"/v0/files/{created['id']}/status"

    response = requests.put(created["upload_url"], json=dataset, timeout=5)

    assert response.status_code == 200  # a presigned URL stores whatever it is sent
    assert api.ok("GET", status)["status"] == "FileLoading"
    clock.advance(FILE_SECONDS)
    assert api.ok("GET", status)["status"] == "FileFailed"
    (described,) = server.control.files()
    assert field in described["failure"]
    assert described["rows"] is None


def test_a_dataset_that_is_not_json_fails_processing(api, server, clock):
    created = _create(api)

    response = requests.put(created["upload_url"], data=b"inputs,classes\n", timeout=5)
    clock.advance(FILE_SECONDS)

    assert response.status_code == 200
    assert api.ok("GET", f"/v0/files/{created['id']}/status")["status"] == "FileFailed"
    assert "not valid JSON" in server.control.files()[0]["failure"]


def test_a_failed_file_can_be_uploaded_again(api, clock):
    created = _create(api)
    requests.put(created["upload_url"], json={"inputs": []}, timeout=5)
    clock.advance(FILE_SECONDS)

    requests.put(created["upload_url"], json=classifier_dataset(), timeout=5)
    clock.advance(FILE_SECONDS)

    assert api.ok("GET", f"/v0/files/{created['id']}/status")["status"] == "FileReady"


@pytest.mark.parametrize(
    ("spelling", "keys"), [("both", {"id", "file_id"}), ("model_name", {"id"}), ("model_id", {"file_id"})]
)
def test_file_id_spelling(api, server, spelling, keys):
    server.control.configure(id_spelling=spelling)

    created = _create(api)
    file_id = created.get("id") or created["file_id"]
    replies = [created, api.ok("GET", f"/v0/files/{file_id}/status"), api.ok("GET", "/v0/files")["files"][0]]

    for reply in replies:
        assert set(reply) == keys | {"status", "task_type", "file_name", "upload_url"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_type": "classifier"}, "name"),
        ({"name": "  ", "task_type": "classifier"}, "name"),
        ({"name": "f.json", "task_type": "regressor"}, "task_type"),
        ({"name": "f.json"}, "task_type"),
        ({"name": "f.json", "task_type": "generator", "size": 3}, "size"),
    ],
)
def test_bad_create_file_bodies_are_400(api, body, field):
    response = api.post("/v0/files", json=body)

    assert response.status_code == 400
    assert field in response.json()["detail"]
