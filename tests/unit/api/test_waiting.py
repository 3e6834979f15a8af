"""What a wait makes of each status reading: outcome, and a message only when the status changed."""

from __future__ import annotations

import pytest

from airflow_provider_ttm.api.records import ModelRecord
from airflow_provider_ttm.api.waiting import StatusWatch, WaitOutcome, format_elapsed

MODEL = "c4319ce72c6c48dfa0754faf3d083f02"


def _reading(status: str) -> ModelRecord:
    return ModelRecord(model_name=MODEL, status=status)


def test_a_wait_reports_each_change_once_and_ends_at_ready() -> None:
    watch = StatusWatch(MODEL, started_at=1000.0)

    readings = [
        watch.observe(_reading("Created"), 1000.0),
        watch.observe(_reading("Created"), 1060.0),
        watch.observe(_reading("Training"), 1095.2),
        watch.observe(_reading("Training"), 2000.0),
        watch.observe(_reading("Ready"), 5000.0),
    ]

    assert readings == [
        (WaitOutcome.WAITING, f"Model {MODEL} is Created (0.0s since the wait started)."),
        (WaitOutcome.WAITING, None),
        (WaitOutcome.WAITING, f"Model {MODEL} is Training (1m35s since the wait started)."),
        (WaitOutcome.WAITING, None),
        (WaitOutcome.READY, f"Model {MODEL} is Ready (1h06m40s since the wait started)."),
    ]
    assert watch.last_status == "Ready"


def test_ready_seen_again_has_no_message() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, last_status="Ready")

    assert watch.observe(_reading("Ready"), 30.0) == (WaitOutcome.READY, None)


def test_fit_failed_ends_the_wait_as_failed() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, last_status="Training")

    outcome, message = watch.observe(_reading("FitFailed"), 42.0)

    assert outcome is WaitOutcome.FAILED
    assert message == f"Model {MODEL} is FitFailed (42s since the wait started)."


@pytest.mark.parametrize(
    ("status", "outcome"), [("ready", WaitOutcome.READY), ("FITFAILED", WaitOutcome.FAILED)]
)
def test_statuses_are_read_in_any_case(status: str, outcome: WaitOutcome) -> None:
    assert StatusWatch(MODEL, started_at=0.0).observe(_reading(status), 1.0)[0] is outcome


def test_a_change_of_case_alone_counts_as_a_change() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, last_status="Training")

    assert watch.observe(_reading("training"), 1.0)[1] is not None


def test_an_unknown_status_keeps_the_wait_going_and_says_so_once() -> None:
    watch = StatusWatch(MODEL, started_at=0.0)

    first = watch.observe(_reading("Distilling"), 5.0)
    again = watch.observe(_reading("Distilling"), 65.0)

    assert first == (
        WaitOutcome.WAITING,
        f"Model {MODEL} is Distilling (5.0s since the wait started). "
        "This status is not documented; still waiting.",
    )
    assert again == (WaitOutcome.WAITING, None)


def test_strict_mode_fails_on_an_unknown_status_every_time() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, strict=True)

    expected = (WaitOutcome.FAILED, f"Model {MODEL} has unknown status 'Distilling'.")
    assert watch.observe(_reading("Distilling"), 1.0) == expected
    assert watch.observe(_reading("Distilling"), 2.0) == expected


def test_strict_mode_still_waits_on_documented_statuses() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, strict=True)

    assert watch.observe(_reading("InQueue"), 1.0)[0] is WaitOutcome.WAITING
    assert watch.observe(_reading("Ready"), 2.0)[0] is WaitOutcome.READY


def test_transient_failed_checks_are_tolerated_up_to_the_limit_and_a_reading_resets_the_count() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, max_consecutive_errors=2, errors_in_a_row=1)
    error = TimeoutError("read timed out")

    assert watch.failed_check(error, retryable=True) == (
        f"Status check of model {MODEL} failed (2 in a row, 2 tolerated): read timed out"
    )
    assert watch.failed_check(error, retryable=True) is None
    assert watch.errors_in_a_row == 3

    watch.observe(_reading("Training"), 1.0)
    assert watch.errors_in_a_row == 0
    assert watch.failed_check(error, retryable=True) is not None


def test_a_failed_check_that_cannot_pass_ends_the_wait_at_once() -> None:
    watch = StatusWatch(MODEL, started_at=0.0, max_consecutive_errors=5)

    assert watch.failed_check(PermissionError("key rejected"), retryable=False) is None
    assert watch.errors_in_a_row == 1


def test_wait_outcomes_are_plain_strings() -> None:
    assert [outcome.value for outcome in WaitOutcome] == ["ready", "failed", "waiting"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0s"),
        (0.04, "0.0s"),
        (9.5, "9.5s"),
        (10, "10s"),
        (59.9, "59s"),
        (60, "1m00s"),
        (95.2, "1m35s"),
        (3599, "59m59s"),
        (3600, "1h00m00s"),
        (4000, "1h06m40s"),
        (90061, "25h01m01s"),
    ],
)
def test_format_elapsed(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text


def test_format_elapsed_never_shows_negative_time() -> None:
    assert format_elapsed(-3.0) == "0.0s"
