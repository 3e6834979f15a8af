"""A test run that is stopped leaves nothing behind: SIGTERM, SIGINT or SIGKILL to a pytest that has a
small deployment up (``stopped_run.py``: PostgreSQL, a triggerer and its trigger runner, the emulator,
and the run's watchdog), then every process it started is gone within a bounded time; and
``.ci/stages.py`` forwards a stop to its stage and waits for the stage's teardown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ttm.testing.lifetime import process_table, start_guarded, stop_group

from .processes import describe, marked_processes
from .stopped_run import REPORT_VAR, TEARDOWN_DONE

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("stopped_run.py")
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
START_SECONDS = 300.0  # the three children's deployments up side by side (about 25 s for one alone)
TEARDOWN_SECONDS = 90.0  # the child's teardown after SIGTERM or SIGINT (the triggerer alone takes 11 s)
GONE_SECONDS = 30.0  # what is left after the child is gone: the watchdog's 10 s grace, then SIGKILL


def _alive(pids: list[int]) -> list[int]:
    table = process_table()
    return [pid for pid in pids if pid in table]


def _wait_gone(pids: list[int], marker: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        survivors = sorted({*_alive(pids), *marked_processes(marker)})
        if not survivors or time.monotonic() > deadline:
            return survivors
        time.sleep(0.2)


@dataclass
class ChildRun:
    """A child pytest running ``stopped_run.py``: its process, the report it writes, its output."""

    process: subprocess.Popen[bytes]
    report: Path
    log_path: Path

    def started(self) -> dict[str, Any]:
        """Wait for the report of what the child started; fail with its output if it ends first."""
        deadline = time.monotonic() + START_SECONDS
        while not self.report.exists():
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, self.log_path.read_text()
            time.sleep(0.5)
        return json.loads(self.report.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def child_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[signal.Signals, ChildRun]]:
    """One child run per signal, all started at once (their deployments come up side by side)."""
    runs: dict[signal.Signals, ChildRun] = {}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "-q", str(CHILD)]
    try:
        for sig in SIGNALS:
            folder = tmp_path_factory.mktemp(sig.name)
            report, log_path = folder / "started.json", folder / "child.log"
            with log_path.open("wb") as log:
                process = start_guarded(
                    command,
                    env={**os.environ, REPORT_VAR: str(report)},
                    cwd=REPO_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            runs[sig] = ChildRun(process, report, log_path)
        yield runs
    finally:
        for run in runs.values():
            stop_group(run.process, 5.0)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_stopped_run_leaves_nothing_behind(
    sig: signal.Signals, child_runs: dict[signal.Signals, ChildRun]
) -> None:
    child = child_runs[sig]
    started = child.started()
    pids = [*started["pids"], started["reaper"]]
    assert started["components"]["triggerer"][1:], started  # the trigger runner, in the group
    assert started["reaper"] in started["pids"] and Path(started["root"]).is_dir()

    os.kill(child.process.pid, sig)
    child.process.wait(timeout=TEARDOWN_SECONDS)
    survivors = _wait_gone(pids, started["marker"], GONE_SECONDS)

    output = child.log_path.read_text()
    assert not survivors, f"left behind: {describe(survivors)}\n{output}"
    assert not Path(started["root"]).exists(), output  # PostgreSQL's data, the logs
    if sig == signal.SIGKILL:
        assert child.process.returncode == -signal.SIGKILL
    else:  # the fixtures' teardown stopped the deployment, not the watchdog
        assert TEARDOWN_DONE in output, output
        assert f"KeyboardInterrupt: stopped by {sig.name}" in output, output
        assert child.process.returncode == pytest.ExitCode.INTERRUPTED, output


FAKE_MAKE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from pathlib import Path

    out, stage = Path(os.environ["OUT"]), sys.argv[-1]
    # An orphan-to-be in a session of its own (out of reach of the stage's group), ending on its own.
    orphan = subprocess.Popen(["sleep", "3"], start_new_session=True)
    (out / f"orphan-{stage}").write_text(str(orphan.pid))

    def teardown(signum, frame):
        time.sleep(1)  # what a fixture teardown takes
        (out / f"teardown-{stage}-{signal.Signals(signum).name}").write_text("")
        sys.exit(1)

    signal.signal(signal.SIGTERM, teardown)
    (out / f"started-{stage}").write_text("")
    time.sleep(60)
    """
)


@pytest.mark.parametrize("running", [["first"], ["first", "beside"]], ids=["one-stage", "side-by-side"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_stages_forward_a_stop_and_wait_for_the_teardown(
    sig: signal.Signals, running: list[str], tmp_path: Path
) -> None:
    make = tmp_path / "make"
    make.write_text(f"#!{sys.executable}\n{FAKE_MAKE}")
    make.chmod(0o755)
    env = {**os.environ, "MAKE": str(make), "OUT": str(tmp_path)}
    stages = start_guarded(
        [sys.executable, str(REPO_ROOT / ".ci" / "stages.py"), ",".join(running), "second"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / f"started-{stage}").exists() for stage in running):
            assert stages.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        orphans = [int((tmp_path / f"orphan-{stage}").read_text()) for stage in running]
        stages.send_signal(sig)
        stages.send_signal(sig)  # a stop often arrives twice: forwarded once
        output = stages.communicate(timeout=60)[0].decode()

        assert stages.returncode == 128 + sig, output
        if sig == signal.SIGTERM:
            for stage in running:  # waited for each stage's teardown
                assert (tmp_path / f"teardown-{stage}-SIGTERM").exists(), output
        assert not _alive(orphans), output  # the stages' orphans ended before stages.py did
        assert output.count("STOPPED by") == len(running), output
        assert "second" in output and "not run" in output
    finally:
        stop_group(stages, 5.0)
