"""TuneTheModelTrainModelOperator against the emulator: upload, bind, fit, wait, retries, cleanup."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout, TaskDeferred
from support.datasets import columns, rows

from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelFitFailedError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.base import DEFER_TIMEOUT_GRACE
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

PREFIX = "demo_dag.create.manual__2026-11-26T00:00:00+00:00"  # the fake task instance's identity


@pytest.fixture
def fast(ttm_emulator):
    """An emulator that processes files and trains in a fraction of a second."""
    ttm_emulator.control.configure(file_processing_seconds=0.05, train_seconds=0.3)
    return ttm_emulator


def _model(model_type: str = "classifier", num_classes: int | None = 3) -> str:
    return TuneTheModelHook().create_model(model_type, num_classes=num_classes).model_name


def _arguments(**kwargs: Any) -> dict[str, Any]:
    return {"train_data": rows(40), "validation_data": columns(32), "poll_interval": 0.05, **kwargs}


def _operator(model_name: str, **kwargs: Any) -> TuneTheModelTrainModelOperator:
    return TuneTheModelTrainModelOperator(task_id="train", **_arguments(model_name=model_name, **kwargs))


def _status(ttm_emulator, model_name: str) -> str:
    return next(m["status"] for m in ttm_emulator.control.models() if m["model_name"] == model_name)


def test_uploads_binds_fits_and_waits_until_ready(fast, context) -> None:
    model_name = _model()

    result = _operator(model_name, wait_for_ready=True, deferrable=False).execute(context)

    control = fast.control
    assert result == model_name
    assert _status(fast, model_name) == "Ready"
    (model,) = control.models()
    assert set(context["ti"].xcoms["dataset_files"]) == {model["train_file"], model["validate_file"]}
    assert control.count("POST /v0/files") == 2
    assert control.count("PUT /_upload/{id}") == 2
    assert control.upload_requests_with_authorization == 0
    assert control.count("POST /v0/models/{id}/bind") == 1
    assert control.count("POST /v0/models/{id}/fit") == 1
    assert control.files() == []  # deleted once the model was Ready


def test_without_waiting_the_task_ends_after_the_fit_and_keeps_the_files(fast, context) -> None:
    model_name = _model()

    assert _operator(model_name).execute(context) == model_name

    assert _status(fast, model_name) in ("TrainRequested", "InQueue", "Training")
    files = fast.control.files()
    assert sorted(f["file_name"] for f in files) == [f"{PREFIX}.train", f"{PREFIX}.validate"]
    assert sorted(f["rows"] for f in files) == [32, 40]


def test_a_retried_task_does_not_fit_or_upload_again(fast, context) -> None:
    model_name = _model()
    _operator(model_name).execute(context)

    _operator(model_name).execute(context)

    assert fast.control.count("POST /v0/files") == 2
    assert fast.control.count("POST /v0/models/{id}/fit") == 1


def test_a_retry_after_a_crash_replaces_the_files_the_earlier_try_left(fast, context) -> None:
    model_name = _model()
    hook = TuneTheModelHook()
    stale = [
        hook.create_file(f"{PREFIX}.train", "classifier"),
        hook.create_file(f"{PREFIX}.validate", "classifier"),
    ]

    _operator(model_name, wait_for_ready=True, deferrable=False).execute(context)

    assert fast.control.files() == []
    assert fast.control.count("DELETE /v0/files/{id}/delete") == 4
    assert {f.file_id for f in stale}.isdisjoint(context["ti"].xcoms["dataset_files"])


def test_datasets_from_files_with_named_columns(fast, context, tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"message {i},{i % 3}\n" for i in range(40)), encoding="utf-8")
    validation = tmp_path / "validation.jsonl"
    validation.write_text("".join(json.dumps({"text": f"m{i}", "label": i % 3}) + "\n" for i in range(33)))

    _operator(
        _model(),
        train_data=str(train),
        validation_data=validation,
        input_column="text",
        target_column="label",
    ).execute(context)

    assert sorted(f["rows"] for f in fast.control.files()) == [33, 40]


def test_a_generator_is_trained_on_outputs(fast, context) -> None:
    model_name = _model("generator", None)
    data = [{"input": f"q{i}", "output": f"a{i}"} for i in range(32)]

    _operator(
        model_name, train_data=data, validation_data=data, wait_for_ready=True, deferrable=False
    ).execute(context)

    assert _status(fast, model_name) == "Ready"


def test_deferrable_wait_hands_over_to_the_status_trigger(fast, context) -> None:
    model_name = _model()
    operator = _operator(
        model_name, wait_for_ready=True, deferrable=True, poll_interval=5, timeout=timedelta(hours=3)
    )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, TuneTheModelModelStatusTrigger)
    assert (trigger.model_name, trigger.poll_interval) == (model_name, 5)
    assert deferred.value.kwargs == {"deadline_set_by": "timeout"}
    time_left = trigger.deadline - time.time()
    assert timedelta(hours=3) - timedelta(minutes=1) < timedelta(seconds=time_left) <= timedelta(hours=3)
    assert abs(deferred.value.timeout - DEFER_TIMEOUT_GRACE - timedelta(seconds=time_left)) < timedelta(
        minutes=1
    )
    assert fast.api_key not in json.dumps(trigger.serialize()[1])
    assert len(fast.control.files()) == 2  # kept while the model trains

    ready = {"status": "success", "model_name": model_name, "model_status": "Ready", "message": "",
             "model": {"model_name": model_name, "status": "Ready"}}  # fmt: skip
    assert operator.execute_complete(context, ready) == model_name
    assert fast.control.files() == []


def test_a_failed_deferred_wait_still_deletes_the_files(fast, context) -> None:
    model_name = _model()
    operator = _operator(model_name, wait_for_ready=True, deferrable=True)
    with pytest.raises(TaskDeferred):
        operator.execute(context)

    failed = {
        "status": "failed",
        "model_name": model_name,
        "model_status": "FitFailed",
        "message": "FitFailed",
    }
    with pytest.raises(TuneTheModelFitFailedError):
        operator.execute_complete(context, failed)
    assert fast.control.files() == []


def test_a_failed_fit_in_the_worker_deletes_the_files(fast, context) -> None:
    fast.control.configure(fit_failure_rate=1.0)

    with pytest.raises(TuneTheModelFitFailedError):
        _operator(_model(), wait_for_ready=True, deferrable=False).execute(context)
    assert fast.control.files() == []


def test_a_failed_bind_deletes_the_files_unless_asked_to_keep_them(fast, context, one_attempt_conn) -> None:
    fast.control.add_fault(kind="error", route="POST /v0/models/{id}/bind", status=503)

    with pytest.raises(TuneTheModelError, match="HTTP 503"):
        _operator(_model(), ttm_conn_id=one_attempt_conn).execute(context)
    assert fast.control.files() == []
    assert fast.control.count("POST /v0/models/{id}/fit") == 0

    with pytest.raises(TuneTheModelError, match="HTTP 503"):
        _operator(_model(), ttm_conn_id=one_attempt_conn, delete_files=False).execute(context)
    assert len(fast.control.files()) == 2


def test_a_lost_fit_reply_is_not_followed_by_a_second_fit(fast, context) -> None:
    fast.control.add_fault(kind="drop", route="POST /v0/models/{id}/fit", after=True, times=1)
    model_name = _model()

    _operator(model_name, wait_for_ready=True, deferrable=False).execute(context)

    assert fast.control.count("POST /v0/models/{id}/fit") == 1
    assert _status(fast, model_name) == "Ready"


def test_a_lost_file_create_reply_does_not_make_a_second_file(fast, context) -> None:
    fast.control.add_fault(kind="drop", route="POST /v0/files", after=True, times=1)

    _operator(_model()).execute(context)

    assert fast.control.count("POST /v0/files") == 2
    assert len(fast.control.files()) == 2


def test_a_user_prefix_names_the_files(fast, context) -> None:
    _operator(_model(), file_name_prefix="tweets-2026-11-26").execute(context)

    assert sorted(f["file_name"] for f in fast.control.files()) == [
        "tweets-2026-11-26.train",
        "tweets-2026-11-26.validate",
    ]


BAD_DATA = [
    ({"train_data": rows(31)}, r"^train_data has 31 rows; the service needs at least 32\.$"),
    ({"validation_data": {"inputs": ["x"] * 32, "classes": [0] * 33}}, "validation_data: the inputs have 32 rows but the targets have 33"),
    ({"train_data": [*rows(39), {"input": "x", "class": 3}]}, "train_data: row 39: class 3 is out of range for a model of 3 classes"),
    ({"validation_data": [{"text": "x", "class": 0}] * 32}, "validation_data: row 0 has no column 'input'"),
    ({"train_data": "/nonexistent/train.csv"}, r"train_data: cannot read '/nonexistent/train\.csv' \(FileNotFoundError"),
    ({"train_data": "/data/train.parquet"}, "train_data: cannot tell the format"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "message"), BAD_DATA)
def test_bad_data_is_refused_before_any_request(ttm_emulator, context, kwargs, message) -> None:
    model_name = "0" * 32
    operator = _operator(model_name, model_type="{{ params.t }}", num_classes="{{ params.n }}", **kwargs)
    operator.model_type, operator.num_classes = "classifier", 3  # what rendering produced

    with pytest.raises(ValueError, match=message):
        operator.execute(context)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(("kwargs", "message"), BAD_DATA)
def test_without_a_declared_kind_bad_data_is_refused_before_any_upload(
    ttm_emulator, context, kwargs, message
) -> None:
    model_name = _model()

    with pytest.raises(ValueError, match=message):
        _operator(model_name, **kwargs).execute(context)
    assert ttm_emulator.control.count("POST /v0/files") == 0
    assert ttm_emulator.control.count("PUT /_upload/{id}") == 0


def test_a_model_of_another_kind_is_refused_before_any_upload(ttm_emulator, context) -> None:
    model_name = _model(num_classes=5)

    with pytest.raises(ValueError, match=r"num_classes is 3, but model .* has 5 classes"):
        _operator(model_name, model_type="classifier", num_classes=3).execute(context)
    with pytest.raises(ValueError, match=r"model_type is 'generator', but model .* is a classifier"):
        _operator(model_name, model_type="generator", train_data=[("q", "a")] * 32,
                  validation_data=[("q", "a")] * 32).execute(context)  # fmt: skip
    assert ttm_emulator.control.count("POST /v0/files") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name": "../x"}, "model_name must be a model id"),
        ({"model_type": "regressor"}, "model_type must be one of"),
        ({"model_type": "generator", "num_classes": 3}, "num_classes applies to classifiers only"),
        ({"model_type": "classifier", "num_classes": 3, "train_data": rows(10)}, "train_data has 10 rows"),
        ({"data_format": "xml"}, "data_format must be one of csv, jsonl, json"),
        ({"poll_interval": 0}, "poll_interval must be a number of seconds"),
        ({"files_timeout": -1}, "files_timeout must be a number of seconds"),
        ({"max_consecutive_errors": -1}, "max_consecutive_errors must be a whole number"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(ttm_emulator, refusal, kwargs, message) -> None:
    named = list(kwargs)[-1]
    refusal(TuneTheModelTrainModelOperator, _arguments(**{"model_name": "0" * 32, **kwargs}), named, message)
    assert ttm_emulator.control.counters() == {}


def test_arguments_resolved_later_are_not_checked_when_parsed() -> None:
    operator = _operator(
        "{{ ti.xcom_pull('create') }}",
        model_type="classifier",
        num_classes="{{ params.n }}",
        train_data=rows(3),
    )
    assert operator.train_data == rows(3)
    later_columns = _operator(
        "0" * 32, model_type="classifier", input_column="{{ params.c }}", train_data=rows(3)
    )
    assert later_columns.input_column == "{{ params.c }}"


def test_a_failing_cleanup_does_not_hide_why_the_task_failed(fast, context, one_attempt_conn) -> None:
    fast.control.add_fault(kind="error", route="POST /v0/models/{id}/bind", status=503)
    fast.control.add_fault(kind="error", route="DELETE /v0/files/{id}/delete", status=500)

    with pytest.raises(TuneTheModelError, match="HTTP 503"):
        _operator(_model(), ttm_conn_id=one_attempt_conn).execute(context)
    assert len(fast.control.files()) == 2  # left behind, with a warning naming them


def test_deferred_wait_ends_at_the_execution_timeout(fast, context) -> None:
    context["ti"].start_date = datetime.now(UTC) - timedelta(seconds=5)
    model_name = _model()
    operator = _operator(
        model_name,
        wait_for_ready=True,
        deferrable=True,
        timeout=timedelta(hours=3),
        execution_timeout=timedelta(minutes=10),
    )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    assert deferred.value.trigger.deadline == pytest.approx(
        context["ti"].start_date.timestamp() + 600, abs=0.01
    )
    timeout = {"status": "timeout", "model_name": model_name, "model_status": "Training", "message": "late"}
    with pytest.raises(AirflowTaskTimeout, match="execution_timeout"):
        operator.resume_execution("execute_complete", {**deferred.value.kwargs, "event": timeout}, context)
    assert fast.control.files() == [], "the files are deleted after a timeout too"
