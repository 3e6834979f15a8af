"""Process groups for long-running components (ending with the test run), and finding every process a
deployment spawned."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_ttm.testing import lifetime
from airflow_provider_ttm.testing.lifetime import (
    forget,
    group_members,
    process_table,
    signal_group,
    signal_pid,
    start_guarded,
)

MARKER_VAR = "TTM_E2E_DEPLOYMENT"
"""Environment variable set to a per-deployment id in every process the deployment starts."""


@dataclass
class Component:
    """A long-running command in its own session and process group, its output in ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pgid(self) -> int:
        return self.popen.pid  # start_new_session: the leader's pid is the group id

    def exited(self) -> int | None:
        """The leader's exit code, or None while it runs."""
        return self.popen.poll()


def start_component(
    name: str,
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    stop_signal: int = signal.SIGTERM,
    **popen_kwargs: object,
) -> Component:
    """Start ``argv`` with setsid (own process group), stdin closed, stdout+stderr to ``log_path``.

    It ends with the test run however that ends (:func:`~airflow_provider_ttm.testing.lifetime.start_guarded`).

    :param name: the component's name.
    :param argv: the command.
    :param env: its environment.
    :param cwd: its working directory.
    :param log_path: where its output goes.
    :param stop_signal: its "stop now" signal, sent should the test run die first.
    :param popen_kwargs: more :class:`subprocess.Popen` arguments (``user``, ``group``, ...).
    """
    with log_path.open("ab") as log:
        popen = start_guarded(
            argv,
            stop_signal,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **popen_kwargs,
        )
    return Component(name, popen, log_path)


def descendants(pid: int) -> list[int]:
    """Live (non-zombie) descendants of ``pid``, however they regrouped (by parent pid)."""
    children: dict[int, list[int]] = {}
    for child, (parent, _) in process_table().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def crash(component: Component) -> list[int]:
    """SIGKILL a component's whole process group and every descendant at once, like a lost machine.

    :return: the pids killed.
    """
    victims = sorted({*group_members(component.pgid), *descendants(component.pgid)})
    for pid in victims:
        signal_pid(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        component.popen.wait(timeout=10)
    forget(component.pgid)
    return victims


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries ``MARKER_VAR=marker`` (however they were detached)."""
    return lifetime.marked_processes(f"{MARKER_VAR}={marker}")


def describe(pids: list[int]) -> str:
    """Each pid with its command line, for messages."""
    lines = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = "?"
        lines.append(f"{pid} {cmdline.strip()!r}")
    return ", ".join(lines)


def stop_components(components: list[Component], grace: float, insist_after: float) -> dict[str, str]:
    """Stop components like a service manager would: the leader gracefully, the group by force.

    1. SIGTERM to each leader only; it stops its own children.
    2. After ``insist_after`` seconds, SIGKILL the children of leaders still running, so that the
       leader can finish. (The scheduler's ``LocalExecutor.end()`` sometimes joins idle workers
       forever, and those workers ignore SIGTERM.) Children outliving their leader get SIGTERM.
    3. Groups still alive after ``grace`` seconds get SIGKILL. (The triggerer alone takes up to
       11 s: it waits 10 s for its trigger runner even when that has already exited.)

    :return: component name -> how it ended, e.g. "exit 0 after 1.2s" or "SIGKILL after 15s: <pids>"
    """
    started = time.monotonic()
    for component in components:
        signal_pid(component.pgid, signal.SIGTERM)
    outcome: dict[str, str] = {}
    notes: dict[str, str] = {}
    pending = list(components)
    while pending:
        elapsed = time.monotonic() - started
        for component in list(pending):
            leader_code = component.exited()  # also reaps the leader
            members = group_members(component.pgid)
            if not members:
                note = notes.get(component.name, "")
                outcome[component.name] = f"exit {component.popen.wait()} after {elapsed:.1f}s{note}"
                pending.remove(component)
            elif component.name not in notes and (leader_code is not None or elapsed > insist_after):
                notes[component.name] = _insist(component, leader_code is None, members)
        if pending and elapsed > grace:
            for component in pending:
                survivors = describe(group_members(component.pgid))
                signal_group(component.pgid, signal.SIGKILL)
                outcome[component.name] = f"SIGKILL after {grace:.0f}s: {survivors}"
            break
        time.sleep(0.1)
    for component in components:
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.popen.wait(timeout=10)
        forget(component.pgid)
    return outcome


def _insist(component: Component, leader_alive: bool, members: list[int]) -> str:
    """Second stage of :func:`stop_components`; returns a note on what was done."""
    children = [pid for pid in members if pid != component.pgid]
    if not leader_alive:
        signal_group(component.pgid, signal.SIGTERM)
        return f"; SIGTERM to orphans {describe(children)}"
    for pid in children:
        signal_pid(pid, signal.SIGKILL)
    return f"; SIGKILL to children [{describe(children)}]" if children else ""


def kill_pids(pids: list[int], grace: float) -> None:
    """SIGTERM ``pids``, then SIGKILL those still alive after ``grace`` seconds."""
    for pid in pids:
        signal_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive &= set(process_table())
        time.sleep(0.1)
    for survivor in alive:
        signal_pid(survivor, signal.SIGKILL)
