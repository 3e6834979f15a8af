"""The pure modules of files, training and inference: requests, records, replies, statuses."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.api import files, inference, training
from airflow_provider_ttm.api.inference import GenerationOptions
from airflow_provider_ttm.api.records import parse_model
from airflow_provider_ttm.api.statuses import (
    has_file_failed,
    has_training_started,
    is_file_ready,
    is_file_status_known,
)
from airflow_provider_ttm.exceptions import (
    TuneTheModelBadRequestError,
    TuneTheModelMalformedResponseError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
)

FILE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
MODEL_ID = "c4319ce72c6c48dfa0754faf3d083f02"
UPLOAD = "https://bucket.storage.test/uploads/abc?X-Signature=s3cr3t&Expires=1"


# ---- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "started"),
    [("TrainRequested", True), ("inqueue", True), ("Training", True), ("READY", True), ("Created", False),
     ("DatasetsLoaded", False), ("ReadyToFit", False), ("FitFailed", False), ("Compiling", False)],
)  # fmt: skip
def test_training_started_is_judged_case_insensitively(status, started) -> None:
    assert has_training_started(status) is started


def test_file_statuses() -> None:
    assert is_file_ready("fileready") and not is_file_ready("FileLoading")
    assert has_file_failed("FileFailed") and not has_file_failed("FileReady")
    assert is_file_status_known("FileInQueue") and not is_file_status_known("FileScanning")


# ---- files -------------------------------------------------------------------------------------


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


# ---- training ----------------------------------------------------------------------------------


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


# ---- inference ---------------------------------------------------------------------------------


def test_classify_and_public_models_requests() -> None:
    request = inference.classify(MODEL_ID, "hello")

    assert (request.method, request.path, request.json, request.idempotent) == (
        "POST",
        f"/v0/models/{MODEL_ID}/classify",
        {"input": "hello"},
        True,
    )
    assert inference.list_public_models().path == "/v0/public-models"
    with pytest.raises(ValueError, match="input must be text; got int"):
        inference.classify(MODEL_ID, 3)  # type: ignore[arg-type]


def test_every_generation_option_goes_into_the_body() -> None:
    options = GenerationOptions.from_arguments(
        num_hypos="2", min_tokens=3, max_tokens=40, temperature="0.7", top_k=50, top_p=0.9, seed="-7",
        prefix_tokens_only="true", span_delimiters="\n",
    )  # fmt: skip

    request = inference.generate(MODEL_ID, "Once upon", options)

    assert request.json == {
        "input": "Once upon",
        "num_hypos": 2,
        "min_tokens": 3,
        "max_tokens": 40,
        "temperature": 0.7,
        "top_k": 50,
        "top_p": 0.9,
        "seed": -7,
        "prefix_tokens_only": True,
        "span_delimiters": ["\n"],
    }
    assert request.idempotent
    assert inference.generate(MODEL_ID, "x").json == {"input": "x"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_hypos": 0}, "num_hypos must be a whole number of at least 1"),
        ({"min_tokens": 0}, "min_tokens must be a whole number of at least 1"),
        ({"max_tokens": "many"}, "max_tokens must be a whole number"),
        ({"min_tokens": 10, "max_tokens": 5}, r"min_tokens \(10\) must not exceed max_tokens \(5\)"),
        ({"temperature": -0.1}, "temperature must be a number of at least 0"),
        ({"temperature": float("nan")}, "temperature must be a number"),
        ({"temperature": True}, "temperature must be a number"),
        ({"top_k": -1}, "top_k must be a whole number of at least 0"),
        ({"top_p": 1.5}, "top_p must be a number from 0 to 1"),
        ({"top_p": "high"}, "top_p must be a number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"prefix_tokens_only": "yes"}, "prefix_tokens_only must be true or false"),
        ({"span_delimiters": ["\n", ""]}, "span_delimiters must be a string or a list of non-empty strings"),
        ({"span_delimiters": 3}, "span_delimiters must be"),
        ({"beam_size": 3}, "Unknown generation option 'beam_size'"),
    ],
)
def test_bad_generation_options_are_refused(arguments, message) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationOptions.from_arguments(**arguments)


def test_replies_are_parsed() -> None:
    assert inference.parse_scores({"answer": {"scores": [0.1, 0.7, 0.2]}}) == [0.1, 0.7, 0.2]
    assert inference.parse_responses({"answer": {"responses": [{"response": "a"}, {"response": "b"}]}}) == [
        "a",
        "b",
    ]
    assert inference.predicted_class([0.1, 0.7, 0.2]) == 1
    assert inference.predicted_class([0.5, 0.5]) == 0


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (inference.parse_scores, {"answer": {"scores": []}}),
        (inference.parse_scores, {"answer": {"scores": [0.1, "x"]}}),
        (inference.parse_scores, {"answer": {"scores": [True]}}),
        (inference.parse_scores, {"scores": [0.1]}),
        (inference.parse_scores, ["answer"]),
        (inference.parse_responses, {"answer": {"responses": "text"}}),
        (inference.parse_responses, {"answer": {"responses": [{"text": "a"}]}}),
        (inference.parse_responses, {"answer": {"responses": ["a"]}}),
    ],
)
def test_malformed_replies_are_refused(parse, payload) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError):
        parse(payload)
