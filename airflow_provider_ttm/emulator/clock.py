"""Clocks: the emulator reads time only through one, so tests can drive it by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
"""A function returning the current time in seconds since the Unix epoch (``time.time`` by default)."""


class ManualClock:
    """
    A clock that stands still until told to move: the emulator's life cycles then advance exactly.

    :param start: the time it shows first, in seconds since the Unix epoch.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (not backward) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backward")
        with self._lock:
            self._now += seconds
            return self._now
