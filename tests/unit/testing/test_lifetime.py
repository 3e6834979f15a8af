"""Children that end with the process that started them: the parent-death signal, the watchdog, SIGTERM
as Ctrl-C, stopping a group (real processes: ``sleep`` and ``sh``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_ttm.testing import lifetime
from airflow_provider_ttm.testing.lifetime import (
    Reaper,
    die_with_parent,
    group_members,
    interrupt_on_terminate,
    marked_processes,
    reap,
    start_guarded,
    stop_group,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc: Linux only")

BOUND = 20.0  # seconds for what takes well under one
IGNORES_SIGTERM = ["sh", "-c", "trap '' TERM; sleep 60 & wait"]


def _sleeper(**popen_kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True, **popen_kwargs)  # type: ignore[call-overload,no-any-return]


def _stubborn(process: subprocess.Popen[bytes] | None = None) -> subprocess.Popen[bytes]:
    """A group that ignores SIGTERM (``sh`` and its ``sleep``), once ``sh`` has set its trap."""
    process = process or subprocess.Popen(IGNORES_SIGTERM, start_new_session=True)
    deadline = time.monotonic() + BOUND
    while len(group_members(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


def _group_gone(pgid: int) -> bool:
    """Whether group ``pgid`` empties within the bound (a SIGKILLed process takes a moment to go)."""
    deadline = time.monotonic() + BOUND
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not group_members(pgid)


def test_the_child_of_a_thread_gets_its_signal_when_the_thread_ends() -> None:
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(
        target=lambda: started.append(_sleeper(preexec_fn=die_with_parent(signal.SIGTERM)))
    )
    thread.start()
    thread.join()
    try:
        assert started[0].wait(timeout=BOUND) == -signal.SIGTERM
    finally:
        started[0].kill()
        started[0].wait()


def test_the_watchdog_stops_the_groups_it_watches_when_its_pipe_closes(tmp_path: Path) -> None:
    removed, kept = tmp_path / "removed dir", tmp_path / "kept"
    for folder in (removed, kept):
        (folder / "data").mkdir(parents=True)
    watchdog = Reaper(grace=0.5)
    watched, forgotten, stubborn = _sleeper(), _sleeper(), _stubborn()
    try:
        watchdog.watch(watched.pid)
        watchdog.watch(forgotten.pid)
        watchdog.forget(forgotten.pid)
        watchdog.watch(stubborn.pid, signal.SIGTERM)
        watchdog.watch_path(removed)
        watchdog.watch_path(kept)
        watchdog.forget_path(kept)
        assert watchdog.process.stdin is not None
        watchdog.process.stdin.close()  # as when this process dies, however

        assert watched.wait(timeout=BOUND) == -signal.SIGTERM
        assert stubborn.wait(timeout=BOUND) == -signal.SIGKILL  # after the grace
        assert watchdog.process.wait(timeout=BOUND) == 0
        assert forgotten.poll() is None
        assert not removed.exists() and kept.is_dir()  # once the processes were gone
    finally:
        for process in (watched, forgotten, stubborn):
            process.kill()
            process.wait()


def test_reap_stops_marked_processes_and_sigkills_a_group_that_ignores_sigterm() -> None:
    marker = f"TTM_LIFETIME_TEST={os.getpid()}-{time.monotonic_ns()}"
    name, value = marker.split("=")
    marked = _sleeper(env={**os.environ, name: value})
    stubborn = _stubborn()
    try:
        assert marked_processes(marker) == [marked.pid]

        reap({stubborn.pid: signal.SIGTERM}, [marker], grace=0.5)

        assert marked.wait(timeout=BOUND) == -signal.SIGTERM
        assert stubborn.wait(timeout=BOUND) == -signal.SIGKILL
        assert _group_gone(stubborn.pid)
    finally:
        for process in (marked, stubborn):
            process.kill()
            process.wait()


def test_start_guarded_and_stop_group() -> None:
    process = _stubborn(start_guarded(IGNORES_SIGTERM))
    try:
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)

        stop_group(process, grace=0.5)

        assert process.returncode == -signal.SIGKILL
        assert _group_gone(process.pid)
    finally:
        process.kill()
        process.wait()
    assert lifetime.reaper().process.poll() is None  # the watchdog lives as long as this process


def test_sigterm_is_taken_as_ctrl_c_once() -> None:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        interrupt_on_terminate()
        with pytest.raises(KeyboardInterrupt, match="stopped by SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # the same stop again: the teardown goes on
        signal.raise_signal(signal.SIGINT)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
