"""The hook's file and training methods, with HTTP mocked by ``responses`` and waits recorded."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from support.datasets import columns
from support.fakes import API, API_KEY, MODEL_ID
from support.faults import RETRYABLE_FAULTS

from airflow_provider_ttm.api.datasets import build_dataset
from airflow_provider_ttm.api.files import FileRecord
from airflow_provider_ttm.exceptions import (
    TuneTheModelBadRequestError,
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelTransportError,
    TuneTheModelWaitTimeoutError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

FILE_A = "a" * 32
FILE_B = "b" * 32
UPLOAD = "https://bucket.storage.test/up/aaa?X-Sig=s3cr3t-sig"
DATASET = build_dataset("train_data", columns(), model_type="classifier", num_classes=3)


@pytest.fixture
def hook(mocked_conn) -> TuneTheModelHook:
    return TuneTheModelHook(ttm_conn_id=mocked_conn(max_attempts=3))


def _file(file_id: str = FILE_A, status: str = "FileCreated", name: str = "n.train", **extra) -> dict:
    return {"id": file_id, "status": status, "task_type": "classifier", "file_name": name,
            "upload_url": UPLOAD, **extra}  # fmt: skip


def _model(status: str) -> dict:
    return {
        "model_name": MODEL_ID,
        "status": status,
        "model_type": "classifier",
        "model_params": {"num_classes": 3},
    }


def _calls(http: responses.RequestsMock) -> list[str]:
    return [f"{call.request.method} {call.request.url.split('?')[0]}" for call in http.calls]


# ---- files ---------------------------------------------------------------------------------------


def test_create_file_posts_the_name_and_type(hook, http) -> None:
    http.get(f"{API}/v0/files", json={"files": []})
    http.post(f"{API}/v0/files", json=_file())

    record = hook.create_file("n.train", "classifier")

    assert (record.file_id, record.upload_url) == (FILE_A, UPLOAD)
    assert json.loads(http.calls[-1].request.body) == {"name": "n.train", "task_type": "classifier"}
    assert http.calls[-1].request.headers["Authorization"] == API_KEY


def test_a_lost_create_reply_finds_the_new_file_instead_of_creating_another(hook, http, waits) -> None:
    http.get(f"{API}/v0/files", json={"files": [_file(FILE_B)]})  # an older namesake
    http.post(f"{API}/v0/files", body=requests.exceptions.ConnectionError("reset by peer"))
    http.get(f"{API}/v0/files", json={"files": [_file(FILE_B), _file(FILE_A)]})

    record = hook.create_file("n.train", "classifier")

    assert record.file_id == FILE_A
    assert record.upload_url == UPLOAD
    assert _calls(http).count(f"POST {API}/v0/files") == 1


def test_a_lost_create_reply_without_a_new_file_is_sent_again(hook, http, waits) -> None:
    http.get(f"{API}/v0/files", json={"files": []})
    http.post(f"{API}/v0/files", body=requests.exceptions.ConnectionError("reset by peer"))
    http.post(f"{API}/v0/files", json=_file())

    assert hook.create_file("n.train", "classifier").file_id == FILE_A
    assert _calls(http).count(f"POST {API}/v0/files") == 2
    assert len(waits) == 1


def test_list_get_and_delete_files(hook, http) -> None:
    http.get(f"{API}/v0/files", json={"files": [_file(), _file(FILE_B, "FileReady")]})
    http.get(f"{API}/v0/files/{FILE_B}/status", json=_file(FILE_B, "FileReady"))
    http.delete(f"{API}/v0/files/{FILE_A}/delete", json=_file())
    http.delete(f"{API}/v0/files/{FILE_B}/delete", status=404, json={"detail": "File not found"})

    assert [f.file_id for f in hook.list_files()] == [FILE_A, FILE_B]
    assert hook.get_file(FILE_B).is_ready
    assert hook.delete_file(FILE_A).file_id == FILE_A
    assert hook.delete_file(FILE_B) is None
    with pytest.raises(TuneTheModelNotFoundError):
        hook.delete_file(FILE_B, missing_ok=False)


# ---- upload --------------------------------------------------------------------------------------


def test_the_upload_is_a_plain_put_without_the_api_key(hook, http) -> None:
    http.put(UPLOAD.split("?", maxsplit=1)[0], status=200)

    hook.upload_dataset(FileRecord(FILE_A, "FileCreated", file_name="n.train", upload_url=UPLOAD), DATASET)

    (call,) = http.calls
    assert call.request.method == "PUT"
    assert call.request.url == UPLOAD
    assert "Authorization" not in call.request.headers
    assert API_KEY not in json.dumps(dict(call.request.headers))
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == columns()


def test_a_failing_upload_is_retried_and_then_reported_without_the_signature(hook, http, waits) -> None:
    http.put(UPLOAD.split("?", maxsplit=1)[0], status=503, headers={"Retry-After": "2"})
    http.put(UPLOAD.split("?", maxsplit=1)[0], status=200)

    hook.upload_dataset(FileRecord(FILE_A, "FileCreated", upload_url=UPLOAD), DATASET)
    assert waits == [2.0]

    http.put(UPLOAD.split("?", maxsplit=1)[0], status=403, body="<Error>Request has expired</Error>")
    with pytest.raises(TuneTheModelBadRequestError) as error:
        hook.upload_dataset(FileRecord(FILE_A, "FileCreated", upload_url=UPLOAD), DATASET)
    assert "HTTP 403" in str(error.value) and "expired" in str(error.value)
    assert "s3cr3t" not in str(error.value)


def test_an_upload_that_gets_no_answer_names_the_host_only(hook, http, waits) -> None:
    http.put(
        UPLOAD.split("?", maxsplit=1)[0], body=requests.exceptions.ConnectionError(f"cannot reach {UPLOAD}")
    )

    with pytest.raises(TuneTheModelTransportError) as error:
        hook.upload_dataset(FileRecord(FILE_A, "FileCreated", upload_url=UPLOAD), DATASET)

    assert "https://bucket.storage.test/up/aaa" in str(error.value)
    assert "s3cr3t" not in str(error.value)
    assert len(http.calls) == 3  # the connection's max_attempts


def test_an_unencrypted_upload_url_is_refused_before_sending(hook, http) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError, match="plain http:// upload URL"):
        hook.upload_dataset(FileRecord(FILE_A, "FileCreated", upload_url="http://storage.test/u"), DATASET)
    assert len(http.calls) == 0


# ---- waiting for files ---------------------------------------------------------------------------


def test_wait_for_files_until_both_are_ready(hook, http, waits) -> None:
    for status in ("FileLoading", "FileLoading", "FileReady"):
        http.get(f"{API}/v0/files/{FILE_A}/status", json=_file(status=status))
    for status in ("FileLoading", "FileReady", "FileReady"):
        http.get(f"{API}/v0/files/{FILE_B}/status", json=_file(FILE_B, status))

    records = hook.wait_for_files([FILE_A, FILE_B], poll_interval=1.0, timeout=60)

    assert [r.file_id for r in records] == [FILE_A, FILE_B]
    assert waits == [0.1, 0.2]  # short first pauses, doubling up to poll_interval


def test_wait_for_files_fails_on_a_failed_file(hook, http, waits) -> None:
    http.get(f"{API}/v0/files/{FILE_A}/status", json=_file(status="FileFailed"))

    with pytest.raises(TuneTheModelError, match=f"could not process the dataset of file {FILE_A}"):
        hook.wait_for_files([FILE_A], poll_interval=1.0, timeout=60)


def test_wait_for_files_gives_up_after_the_timeout(hook, http, waits) -> None:
    http.get(f"{API}/v0/files/{FILE_A}/status", json=_file(status="FileScanning"))

    with pytest.raises(TuneTheModelWaitTimeoutError, match=f"{FILE_A} is FileScanning"):
        hook.wait_for_files([FILE_A], poll_interval=2.0, timeout=5.0)
    assert sum(waits) == pytest.approx(5.0)
    assert max(waits) <= 2.0


# ---- bind, fit, wait -----------------------------------------------------------------------------


def test_bind_sends_both_files_and_returns_the_model(hook, http) -> None:
    http.post(f"{API}/v0/models/{MODEL_ID}/bind", json=_model("DatasetsLoaded"))

    model = hook.bind_datasets(MODEL_ID, FILE_A, FILE_B)

    assert model.status == "DatasetsLoaded"
    assert json.loads(http.calls[0].request.body) == {"train_file": FILE_A, "validate_file": FILE_B}


def test_a_bind_reply_without_a_model_is_completed_from_the_status(hook, http) -> None:
    http.post(f"{API}/v0/models/{MODEL_ID}/bind", json={"ok": True})
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("DatasetsLoaded"))

    assert hook.bind_datasets(MODEL_ID, FILE_A, FILE_B).status == "DatasetsLoaded"


def test_a_bind_reply_with_a_status_but_no_id_keeps_the_id(hook, http) -> None:
    http.post(f"{API}/v0/models/{MODEL_ID}/bind", json={"status": "DatasetsLoaded"})

    assert hook.bind_datasets(MODEL_ID, FILE_A, FILE_B).model_name == MODEL_ID


def test_fit_checks_the_status_first_and_does_not_fit_twice(hook, http) -> None:
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("Training"))

    assert hook.fit_model(MODEL_ID).status == "Training"
    assert _calls(http) == [f"GET {API}/v0/models/{MODEL_ID}/status"]


def test_fit_starts_training(hook, http) -> None:
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("DatasetsLoaded"))
    http.post(f"{API}/v0/models/{MODEL_ID}/fit", json=_model("TrainRequested"))

    assert hook.fit_model(MODEL_ID).status == "TrainRequested"


def test_a_lost_fit_reply_is_checked_and_not_sent_again_when_training_started(hook, http, waits) -> None:
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("DatasetsLoaded"))
    http.post(f"{API}/v0/models/{MODEL_ID}/fit", status=502)
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("InQueue"))

    assert hook.fit_model(MODEL_ID).status == "InQueue"
    assert _calls(http).count(f"POST {API}/v0/models/{MODEL_ID}/fit") == 1


def test_a_lost_fit_reply_is_sent_again_when_training_did_not_start(hook, http, waits) -> None:
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("DatasetsLoaded"))
    http.post(f"{API}/v0/models/{MODEL_ID}/fit", body=requests.exceptions.ReadTimeout("slow"))
    http.post(f"{API}/v0/models/{MODEL_ID}/fit", json=_model("TrainRequested"))

    assert hook.fit_model(MODEL_ID).status == "TrainRequested"
    assert _calls(http).count(f"POST {API}/v0/models/{MODEL_ID}/fit") == 2
    assert 30.0 in waits  # a timed-out fit gets the request timeout to settle before the check


def test_wait_for_model(hook, http, waits) -> None:
    for status in ("TrainRequested", "Training", "Ready"):
        http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model(status))

    assert hook.wait_for_model(MODEL_ID, poll_interval=3, timeout=60).is_ready
    assert waits == [3, 3]


def test_wait_for_model_fails_on_fit_failure_and_times_out(hook, http, waits) -> None:
    http.get(f"{API}/v0/models/{MODEL_ID}/status", json=_model("FitFailed"))
    with pytest.raises(TuneTheModelFitFailedError, match="FitFailed"):
        hook.wait_for_model(MODEL_ID, poll_interval=3, timeout=60)

    http.replace(responses.GET, f"{API}/v0/models/{MODEL_ID}/status", json=_model("Training"))
    with pytest.raises(TuneTheModelWaitTimeoutError, match=r"not Ready after 7 s \(last status Training\)"):
        hook.wait_for_model(MODEL_ID, poll_interval=3, timeout=7)


def test_a_timed_out_create_gives_the_service_time_before_looking_for_the_file(hook, http, waits) -> None:
    http.get(f"{API}/v0/files", json={"files": []})
    http.post(f"{API}/v0/files", body=requests.exceptions.ReadTimeout("slow"))
    http.get(f"{API}/v0/files", json={"files": [_file(status="FileCreated")]})

    record = hook.create_file("n.train", "classifier")

    assert record.known_status is not None and record.known_status.value == "FileCreated"
    assert waits == [30.0]  # the connection's request timeout
    assert _calls(http).count(f"POST {API}/v0/files") == 1


# ---- max_attempts in all, against the emulator ------------------------------------------------------


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_an_upload_is_sent_max_attempts_times_in_all(ttm_emulator, attempts_conn, fault) -> None:
    emulator_hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    file = emulator_hook.create_file("train.json", "classifier")
    ttm_emulator.control.add_fault(route="PUT /_upload/{id}", **fault)

    with pytest.raises(TuneTheModelError):
        emulator_hook.upload_dataset(file, DATASET)
    assert ttm_emulator.control.count("PUT /_upload/{id}") == 3


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_one_file_status_check_of_a_wait_is_sent_max_attempts_times(
    ttm_emulator, attempts_conn, fault
) -> None:
    emulator_hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    file = emulator_hook.create_file("train.json", "classifier")
    ttm_emulator.control.add_fault(route="GET /v0/files/{id}/status", **fault)

    with pytest.raises(TuneTheModelError):
        emulator_hook.wait_for_files([file.file_id], poll_interval=0.05, timeout=30)
    assert ttm_emulator.control.count("GET /v0/files/{id}/status") == 3


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_one_model_status_check_of_a_wait_is_sent_max_attempts_times(
    ttm_emulator, attempts_conn, fault
) -> None:
    emulator_hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    model_name = emulator_hook.create_model("classifier", num_classes=2).model_name
    ttm_emulator.control.add_fault(route="GET /v0/models/{id}/status", **fault)

    with pytest.raises(TuneTheModelError):
        emulator_hook.wait_for_model(model_name, poll_interval=0.05, timeout=30)
    assert ttm_emulator.control.count("GET /v0/models/{id}/status") == 3
