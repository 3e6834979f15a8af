"""Child processes that end with the run that started them, however it ends (the test harness and the demo).

Two guards, for two ways a run ends:

- :func:`die_with_parent` (a ``preexec_fn``): the kernel sends the child a signal when the thread that
  started it dies (``prctl(PR_SET_PDEATHSIG)``), so start children from the main thread (or one that
  lives as long as they should).
- :class:`Reaper`: a watchdog process in its own session, told the process groups (and the environment
  markers) of what was started; when the run's process dies, even by SIGKILL, its pipe to the watchdog
  closes and the watchdog stops those groups: their signal, then SIGKILL after a grace period; then it
  removes the run's temp dirs it was told about. Groups stopped normally (dirs removed or kept) are
  forgotten first.

Only the standard library is imported here: ``python -m airflow_provider_ttm.testing.lifetime`` is the
watchdog. Linux only (``/proc``, ``prctl``); elsewhere :func:`die_with_parent` does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
REAP_GRACE_SECONDS = 10.0
"""Seconds the watchdog gives the groups to stop on their signal before SIGKILL."""

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child get ``sig`` when the thread starting it dies.

    :param sig: the signal (SIGTERM for a graceful stop, SIGQUIT for PostgreSQL's immediate one).
    :return: the function, or None where ``prctl`` is missing (not Linux).
    """
    if _LIBC is None:
        return None
    libc, parent = _LIBC, os.getpid()

    def set_parent_death_signal() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody will send the signal
            os.kill(os.getpid(), sig)

    return set_parent_death_signal


def _stat_fields(pid: str) -> list[str] | None:
    """``/proc/PID/stat`` fields after the command name: [state, ppid, pgrp, ...]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def process_table() -> dict[int, tuple[int, int]]:
    """Each live (non-zombie) process: pid -> (parent pid, process group id)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and fields[0] not in ("Z", "X"):
                table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    return [pid for pid, (_, group) in process_table().items() if group == pgid]


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (``NAME=value``), however they were detached."""
    needle = marker.encode()
    found = []
    for pid in process_table():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(pid)
    return found


def signal_group(pgid: int, sig: int) -> None:
    """``killpg``, ignoring a group that is gone (or not ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def signal_pid(pid: int, sig: int) -> None:
    """``kill``, ignoring a process that is gone (or not ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


class Reaper:
    """The watchdog of one run: stops the process groups it was told about when this process dies.

    Each command is one line on the watchdog's stdin, a pipe no other child inherits (``close_fds``);
    closing it (this process exiting, however) makes the watchdog stop what it still watches, then exit.

    :param grace: seconds between the groups' own signal and SIGKILL.
    """

    def __init__(self, grace: float = REAP_GRACE_SECONDS) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(grace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # out of reach of the signals sent to the run's process group
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def watch(self, pgid: int, sig: int = signal.SIGTERM) -> None:
        """Stop group ``pgid`` with ``sig`` (then SIGKILL) should this process die first.

        :param pgid: the process group id.
        :param sig: the group's stop signal.
        """
        self._send(f"watch {pgid} {int(sig)}")

    def forget(self, pgid: int) -> None:
        """Group ``pgid`` has been stopped (its id may be reused).

        :param pgid: the process group id.
        """
        self._send(f"forget {pgid}")

    def watch_path(self, path: Path) -> None:
        """Remove the directory ``path`` too, once the watched processes are gone.

        :param path: a temp dir of the run.
        """
        self._send(f"path {path}")

    def forget_path(self, path: Path) -> None:
        """The directory ``path`` is removed already, or kept on purpose.

        :param path: the directory.
        """
        self._send(f"forget-path {path}")

    def watch_marker(self, marker: str) -> None:
        """Stop, too, every process whose environment holds ``marker`` (``NAME=value``).

        :param marker: the environment entry.
        """
        self._send(f"marker {marker}")

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()


def interrupt_on_terminate() -> None:
    """Take SIGTERM as Ctrl-C (KeyboardInterrupt), so ``finally`` blocks and fixture teardowns run.

    Only the first SIGTERM or SIGINT interrupts: the same stop often arrives twice (a time limit
    signals the process and its group; ``make`` forwards SIGTERM to its child), and a second one
    must not cut the teardown the first one started. Call it from the main thread.
    """
    interrupted: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        if not interrupted:
            interrupted.append(signum)
            raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


_REAPERS: list[Reaper] = []  # this process's watchdog, once started


def reaper() -> Reaper:
    """This process's watchdog, started on first use (again, should it have died)."""
    if not _REAPERS or _REAPERS[-1].process.poll() is not None:
        _REAPERS.append(Reaper())
    return _REAPERS[-1]


def start_guarded(
    argv: list[str], stop_signal: int = signal.SIGTERM, **popen_kwargs: object
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session and process group of its own that ends with this process.

    The child gets ``stop_signal`` when the calling thread dies, and the watchdog stops its group
    should this process die before it does; call :func:`forget` once the group has been stopped.

    :param argv: the command.
    :param stop_signal: what the child takes as "stop now" (SIGTERM; SIGQUIT for PostgreSQL).
    :param popen_kwargs: more arguments of :class:`subprocess.Popen` (env, cwd, stdout, user, ...).
    """
    # The preexec_fn only calls prctl (resolved before the fork), getppid and kill: no lock, no import.
    process = subprocess.Popen(  # type: ignore[call-overload]
        argv,
        start_new_session=True,
        preexec_fn=die_with_parent(stop_signal),  # noqa: PLW1509
        **popen_kwargs,
    )
    reaper().watch(process.pid, stop_signal)
    return process  # type: ignore[no-any-return]


def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a group started by :func:`start_guarded`: SIGTERM to the group, SIGKILL to what is left of
    it once the leader has exited or after ``grace`` seconds; then :func:`forget` it.

    :param process: the group's leader.
    :param grace: seconds the leader may take to stop.
    """
    signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    signal_group(process.pid, signal.SIGKILL)
    process.wait()
    forget(process.pid)


def forget(pgid: int) -> None:
    """Group ``pgid`` (started by :func:`start_guarded`) has been stopped: the watchdog lets it be.

    :param pgid: the process group id (the leader's pid).
    """
    if _REAPERS and _REAPERS[-1].process.poll() is None:
        _REAPERS[-1].forget(pgid)


def _watch(commands: IO[str], grace: float) -> None:
    """Read commands until the pipe closes, then stop what is still watched."""
    groups: dict[int, int] = {}
    markers: set[str] = set()
    paths: set[str] = set()
    for line in commands:
        command, _, argument = line.rstrip("\n").partition(" ")
        if command == "watch":
            pgid, sig = argument.split()
            groups[int(pgid)] = int(sig)
        elif command == "forget":
            groups.pop(int(argument), None)
        elif command == "marker":
            markers.add(argument)
        elif command == "path":
            paths.add(argument)
        elif command == "forget-path":
            paths.discard(argument)
    reap(groups, markers, grace)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def reap(groups: dict[int, int], markers: Iterable[str], grace: float) -> None:
    """Signal each group (pgid -> signal) and SIGTERM each marked process; SIGKILL what is left after ``grace``.

    :param groups: process group id -> its stop signal.
    :param markers: environment entries (``NAME=value``) whose processes are stopped too.
    :param grace: seconds before SIGKILL.
    """
    markers = list(markers)
    for pgid, sig in groups.items():
        signal_group(pgid, sig)
    for marker in markers:
        for pid in marked_processes(marker):
            signal_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while True:
        table = process_table()
        survivors = [pid for pid, (_, pgid) in table.items() if pgid in groups]
        survivors += [pid for marker in markers for pid in marked_processes(marker)]
        if not survivors or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in survivors:
        signal_pid(pid, signal.SIGKILL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the run is the run's to handle
    _watch(sys.stdin, float(sys.argv[1]))
