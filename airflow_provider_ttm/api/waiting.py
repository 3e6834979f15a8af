"""What a wait on a model makes of each status it sees (pure; shared by sensor, operator, trigger)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from airflow_provider_ttm.api.statuses import ModelStatus

if TYPE_CHECKING:
    from airflow_provider_ttm.api.records import ModelRecord


class WaitOutcome(StrEnum):
    """Where a wait stands after one status reading."""

    READY = "ready"
    FAILED = "failed"
    WAITING = "waiting"


@dataclass
class StatusWatch:
    """Follows one model's status across polls: says when it changed, and counts failed checks.

    The sensor (in every mode) and the status trigger keep their wait's state here, so a wait
    handed from one to the other (a sensor deferring) goes on where it was.

    :param model_name: the model's id, for messages.
    :param started_at: when the wait started, in seconds since the epoch (as ``now`` of ``observe``).
    :param strict: treat a status this provider does not know as a failure instead of waiting on.
    :param last_status: the status of the last reading, if any.
    :param max_consecutive_errors: transient failed checks in a row tolerated (see ``failed_check``).
    :param errors_in_a_row: failed checks in a row so far; a reading sets it back to 0.
    """

    model_name: str
    started_at: float
    strict: bool = False
    last_status: str | None = None
    max_consecutive_errors: int = 5
    errors_in_a_row: int = 0

    def failed_check(self, error: Exception, *, retryable: bool) -> str | None:
        """Count one failed status check; the warning to log while the wait may go on, else None.

        The wait must end (None) when the failure cannot pass (not ``retryable``) or when more
        than ``max_consecutive_errors`` came in a row.

        :param error: what the check raised, for the warning.
        :param retryable: whether checking again may help.
        """
        self.errors_in_a_row += 1
        if not retryable or self.errors_in_a_row > self.max_consecutive_errors:
            return None
        return (
            f"Status check of model {self.model_name} failed ({self.errors_in_a_row} in a row, "
            f"{self.max_consecutive_errors} tolerated): {error}"
        )

    def observe(self, record: ModelRecord, now: float) -> tuple[WaitOutcome, str | None]:
        """Classify one reading; the message is set when the status changed since the last one."""
        self.errors_in_a_row = 0
        changed = record.status != self.last_status
        self.last_status = record.status
        status = record.known_status
        message = None
        if changed:
            message = (
                f"Model {self.model_name} is {record.status} "
                f"({format_elapsed(now - self.started_at)} since the wait started)."
            )
        if status is ModelStatus.READY:
            return WaitOutcome.READY, message
        if status is ModelStatus.FIT_FAILED:
            return WaitOutcome.FAILED, message
        if status is None:
            if self.strict:
                return WaitOutcome.FAILED, f"Model {self.model_name} has unknown status {record.status!r}."
            if changed:
                message = f"{message} This status is not documented; still waiting."
        return WaitOutcome.WAITING, message


def format_elapsed(seconds: float) -> str:
    """``95.2`` -> ``"1m35s"``; ``4000`` -> ``"1h06m40s"``."""
    seconds = max(seconds, 0.0)
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{secs}s"
