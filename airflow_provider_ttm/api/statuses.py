"""Model and file statuses of the Tune The Model API, and what each one means.

This is the only place that compares status strings. The service's spelling varies (the
reference writes ``Ready``, the vendor SDK lower-cases), so matching is case-insensitive, and a
status this module does not know is kept as text rather than raising.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import ClassVar, Self


class Status(StrEnum):
    """A status of the service; members match its text in any case."""

    @classmethod
    def parse(cls, text: object) -> Self | None:
        """Return the status named by ``text`` (any case), or None for a status not known here."""
        if not isinstance(text, str):
            return None
        member = _members(cls).get(text.strip().casefold())
        return member if isinstance(member, cls) else None

    def matches(self, text: object) -> bool:
        """Whether ``text`` names this status (any case)."""
        return type(self).parse(text) is self


@cache
def _members(cls: type[Status]) -> dict[str, Status]:
    return {member.value.casefold(): member for member in cls}


class ModelStatus(Status):
    """The statuses a model goes through, from creation to the end of training."""

    CREATED = "Created"
    DATASETS_LOADED = "DatasetsLoaded"
    READY_TO_FIT = "ReadyToFit"
    TRAIN_REQUESTED = "TrainRequested"
    IN_QUEUE = "InQueue"
    TRAINING = "Training"
    READY = "Ready"
    FIT_FAILED = "FitFailed"


class FileStatus(Status):
    """The statuses of an uploaded dataset file."""

    CREATED = "FileCreated"
    IN_QUEUE = "FileInQueue"
    LOADING = "FileLoading"
    LOADED = "FileLoaded"
    READY = "FileReady"
    FAILED = "FileFailed"


#: Statuses after which a model is being trained or is trained: fitting it again is wrong.
MODEL_STATUSES_AFTER_FIT = frozenset(
    {ModelStatus.TRAIN_REQUESTED, ModelStatus.IN_QUEUE, ModelStatus.TRAINING, ModelStatus.READY}
)

#: Whether a status text is the success end of a model's life cycle.
is_model_ready = ModelStatus.READY.matches
#: Whether a status text is the failure end of a model's life cycle.
has_model_failed = ModelStatus.FIT_FAILED.matches


def has_training_started(status: str) -> bool:
    """Whether a model in ``status`` was already asked to train (or is trained): do not fit it again."""
    return ModelStatus.parse(status) in MODEL_STATUSES_AFTER_FIT


class StatusMeaning:
    """What a record's ``status`` text means, for the model and file records.

    A record class names the status it ends well in (``READY``) and badly in (``FAILED``).
    """

    status: str
    READY: ClassVar[Status]
    FAILED: ClassVar[Status]

    @property
    def known_status(self) -> Status | None:
        """The documented status this record is in, or None for a status not known here."""
        return type(self.READY).parse(self.status)

    @property
    def is_ready(self) -> bool:
        """Whether the model is trained and can be called, or the file is processed and can be bound."""
        return self.READY.matches(self.status)

    @property
    def has_failed(self) -> bool:
        """Whether the model's training failed, or the service could not process the file."""
        return self.FAILED.matches(self.status)
