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
    """Follows one model's status across polls and says when it changed.

    :param model_name: the model's id, for messages.
    :param started_at: when the wait started, in seconds since the epoch (as ``now`` of ``observe``).
    :param strict: treat a status this provider does not know as a failure instead of waiting on.
    """

    model_name: str
    started_at: float
    strict: bool = False
    last_status: str | None = None

    def observe(self, record: ModelRecord, now: float) -> tuple[WaitOutcome, str | None]:
        """Classify one reading; the message is set when the status changed since the last one."""
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
