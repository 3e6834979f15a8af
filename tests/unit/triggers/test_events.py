"""Reading the status trigger's payload: the end event a trigger yields to end the task itself."""

from __future__ import annotations

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

from airflow_provider_ttm.triggers.events import task_end_event

MODEL = {"model_name": "abc123", "model_type": "classifier", "status": "Ready"}


def _payload(status: str, **extra: object) -> dict:
    return {"status": status, "model_name": "abc123", "model_status": None, "message": "why", **extra}


@pytest.mark.parametrize("skip_on_failure", [False, True])
def test_ready_succeeds_with_the_model_record_as_return_value(skip_on_failure) -> None:
    event = task_end_event(
        _payload("success", model=MODEL), skip_on_failure=skip_on_failure, do_xcom_push=True
    )

    assert type(event) is TaskSuccessEvent
    assert event.xcoms == {"return_value": MODEL}


def test_ready_without_do_xcom_push_succeeds_without_an_xcom() -> None:
    event = task_end_event(_payload("success", model=MODEL), skip_on_failure=False, do_xcom_push=False)

    assert type(event) is TaskSuccessEvent
    assert not event.xcoms


@pytest.mark.parametrize("status", ["failed", "timeout", "error"])
def test_any_other_end_fails_without_an_xcom(status) -> None:
    event = task_end_event(_payload(status), skip_on_failure=False, do_xcom_push=True)

    assert type(event) is TaskFailedEvent
    assert not event.xcoms


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", TaskSkippedEvent), ("timeout", TaskSkippedEvent), ("error", TaskFailedEvent)],
)
def test_skip_on_failure_skips_what_soft_fail_skips_and_still_fails_an_error(status, expected) -> None:
    assert type(task_end_event(_payload(status), skip_on_failure=True, do_xcom_push=True)) is expected


@pytest.mark.parametrize(
    "payload",
    [
        _payload("success"),  # Ready without the record
        _payload("success", model={**MODEL, "model_name": "other"}),
        _payload("unheard-of"),
    ],
    ids=["no-record", "record-of-another-model", "unknown-status"],
)
def test_a_malformed_payload_fails_the_task(payload) -> None:
    assert type(task_end_event(payload, skip_on_failure=True, do_xcom_push=True)) is TaskFailedEvent
