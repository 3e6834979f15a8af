"""DAG parse cost: importing the provider's operators and sensor, against Airflow's HTTP provider.

A DAG file is parsed in a process that has already imported Airflow, so what a DAG pays for a
provider is the import of its modules on top of ``airflow`` and ``airflow.sdk``. Each measurement
runs in a fresh interpreter (no module cached in memory, byte code cached on disk as in a real
deployment), the sets interleaved, several times; the table shows the median and the fastest.

    python benchmarks/import_cost.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median

SETS = {
    "TTM operators + sensor": ["airflow_provider_ttm.operators.ttm", "airflow_provider_ttm.sensors.ttm"],
    "HTTP operators + sensor": [
        "airflow.providers.http.operators.http",
        "airflow.providers.http.sensors.http",
    ],
    "TTM operators": ["airflow_provider_ttm.operators.ttm"],
    "HTTP operators": ["airflow.providers.http.operators.http"],
}
#: Modules worth knowing about when they come in with an import.
WATCHED = (
    "requests",
    "httpx",
    "aiohttp",
    "pendulum",
    "starlette",
    "uvicorn",
    "airflow_provider_ttm.emulator",
    "airflow_provider_ttm.triggers.poller",
)
_PROBE = """
import importlib, json, sys, time
started = time.perf_counter()
import airflow, airflow.sdk
airflow_seconds = time.perf_counter() - started
before = set(sys.modules)
started = time.perf_counter()
for name in {names!r}:
    importlib.import_module(name)
seconds = time.perf_counter() - started
new = set(sys.modules) - before
print(json.dumps({{
    "seconds": seconds,
    "airflow_seconds": airflow_seconds,
    "new_modules": len(new),
    "brought_in": [name for name in {watched!r} if name in new],
    "already_loaded": [name for name in {watched!r} if name in before],
}}))
"""


def _probe(names: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(names=names, watched=WATCHED)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def run_all(repeats: int, log: Any = sys.stderr) -> dict[str, Any]:
    """Every set ``repeats`` times, interleaved, after one untimed run of each (byte code)."""
    for names in SETS.values():
        _probe(names)
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label in SETS}
    started = time.monotonic()
    for _ in range(repeats):
        for label, names in SETS.items():
            samples[label].append(_probe(names))
    print(f"  {repeats} x {len(SETS)} imports in {time.monotonic() - started:.0f} s", file=log, flush=True)
    return {
        label: {
            "median_ms": 1000 * median([sample["seconds"] for sample in runs]),
            "min_ms": 1000 * min(sample["seconds"] for sample in runs),
            "airflow_median_ms": 1000 * median([sample["airflow_seconds"] for sample in runs]),
            "new_modules": runs[-1]["new_modules"],
            "brought_in": runs[-1]["brought_in"],
            "already_loaded": runs[-1]["already_loaded"],
            "repeats": len(runs),
        }
        for label, runs in samples.items()
    }


def format_table(results: dict[str, Any]) -> str:
    """The import costs as a Markdown table."""
    lines = [
        "| import (after `import airflow, airflow.sdk`) | median ms | fastest ms | new modules | "
        "of note, brought in |",
        "|---|---:|---:|---:|---|",
    ]
    for label, result in results.items():
        brought = ", ".join(f"`{name}`" for name in result["brought_in"]) or "none"
        lines.append(
            f"| {label} | {result['median_ms']:.0f} | {result['min_ms']:.0f} | {result['new_modules']} | "
            f"{brought} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run_all(args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
