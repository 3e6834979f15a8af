"""
Status life cycles, computed lazily from timestamps: no background thread moves anything.

A :class:`Timeline` is a list of ``(time, status)`` steps in time order; the status at a moment is
the last step not in the future. Starting a training schedules all its steps at once.
"""

from __future__ import annotations

from typing import Final

CREATED: Final = "Created"
DATASETS_LOADED: Final = "DatasetsLoaded"
READY_TO_FIT: Final = "ReadyToFit"
TRAIN_REQUESTED: Final = "TrainRequested"
IN_QUEUE: Final = "InQueue"
TRAINING: Final = "Training"
READY: Final = "Ready"
FIT_FAILED: Final = "FitFailed"
MODEL_STATUSES: Final = (
    CREATED,
    DATASETS_LOADED,
    READY_TO_FIT,
    TRAIN_REQUESTED,
    IN_QUEUE,
    TRAINING,
    READY,
    FIT_FAILED,
)
BINDABLE: Final = frozenset({CREATED, DATASETS_LOADED, READY_TO_FIT, FIT_FAILED})
FITTABLE: Final = frozenset({DATASETS_LOADED, READY_TO_FIT})
# Statuses of an auto-training that a bind may still take over (not its end).
AUTO_TRAINING_INTERRUPTIBLE: Final = frozenset({TRAIN_REQUESTED, IN_QUEUE, TRAINING})

FILE_CREATED: Final = "FileCreated"
FILE_LOADING: Final = "FileLoading"
FILE_READY: Final = "FileReady"
FILE_FAILED: Final = "FileFailed"

# Where each training status starts, as a fraction of the training time.
_FIT_PHASES: Final = ((0.0, TRAIN_REQUESTED), (0.1, IN_QUEUE), (0.3, TRAINING))
# A bare model trained by itself shows Created for a while first.
_AUTO_TRAIN_PHASES: Final = ((0.2, TRAIN_REQUESTED), (0.3, IN_QUEUE), (0.4, TRAINING))

Steps = list[tuple[float, str]]


class Timeline:
    """
    The statuses of one resource over time.

    :param start: when the resource was created.
    :param status: its first status.
    """

    def __init__(self, start: float, status: str) -> None:
        self._steps: Steps = [(start, status)]

    def at(self, now: float) -> tuple[str, float]:
        """Return the status at ``now`` and the time it was reached."""
        current = self._steps[0]
        for step in self._steps:
            if step[0] > now:
                break
            current = step
        return current[1], current[0]

    def replan(self, now: float, steps: Steps) -> None:
        """Forget every step after ``now`` (a change of plan), then append ``steps``."""
        self._steps = [step for step in self._steps if step[0] <= now] + steps


def training_steps(
    now: float, seconds: float, outcome: str, *, datasets_ready_at: float | None = None
) -> Steps:
    """
    Steps of a training requested at ``now`` that ends in ``outcome`` after ``seconds``.

    :param datasets_ready_at: when the bound files are processed: the training waits for them
        (TrainRequested until then), so it ends ``seconds`` after that.
    """
    start = now if datasets_ready_at is None else max(now, datasets_ready_at)
    steps = [(start + fraction * seconds, status) for fraction, status in _FIT_PHASES]
    return [(now, TRAIN_REQUESTED), *steps[1:], (start + seconds, outcome)]


def failed_training_steps(now: float, fails_at: float) -> Steps:
    """Steps of a training requested at ``now`` whose datasets turn out unusable at ``fails_at``."""
    return [(now, TRAIN_REQUESTED), (max(now, fails_at), FIT_FAILED)]


def auto_training_steps(now: float, seconds: float, outcome: str) -> Steps:
    """Steps of a bare created model that trains by itself and ends in ``outcome`` after ``seconds``."""
    return [(now + fraction * seconds, status) for fraction, status in _AUTO_TRAIN_PHASES] + [
        (now + seconds, outcome)
    ]


def file_steps(now: float, seconds: float, *, failed: bool = False) -> Steps:
    """Steps of a dataset uploaded at ``now`` that takes ``seconds`` to process (and may fail)."""
    return [(now, FILE_LOADING), (now + seconds, FILE_FAILED if failed else FILE_READY)]
