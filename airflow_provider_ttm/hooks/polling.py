"""Waiting in the worker: until dataset files are processed, and until a model is Ready.

Used by the hook's ``wait_for_files`` and ``wait_for_model``. Status meanings come from the pure
``api`` modules; these loops only read, log and sleep.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_ttm.api.waiting import StatusWatch, WaitOutcome
from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelFitFailedError,
    TuneTheModelWaitTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_ttm.api.files import FileRecord
    from airflow_provider_ttm.api.records import ModelRecord


class StatusLog(Protocol):
    """The part of a logger the waits use."""

    def info(self, event: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log a line at INFO."""


#: The first pause between two file status reads; it doubles up to the poll interval.
FIRST_FILE_POLL = 0.1


def wait_for_files(
    get_file: Callable[[str], FileRecord],
    file_ids: Sequence[str],
    *,
    poll_interval: float,
    timeout: float,
    log: StatusLog,
) -> list[FileRecord]:
    """Read the files' statuses until all are ``FileReady``; return their records in order.

    Processing a dataset is usually quick, so the first pauses are short and grow to
    ``poll_interval``.

    :raises TuneTheModelError: when a file is ``FileFailed``.
    :raises TuneTheModelWaitTimeoutError: when not all are ready within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    pause = min(FIRST_FILE_POLL, poll_interval)
    seen: dict[str, str] = {}
    while True:
        records = [get_file(file_id) for file_id in file_ids]
        for record in records:
            if seen.get(record.file_id) != record.status:
                seen[record.file_id] = record.status
                note = "" if record.known_status is not None else " (not a documented status; waiting on)"
                log.info("File %s (%s) is %s%s.", record.file_id, record.file_name, record.status, note)
            if record.has_failed:
                raise TuneTheModelError(
                    f"The service could not process the dataset of file {record.file_id} "
                    f"({record.file_name}): it is {record.status}."
                )
        if all(record.is_ready for record in records):
            return records
        if time.monotonic() >= deadline:
            waiting = ", ".join(f"{r.file_id} is {r.status}" for r in records if not r.is_ready)
            raise TuneTheModelWaitTimeoutError(f"Dataset files not ready after {timeout:g} s: {waiting}.")
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        pause = min(pause * 2, poll_interval)


def wait_for_model(
    get_model: Callable[[str], ModelRecord],
    model_name: str,
    *,
    poll_interval: float,
    timeout: float,
    log: StatusLog,
) -> ModelRecord:
    """Read the model's status every ``poll_interval`` seconds until it is Ready; return it.

    :raises TuneTheModelFitFailedError: when its training failed.
    :raises TuneTheModelWaitTimeoutError: when it is not Ready within ``timeout`` seconds.
    """
    watch = StatusWatch(model_name, started_at=time.time())
    deadline = time.monotonic() + timeout
    while True:
        record = get_model(model_name)
        outcome, message = watch.observe(record, time.time())
        if message:
            log.info(message)
        if outcome is WaitOutcome.READY:
            return record
        if outcome is WaitOutcome.FAILED:
            raise TuneTheModelFitFailedError(message or f"Model {model_name} is {record.status}.")
        if time.monotonic() >= deadline:
            raise TuneTheModelWaitTimeoutError(
                f"Model {model_name} was not Ready after {timeout:g} s (last status {record.status})."
            )
        time.sleep(min(poll_interval, max(deadline - time.monotonic(), 0.0)))
