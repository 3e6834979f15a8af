"""Files: requests, records, lists, upload URLs and upload errors."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.api import files
from airflow_provider_ttm.exceptions import (
    TuneTheModelBadRequestError,
    TuneTheModelMalformedResponseError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
)

FILE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
UPLOAD = "https://bucket.storage.test/uploads/abc?X-Signature=s3cr3t&Expires=1"


def test_file_requests() -> None:
    create = files.create_file("nightly.train", "classifier")

    assert (create.method, create.path, create.json, create.idempotent) == (
        "POST",
        "/v0/files",
        {"name": "nightly.train", "task_type": "classifier"},
        False,
    )
    assert files.list_files().path == "/v0/files"
    assert files.get_file_status(FILE_ID).path == f"/v0/files/{FILE_ID}/status"
    delete = files.delete_file(FILE_ID)
    assert (delete.method, delete.path, delete.idempotent) == ("DELETE", f"/v0/files/{FILE_ID}/delete", True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: files.create_file(" ", "classifier"), "name must be a non-blank string"),
        (lambda: files.create_file("x", "regressor"), "model_type must be one of"),
        (lambda: files.get_file_status("../models"), "file_id must be a file id"),
        (lambda: files.delete_file(""), "file_id must be a file id"),
    ],
)
def test_bad_file_arguments_are_refused(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_a_file_is_read_in_either_spelling_and_keeps_unknown_fields() -> None:
    documented = files.parse_file(
        {"id": FILE_ID, "status": "FileCreated", "task_type": "classifier", "file_name": "a", "upload_url": UPLOAD, "size": 3}
    )  # fmt: skip
    sdk = files.parse_file({"file_id": FILE_ID, "status": "FileReady", "name": "a"})

    assert (documented.file_id, documented.file_name, documented.upload_url) == (FILE_ID, "a", UPLOAD)
    assert documented.extra == {"size": 3}
    assert (sdk.file_id, sdk.file_name, sdk.upload_url, sdk.is_ready) == (FILE_ID, "a", None, True)
    assert documented.to_dict() == {"id": FILE_ID, "status": "FileCreated", "task_type": "classifier",
                                    "file_name": "a", "size": 3}  # fmt: skip
    assert documented.to_dict(with_upload_url=True)["upload_url"] == UPLOAD
    assert "s3cr3t" not in repr(documented)


@pytest.mark.parametrize(
    "payload", [[], {"status": "FileReady"}, {"id": FILE_ID}, {"id": FILE_ID, "status": 3}]
)
def test_a_file_without_id_or_status_is_malformed(payload) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError):
        files.parse_file(payload)


def test_file_list() -> None:
    listed = files.parse_file_list({"files": [{"id": FILE_ID, "status": "FileFailed"}]})

    assert [(f.file_id, f.has_failed) for f in listed] == [(FILE_ID, True)]
    with pytest.raises(TuneTheModelMalformedResponseError, match="'files' list"):
        files.parse_file_list({"models": []})


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        (UPLOAD, False, True),
        ("http://127.0.0.1:8765/_upload/x?signature=y", False, True),
        ("http://localhost/_upload/x", False, True),
        ("http://storage.test/upload", False, False),
        ("http://storage.test/upload", True, True),
        ("ftp://storage.test/upload", True, False),
        ("/relative/upload", True, False),
        (None, True, False),
    ],
)
def test_only_usable_upload_urls_are_accepted(url, allow_http, ok) -> None:
    record = files.FileRecord(FILE_ID, "FileCreated", upload_url=url)
    if ok:
        assert files.checked_upload_url(record, allow_http=allow_http) == url
    else:
        with pytest.raises(TuneTheModelMalformedResponseError):
            files.checked_upload_url(record, allow_http=allow_http)


def test_a_presigned_url_is_described_without_its_signature_or_credentials() -> None:
    assert files.describe_url(UPLOAD) == "https://bucket.storage.test/uploads/abc"
    assert files.describe_url("https://user:pw@host.test/p?q=1") == "https://host.test/p"


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, TuneTheModelRateLimitedError, True),
        (503, TuneTheModelServerError, True),
        (403, TuneTheModelBadRequestError, False),
        (302, TuneTheModelBadRequestError, False),
    ],
)
def test_upload_errors_are_about_the_upload_not_the_api_key(status, kind, retryable) -> None:
    error = files.upload_error(status, b"<Error>SignatureDoesNotMatch</Error>", UPLOAD, retry_after="7")

    assert type(error) is kind
    assert error.retryable is retryable
    assert "s3cr3t" not in str(error)
    assert "API key" not in str(error)
    assert "https://bucket.storage.test/uploads/abc" in str(error)
    if status == 429:
        assert error.retry_after == 7.0
