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
from pathlib import Path

import pytest

from airflow_provider_ttm.testing.lifetime import process_table, start_guarded, stop_group

from .processes import describe, marked_processes
from .stopped_run import REPORT_VAR, TEARDOWN_DONE

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("stopped_run.py")
START_SECONDS = 240.0  # the child's deployment up (about 25 s alone)
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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_stopped_run_leaves_nothing_behind(sig: signal.Signals, tmp_path: Path) -> None:
    report, log_path = tmp_path / "started.json", tmp_path / "child.log"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "-q", str(CHILD)]
    with log_path.open("wb") as log:
        child = start_guarded(
            command,
            env={**os.environ, REPORT_VAR: str(report)},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not report.exists() or not report.read_text():
            assert child.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        time.sleep(0.2)  # the report is written in one go; let the write finish
        started = json.loads(report.read_text())
        pids = [*started["pids"], started["reaper"]]
        assert started["components"]["triggerer"][1:], started  # the trigger runner, in the group
        assert child.pid not in pids and started["reaper"] in started["pids"]

        os.kill(child.pid, sig)
        child.wait(timeout=TEARDOWN_SECONDS)
        survivors = _wait_gone(pids, started["marker"], GONE_SECONDS)

        output = log_path.read_text()
        assert not survivors, f"left behind: {describe(survivors)}\n{output}"
        if sig == signal.SIGKILL:
            assert child.returncode == -signal.SIGKILL
        else:  # the fixtures' teardown stopped the deployment, not the watchdog
            assert TEARDOWN_DONE in output, output
            assert f"KeyboardInterrupt: stopped by {sig.name}" in output, output
            assert child.returncode == pytest.ExitCode.INTERRUPTED, output
    finally:
        stop_group(child, 5.0)


FAKE_MAKE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from pathlib import Path

    out = Path(os.environ["OUT"])
    # An orphan-to-be in a session of its own (out of reach of the stage's group), ending on its own.
    orphan = subprocess.Popen(["sleep", "3"], start_new_session=True)
    (out / "orphan").write_text(str(orphan.pid))

    def teardown(signum, frame):
        time.sleep(1)  # what a fixture teardown takes
        (out / f"teardown-{signal.Signals(signum).name}").write_text("")
        sys.exit(1)

    signal.signal(signal.SIGTERM, teardown)
    (out / "started").write_text("")
    time.sleep(60)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_stages_forward_a_stop_and_wait_for_the_teardown(sig: signal.Signals, tmp_path: Path) -> None:
    make = tmp_path / "make"
    make.write_text(f"#!{sys.executable}\n{FAKE_MAKE}")
    make.chmod(0o755)
    env = {**os.environ, "MAKE": str(make), "OUT": str(tmp_path)}
    stages = start_guarded(
        [sys.executable, str(REPO_ROOT / ".ci" / "stages.py"), "first", "second"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert stages.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        orphan = int((tmp_path / "orphan").read_text())
        stages.send_signal(sig)
        stages.send_signal(sig)  # a stop often arrives twice: forwarded once
        output = stages.communicate(timeout=60)[0].decode()

        assert stages.returncode == 128 + sig, output
        if sig == signal.SIGTERM:
            assert (tmp_path / "teardown-SIGTERM").exists(), output  # waited for it
        assert not _alive([orphan]), output  # the stage's orphan ended before stages.py did
        assert "first" in output and "STOPPED by" in output and "second" in output and "not run" in output
    finally:
        stop_group(stages, 5.0)
