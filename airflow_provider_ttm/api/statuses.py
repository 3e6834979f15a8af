"""Model and file statuses of the Tune The Model API, and what each one means.

This is the only place that compares status strings. The service's spelling varies (the
reference writes ``Ready``, the vendor SDK lower-cases), so matching is case-insensitive, and a
status this module does not know is kept as text rather than raising.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from functools import cache
from typing import TypeVar

_StatusT = TypeVar("_StatusT", bound=Enum)


@cache
def _index(cls: type[Enum]) -> dict[str, Enum]:
    return {str(member.value).casefold(): member for member in cls}


def _parse(cls: type[_StatusT], text: object) -> _StatusT | None:
    if not isinstance(text, str):
        return None
    member = _index(cls).get(text.strip().casefold())
    return member if isinstance(member, cls) else None


class ModelStatus(StrEnum):
    """The statuses a model goes through, from creation to the end of training."""

    CREATED = "Created"
    DATASETS_LOADED = "DatasetsLoaded"
    READY_TO_FIT = "ReadyToFit"
    TRAIN_REQUESTED = "TrainRequested"
    IN_QUEUE = "InQueue"
    TRAINING = "Training"
    READY = "Ready"
    FIT_FAILED = "FitFailed"

    @classmethod
    def parse(cls, text: object) -> ModelStatus | None:
        """Return the status named by ``text`` (any case), or None for a status not known here."""
        return _parse(cls, text)


class FileStatus(StrEnum):
    """The statuses of an uploaded dataset file."""

    CREATED = "FileCreated"
    IN_QUEUE = "FileInQueue"
    LOADING = "FileLoading"
    LOADED = "FileLoaded"
    READY = "FileReady"
    FAILED = "FileFailed"

    @classmethod
    def parse(cls, text: object) -> FileStatus | None:
        """Return the status named by ``text`` (any case), or None for a status not known here."""
        return _parse(cls, text)


#: Statuses after which a model is being trained or is trained: fitting it again is wrong.
MODEL_STATUSES_AFTER_FIT = frozenset(
    {ModelStatus.TRAIN_REQUESTED, ModelStatus.IN_QUEUE, ModelStatus.TRAINING, ModelStatus.READY}
)


def is_model_ready(status: str) -> bool:
    """Whether ``status`` is the success end of a model's life cycle."""
    return ModelStatus.parse(status) is ModelStatus.READY


def has_model_failed(status: str) -> bool:
    """Whether ``status`` is the failure end of a model's life cycle."""
    return ModelStatus.parse(status) is ModelStatus.FIT_FAILED


def is_model_status_known(status: str) -> bool:
    """Whether ``status`` is one of the documented model statuses."""
    return ModelStatus.parse(status) is not None


def has_training_started(status: str) -> bool:
    """Whether a model in ``status`` was already asked to train (or is trained): do not fit it again."""
    return ModelStatus.parse(status) in MODEL_STATUSES_AFTER_FIT


def is_file_ready(status: str) -> bool:
    """Whether a dataset file in ``status`` is processed and can be bound to a model."""
    return FileStatus.parse(status) is FileStatus.READY


def has_file_failed(status: str) -> bool:
    """Whether the service could not process a dataset file in ``status``."""
    return FileStatus.parse(status) is FileStatus.FAILED


def is_file_status_known(status: str) -> bool:
    """Whether ``status`` is one of the documented file statuses."""
    return FileStatus.parse(status) is not None
