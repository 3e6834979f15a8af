"""Runs `make <stage>` for each stage given, in order, and prints how long each one took.

Stops at the first failing stage (exit status of that stage); the table is printed either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(stages: list[str]) -> int:
    make = os.environ.get("MAKE", "make")
    timings: list[tuple[str, float, str]] = []
    status = 0
    started = time.monotonic()
    for stage in stages:
        print(f"\n===== make {stage} =====", flush=True)
        begun = time.monotonic()
        status = subprocess.run([make, "--no-print-directory", stage], check=False).returncode
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


def _mmss(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
