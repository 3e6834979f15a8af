"""Runs `make <stage>` for each stage given, in order, and prints how long each one took.

Stops at the first failing stage (exit status of that stage); the table is printed either way.
Stages joined by a comma (``test-3.1,test-3.2``) run side by side: the first one's output is shown as
it comes, the others' once they end (they mostly wait, on 2 cores that halves their time).

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
import tempfile
import time
from pathlib import Path
from typing import IO, cast

PR_SET_CHILD_SUBREAPER = 36
ORPHAN_WAIT_SECONDS = {False: 30.0, True: 120.0}  # after a stage that ended / was stopped


class Stop:
    """The first SIGTERM or SIGINT, forwarded to the process groups of the running stages."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._running: list[subprocess.Popen[bytes]] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._received)

    def start(self, argv: list[str], output: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
        """Start a stage in a process group of its own; stop it at once if a stop came meanwhile.

        :param argv: the stage's command.
        :param output: where its output goes (default: this process's).
        """
        stage = subprocess.Popen(argv, process_group=0, stdout=output, stderr=output)
        self._running.append(stage)
        if self.signum is not None:
            self._forward(stage)
        return stage

    def wait(self) -> None:
        """Wait for every running stage; the next ``start`` begins a new set."""
        for stage in self._running:
            stage.wait()
        self._running = []

    def _forward(self, stage: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stage.pid, cast("int", self.signum))

    def _received(self, signum: int, frame: object) -> None:
        if self.signum is None:  # once: the same stop often arrives twice
            self.signum = signum
            for stage in self._running:
                self._forward(stage)


def main(stages: list[str]) -> int:
    _become_subreaper()
    stop = Stop()
    timings: list[tuple[str, float, str]] = []
    status = 0
    started = time.monotonic()
    for group in stages:
        names = group.split(",")
        print(f"\n===== make {' and '.join(names)} =====", flush=True)
        ended = _run_side_by_side(names, stop)
        _wait_for_orphans(ORPHAN_WAIT_SECONDS[stop.signum is not None])
        for name, seconds, code in ended:
            if stop.signum is not None:
                outcome = f"STOPPED by {signal.Signals(stop.signum).name} ({code})"
            else:
                outcome = "ok" if code == 0 else f"FAILED ({code})"
            timings.append((name, seconds, outcome))
        status = 128 + stop.signum if stop.signum is not None else next((c for _, _, c in ended if c), 0)
        if status:
            break
    total = time.monotonic() - started
    print("\n===== make test: stage timings =====")
    for stage, seconds, outcome in timings:
        print(f"  {stage:<14} {_mmss(seconds):>7}  {outcome}")
    done = {stage for stage, _, _ in timings}
    for stage in [name for group in stages for name in group.split(",") if name not in done]:
        print(f"  {stage:<14} {'-':>7}  not run")
    print(f"  {'total':<14} {_mmss(total):>7}  {'ok' if status == 0 else 'FAILED'}")
    return status


def _run_side_by_side(names: list[str], stop: Stop) -> list[tuple[str, float, int]]:
    """Run ``make NAME`` for each name at once; return each one's seconds and exit status.

    The first stage writes to this process's output; each other one to a file, printed when all ended.
    """
    make = os.environ.get("MAKE", "make")
    begun = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ttm-stages-") as folder, contextlib.ExitStack() as files:
        logs = {name: files.enter_context(Path(folder, f"{name}.log").open("wb")) for name in names[1:]}
        running = {name: stop.start([make, "--no-print-directory", name], logs.get(name)) for name in names}
        ended: dict[str, tuple[float, int]] = {}
        while len(ended) < len(running):
            for name, stage in running.items():
                if name not in ended and stage.poll() is not None:
                    ended[name] = (time.monotonic() - begun, stage.returncode)
            time.sleep(0.2)
        stop.wait()
        files.close()
        for name, log in logs.items():
            print(f"\n===== make {name} (ran beside {names[0]}) =====", flush=True)
            sys.stdout.buffer.write(Path(log.name).read_bytes())
            sys.stdout.flush()
    return [(name, *ended[name]) for name in names]


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
