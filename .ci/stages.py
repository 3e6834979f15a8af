"""Runs `make <stage>` for each stage given, in order, and prints how long each one took.

Stops at the first failing stage (exit status of that stage); the table is printed either way.

A stopped run leaves nothing behind: each stage runs in a process group of its own, and the first
SIGTERM or SIGINT this process gets is forwarded to that group (once: the same stop often arrives
twice); then this process waits for the stage to finish its teardown and exits with 128 + the
signal's number. It is also the subreaper of everything a stage starts (Linux), so that a process
orphaned in a stage is its child rather than init's: after each stage it waits for those (a bounded
time) and SIGKILLs and names any that are still running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
ORPHAN_WAIT_SECONDS = {False: 30.0, True: 120.0}  # after a stage that ended / was stopped


class Stop:
    """The first SIGTERM or SIGINT, forwarded to the running stage's process group."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.stage: subprocess.Popen[bytes] | None = None
        self._forwarded = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._received)

    def start(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start a stage in a process group of its own; stop it at once if a stop came meanwhile."""
        self.stage, self._forwarded = subprocess.Popen(argv, process_group=0), False
        self.forward()
        return self.stage

    def forward(self) -> None:
        """Send the stop to the running stage's group, once."""
        if self.signum is not None and self.stage is not None and not self._forwarded:
            self._forwarded = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.stage.pid, self.signum)

    def _received(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
            self.forward()


def main(stages: list[str]) -> int:
    make = os.environ.get("MAKE", "make")
    _become_subreaper()
    stop = Stop()
    timings: list[tuple[str, float, str]] = []
    status = 0
    started = time.monotonic()
    for stage in stages:
        print(f"\n===== make {stage} =====", flush=True)
        begun = time.monotonic()
        status = stop.start([make, "--no-print-directory", stage]).wait()
        _wait_for_orphans(ORPHAN_WAIT_SECONDS[stop.signum is not None])
        if stop.signum is not None:
            name = signal.Signals(stop.signum).name
            timings.append((stage, time.monotonic() - begun, f"STOPPED by {name} ({status})"))
            status = 128 + stop.signum
            break
        timings.append((stage, time.monotonic() - begun, "ok" if status == 0 else f"FAILED ({status})"))
        if status:
            break
    total = time.monotonic() - started
    print("\n===== make test: stage timings =====")
    for stage, seconds, outcome in timings:
        print(f"  {stage:<14} {_mmss(seconds):>7}  {outcome}")
    skipped = stages[len(timings) :]
    for stage in skipped:
        print(f"  {stage:<14} {'-':>7}  not run")
    print(f"  {'total':<14} {_mmss(total):>7}  {'ok' if status == 0 else 'FAILED'}")
    return status


def _become_subreaper() -> None:
    """Processes orphaned below this one become its children (Linux), not init's."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children() -> list[int]:
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    try:
        return [int(pid) for pid in path.read_text().split()]
    except OSError:
        return []


def _wait_for_orphans(timeout: float) -> None:
    """Reap what the stage left (orphans reparented here) for ``timeout`` seconds, then SIGKILL the rest."""
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # none left
        if time.monotonic() > deadline:
            leftovers = _children()  # SIGKILLed again each round: their children come here too
            if not killed:
                names = ", ".join(f"{pid} {_cmdline(pid)!r}" for pid in leftovers)
                print(f"the stage left processes running after {timeout:.0f}s, killed: {names}", flush=True)
                killed = True
            for pid in leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _mmss(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
