"""Fault injection: every fault on every step of the lifecycle DAG, run by real Airflow code.

The results are written to docs/reliability.md when the whole matrix ran (see reliability_report).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_report import CaseResult, SharedRecord, render, write_doc

from airflow_provider_ttm.api.retry import Retries
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.integration

ROUTES = {
    "create": "POST /v0/models",
    "status": "GET /v0/models/{id}/status",
    "delete": "DELETE /v0/models/{id}/delete",
}
FAULTS: dict[str, dict[str, Any]] = {
    "500 burst": {"kind": "error", "status": 500, "times": 2},
    "503 + Retry-After": {"kind": "error", "status": 503, "retry_after": "1", "times": 2},
    "429 + Retry-After": {"kind": "rate_limit", "retry_after": "1", "times": 2},
    "dropped connection": {"kind": "drop", "after": True, "times": 1},
    "slow reply past the timeout": {"kind": "latency", "delay_seconds": 3.0, "times": 1},
    "malformed JSON": {"kind": "malformed", "after": True, "times": 1},
    "401 mid-run": {"kind": "unauthorized", "times": 1},
    "reply trickled past the timeout": {"kind": "trickle", "after": True, "delay_seconds": 0.5, "times": 1},
    "key echoed JSON-escaped (500)": {"kind": "echo", "times": 2},
}
# The matrix's key has the characters careless servers escape when they echo it (see the echo fault).
MATRIX_KEY = "ttm/Ab3+xK9/q7Zr"
# A revoked key is the only fault that must not be ridden out silently where a retry cannot help.
EXPECTED = {(fault, step): "success" for fault in FAULTS for step in ROUTES}
EXPECTED[("401 mid-run", "create")] = "failed"
EXPECTED[("401 mid-run", "status")] = "failed"
NOTES = {
    ("401 mid-run", "create"): "fails at once: API key rejected; no model exists, nothing to delete",
    ("401 mid-run", "status"): "sensor fails at once naming the rejected key; teardown still deletes",
    ("401 mid-run", "delete"): "delete fails, the task retry deletes",
    ("dropped connection", "create"): "reply lost after the create: found by name, not re-sent",
    ("malformed JSON", "create"): "unreadable 200: found by name, not re-sent",
    ("slow reply past the timeout", "create"): "timed out: waits one timeout, finds it by name",
    ("500 burst", "create"): "500 may hide a create: looked up by name before each resend",
    ("dropped connection", "delete"): "deleted, reply lost: the resend gets 404 = already gone",
    ("malformed JSON", "delete"): "deleted, reply unreadable: the resend gets 404 = already gone",
    ("reply trickled past the timeout", "create"): "the timeout bounds the whole reply: found by name",
    ("reply trickled past the timeout", "delete"): "deleted, reply cut at the timeout: resend gets 404",
    ("key echoed JSON-escaped (500)", "create"): "echo redacted; 500 may hide a create: looked up by name",
}
CASES = [(fault, step) for fault in FAULTS for step in ROUTES]


@pytest.fixture(scope="session")
def record(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[SharedRecord]:
    """Keeps every case; writes docs/reliability.md when the whole matrix ran on Airflow 3.3.

    The cases spread over the pytest-xdist workers, which keep their results in the run's base
    temporary directory (the parent of each worker's own); the worker that finishes last sees every
    result and writes the document. The runs on the older lines of ``make test`` check the same
    matrix but leave the document to the run on the default version, which comes first.
    """
    base = tmp_path_factory.getbasetemp()
    directory = (base if worker_id == "master" else base.parent) / "fault-matrix"
    directory.mkdir(exist_ok=True)
    shared = SharedRecord(directory, order=CASES)
    yield shared
    collected = shared.read()
    if len(collected.cases) == len(CASES) and AIRFLOW_V_3_3_PLUS:
        write_doc(render(collected, command="make test (make integration)"))


SOAK_SECONDS = 30.0
SOAK_WORKERS = 8
SOAK_FAULTS = [
    {"kind": "error", "status": 503, "retry_after": "0.1", "probability": 0.05},
    {"kind": "drop", "after": True, "probability": 0.03},
    {"kind": "latency", "delay_seconds": 1.5, "probability": 0.02},
    {"kind": "malformed", "after": True, "probability": 0.02},
]


def _soak_cycle(name: str, deadline: float) -> str | None:
    """Create, wait until Ready, delete; on any failure delete whatever carries ``name``."""
    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

    hook = TuneTheModelHook()
    try:
        model = hook.create_model("classifier", name=name, num_classes=2)
        while not hook.get_model(model.model_name).is_ready:
            if time.monotonic() > deadline + 30:
                raise TimeoutError(f"{name} not Ready")
            time.sleep(0.1)
        hook.delete_model(model.model_name)
        return model.model_name
    except Exception:
        for leftover in hook.list_models():
            if leftover.user_name == name:
                hook.delete_model(leftover.model_name)
        raise


def test_soak_many_concurrent_cycles_with_faults_leak_nothing(ttm_emulator, monkeypatch, record) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_DEFAULT",
        json.dumps(
            {
                "conn_type": "ttm",
                "host": ttm_emulator.url,
                "password": ttm_emulator.api_key,
                "extra": {"timeout": 1, "max_attempts": 8, "backoff_cap": 0.2},
            }
        ),
    )
    ttm_emulator.control.configure(auto_train_seconds=0.3)
    ttm_emulator.control.set_faults(*({"route": "*", **fault} for fault in SOAK_FAULTS))
    deadline = time.monotonic() + SOAK_SECONDS
    outcomes: list[str | None] = []

    def worker(index: int) -> None:
        cycle = 0
        while time.monotonic() < deadline:
            cycle += 1
            try:
                outcomes.append(_soak_cycle(f"soak-{index}-{cycle}", deadline))
            except Exception:
                outcomes.append(None)

    retries: list[float] = []
    original = Retries.wait_after

    def counting(self, *args, **kwargs) -> float:
        wait = original(self, *args, **kwargs)
        retries.append(wait)
        return wait

    monkeypatch.setattr(Retries, "wait_after", counting)
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(SOAK_WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SOAK_SECONDS + 120)
    ttm_emulator.control.clear_faults()

    succeeded = [model for model in outcomes if model is not None]
    created = ttm_emulator.control.deleted_models + len(ttm_emulator.control.models())
    soak: dict[str, float | str] = {
        "workers": SOAK_WORKERS,
        "seconds": SOAK_SECONDS,
        "faults": "; ".join(
            f"{f['kind']} p={f['probability']}" + (" after the work" if f.get("after") else "")
            for f in SOAK_FAULTS
        ),
        "cycles": len(outcomes),
        "succeeded": len(succeeded),
        "failed": len(outcomes) - len(succeeded),
        "requests": sum(ttm_emulator.control.counters().values()),
        "retries": len(retries),
        "created": created,
        "leaked": len(ttm_emulator.control.models()),
    }
    record.add_soak(soak)
    assert not any(thread.is_alive() for thread in threads)
    assert len(succeeded) >= 50, soak
    assert len(set(succeeded)) == len(succeeded)
    assert soak["leaked"] == 0, soak
    assert soak["retries"] > 0, "faults were met"
    # Every model the service made was one a cycle asked for: nothing made twice.
    assert created <= len(outcomes), soak


@pytest.fixture
def matrix_connection(ttm_emulator, monkeypatch) -> None:
    """ttm_default with short timeouts and backoff, so each case takes seconds, not minutes."""
    ttm_emulator.control.configure(api_keys=(MATRIX_KEY,))
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_DEFAULT",
        json.dumps(
            {
                "conn_type": "ttm",
                "host": ttm_emulator.url,
                "password": MATRIX_KEY,
                "extra": {"timeout": 2, "max_attempts": 4, "backoff_cap": 1},
            }
        ),
    )


@pytest.mark.parametrize(("fault", "step"), CASES, ids=[f"{f}-{s}".replace(" ", "_") for f, s in CASES])
def test_fault_on_a_step(fault, step, ttm_emulator, matrix_connection, dag_runner, record) -> None:
    ttm_emulator.control.configure(auto_train_seconds=1.0)
    ttm_emulator.control.add_fault(route=ROUTES[step], **FAULTS[fault])

    result = dag_runner.run("example_ttm_model_lifecycle")

    created = ttm_emulator.control.deleted_models + len(ttm_emulator.control.models())
    case = CaseResult(
        fault=fault,
        step=step,
        expected=EXPECTED[(fault, step)],
        outcome=result.state,
        hook_retries=len(re.findall(r"failed on attempt \d+ of \d+", result.output)),
        recovered=len(re.findall(r"got no usable answer", result.output)),
        tolerated_polls=len(re.findall(r"Status check of model \w+ failed \(\d+ in a row", result.output)),
        # Airflow 3 logs "new_state=up_for_retry"; Airflow 2.11 "Marking task as UP_FOR_RETRY".
        task_retries=len(re.findall(r"new_state=up_for_retry|Marking task as UP_FOR_RETRY", result.output)),
        models_created=created,
        duplicates=max(created - 1, 0),
        leaked=len(ttm_emulator.control.models()),
        # The key as sent, JSON-escaped, and JSON-escaped inside a repr (a logged local variable).
        key_in_logs=any(
            form in result.output
            for form in (MATRIX_KEY, MATRIX_KEY.replace("/", "\\/"), MATRIX_KEY.replace("/", "\\\\/"))
        ),
        note=NOTES.get((fault, step), "retried with backoff" if EXPECTED[(fault, step)] == "success" else ""),
    )
    record.add_case(case)

    assert case.outcome == case.expected, result.output[-4000:]
    assert case.duplicates == 0
    assert case.leaked == 0
    assert not case.key_in_logs
    assert ttm_emulator.control.faults() == [] or step == "delete", "the fault was exercised"
    if case.expected == "success":
        ridden_out = case.hook_retries + case.recovered + case.tolerated_polls + case.task_retries
        assert ridden_out >= 1, "the fault was met and ridden out"
    if fault == "401 mid-run" and step != "delete":
        assert "API key was rejected" in result.output
