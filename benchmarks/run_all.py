"""Run every benchmark and rewrite ``benchmarks/README.md`` with the tables (``make bench``).

python benchmarks/run_all.py                 # the full set, four to six minutes on 2 cores
python benchmarks/run_all.py --sizes 1 10 --calls 50 --repeats 2 --output /tmp/bench.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hook_call_cost
import import_cost
import trigger_scale
from _common import isolated_airflow_home, machine
from deployment import END_MARK, START_MARK

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--interval", type=float, default=3.0, help="poll interval of the triggers, s")
    parser.add_argument("--calls", type=int, default=500, help="status calls per client and scheme")
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import set")
    parser.add_argument("--output", default=str(HERE / "README.md"))
    args = parser.parse_args()

    isolated_airflow_home()  # inherited by every benchmark process
    started = time.monotonic()
    load_before = os.getloadavg()
    print("trigger_scale:", file=sys.stderr, flush=True)
    scale = trigger_scale.run_all(args.sizes, args.interval)
    print("hook_call_cost:", file=sys.stderr, flush=True)
    calls = hook_call_cost.run_all(args.calls)
    print("import_cost:", file=sys.stderr, flush=True)
    imports = import_cost.run_all(args.repeats)
    context = {
        "command": " ".join(["python", "benchmarks/run_all.py", *map(shlex.quote, sys.argv[1:])]),
        "machine": machine(),
        "load": (load_before, os.getloadavg()),
        "duration_s": time.monotonic() - started,
        "interval": args.interval,
    }
    kept = _deployment_section(Path(args.output))
    Path(args.output).write_text(render(context, scale, calls, imports) + kept)
    print(f"wrote {args.output} in {context['duration_s']:.0f} s", file=sys.stderr)
    return 0


def render(
    context: dict[str, Any],
    scale: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    imports: dict[str, Any],
) -> str:
    """The README: goals first, then each benchmark's table and how it was measured."""
    info = context["machine"]
    load_before, load_after = context["load"]
    interval = context["interval"]
    return f"""# Benchmarks

Written by `make bench` (`{context["command"]}`) on {info["date"]}, in {context["duration_s"] / 60:.1f} minutes.
Every number below is measured by that run; rerun it to refresh them. The scripts are in this
folder: `trigger_scale.py`, `hook_call_cost.py`, `import_cost.py`, driven by `run_all.py`.

| machine | |
|---|---|
| CPUs | {info["cpus"]}, {info["cpu_model"]} |
| memory | {info["memory"]} |
| OS | {info["os"]} |
| Python | {info["python"]} |
| Apache Airflow | {info["airflow"]} (httpx {info["httpx"]}, requests {info["requests"]}) |
| load average (1/5/15 min) | before {_load(load_before)}, after {_load(load_after)} |

A load average near or above the CPU count means other work shared the machine during the run:
latencies and CPU shares are then noisier, request counts are not.

## Goals

{_goals(scale, calls, imports, interval)}

## 1. Waiting at scale: coalesced against per-model status polling

N `TuneTheModelModelStatusTrigger`s run concurrently in one event loop, the way the triggerer runs
them (a task per trigger, each taking its trigger's first event), against the emulator served by
a separate process (its CPU is not counted). Poll interval **{interval:g} s**. Each (N, mode) runs in
a fresh process. Once every trigger has read its model once ("start-up"), all models wait for
{trigger_scale.FULL_LOAD_INTERVALS} intervals (full load), then turn Ready one after another over
{trigger_scale.READY_SPREAD_INTERVALS} intervals; the run ends with the last event.

- **requests / interval**: API requests per poll interval while every model waits, from the
  timing of each source's reads (the poller's list, or one model's status reads): one interval
  divided by its mean gap, summed over sources. Split as list + status (status = per-model polls,
  or the coalesced mode's fallbacks for models the list does not show; none here).
- **total requests**: every API request of the run (start-up included).
- **CPU**: CPU time of the trigger process (user + system) for the whole run, and as a share of
  one core during the full-load window and over the whole run.
- **RSS**: peak resident memory of the trigger process, and its growth over the process just
  before the triggers started (Airflow and the provider already imported).
- **Ready→event**: from the moment the emulator made a model Ready (its `last_updated_time`) to
  the trigger's event, over all N.
- **start-up**: from starting the N triggers until each has read its model once.
- **emulator CPU**: the emulator process's share of one core during the full-load window.
- **s between two reads of a model**: the poller's list period (coalesced), or the median period
  of one model's own status reads (per-model): the poll interval plus whatever the loop and the
  replies add, since a per-model trigger sleeps a whole interval after each reply.

{trigger_scale.format_table(scale)}

{_list_note(scale)}

## 2. The cost of one status call

{calls[0]["calls"]} sequential `GET /v0/models/{{id}}/status` calls per client, in rounds with the
order rotated, against the emulator in a separate process; over TLS with a certificate authority
made for the run (each client verifies against it). The hook is `TuneTheModelHook.get_model`
(pooled `requests.Session`, timeout, retry policy, size cap, decoding into a `ModelRecord`); the
vendor SDK is pointed at the emulator through `TTM_API_URL`.

{hook_call_cost.format_table(calls)}

{_sdk_ratio(calls)}

## 3. DAG parse cost

The import of the modules a DAG file needs, in a fresh interpreter that has already imported
`airflow` and `airflow.sdk` (as the DAG processor has), median of {_repeats(imports)} runs.
"New modules" counts every module the import added.

{import_cost.format_table(imports)}

{_import_note(imports)}

## 4. Event-loop stall of one poll of 10,000 models

Not run by `make bench`: measured by a test on 2026-12-01, on 2 CPUs shared with other work (load
average 1.7 to 3):

    .venv/bin/pytest -s tests/unit/triggers/test_large_lists.py -k 10000

20 coalesced waits on a local server answering a 2.3 MiB list of 10,000 models, 20 polls at a 0.1 s
interval; a task ticking every millisecond records the CPU time the event loop's thread spent
between two ticks (reading the body, decoding the JSON and indexing the list included). Goal: at
most 50 ms (issue 11, B4; it was 0.45 to 0.53 s). Measured: **14 to 27 ms** longest stall over six
runs (wall clock 13 to 46 ms). How: [`docs/scaling.md`](../docs/scaling.md#long-lists-the-event-loop-stays-free).
"""


def _deployment_section(readme: Path) -> str:
    """The section ``make bench-deployment`` wrote into the README, to keep as it is ("" if none)."""
    text = readme.read_text() if readme.exists() else ""
    if START_MARK not in text or END_MARK not in text:
        return ""
    return "\n" + START_MARK + text.split(START_MARK, 1)[1].split(END_MARK, 1)[0] + END_MARK + "\n"


def _list_note(scale: list[dict[str, Any]]) -> str:
    sizes = sorted(
        {(result["size"], result["list_reply_kb"]) for result in scale if result["mode"] == "coalesced"}
    )
    if not sizes:
        return ""
    shown = ", ".join(f"{kb:.1f} KB for {size}" for size, kb in sizes)
    return (
        f"A list reply carries every model of the key ({shown} models), parsed once per interval "
        "for all waiters together."
    )


def _import_note(imports: dict[str, Any]) -> str:
    ours = imports.get("TTM operators + sensor")
    if not ours:
        return ""
    absent = [name for name in import_cost.WATCHED if name not in ours["brought_in"] + ours["already_loaded"]]
    loaded = ", ".join(f"`{name}`" for name in ours["already_loaded"]) or "none"
    brought = ", ".join(f"`{name}`" for name in ours["brought_in"]) or "none"
    return (
        f"Of the modules watched, the TTM operators and sensor bring in {brought} (the hook's blocking "
        f"transport; Airflow's HTTP provider imports it too); {loaded} were already loaded by "
        f"`airflow.sdk`; and {', '.join(f'`{name}`' for name in absent)} stay out of a DAG file's "
        "process: the provider imports httpx, the emulator and the trigger's poller only where they "
        "are used."
    )


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def _repeats(imports: dict[str, Any]) -> int:
    return int(next(iter(imports.values()))["repeats"]) if imports else 0


def _find(scale: list[dict[str, Any]], size: int, mode: str) -> dict[str, Any] | None:
    for result in scale:
        if result["size"] == size and result["mode"] == mode:
            return result
    return None


def _client(calls: list[dict[str, Any]], scheme: str, name: str) -> float | None:
    for result in calls:
        if result["scheme"] == scheme:
            return float(result["clients"][name]["median_ms"])
    return None


def _sdk_ratio(calls: list[dict[str, Any]]) -> str:
    parts = []
    for scheme in hook_call_cost.SCHEMES:
        hook = _client(calls, scheme, hook_call_cost.HOOK)
        sdk = _client(calls, scheme, hook_call_cost.SDK)
        if hook and sdk:
            label = "TLS" if scheme == "https" else "plain HTTP"
            parts.append(
                f"over {label} the vendor SDK takes **{sdk / hook:.2f} times** the hook's time per call"
            )
    explanation = (
        "The SDK builds a new `requests.Session` (so a new connection, and over TLS a new handshake) "
        "for every call; the hook keeps one pooled session per hook."
    )
    return ("Median per call: " + "; ".join(parts) + ". " + explanation) if parts else ""


def _goals(
    scale: list[dict[str, Any]], calls: list[dict[str, Any]], imports: dict[str, Any], interval: float
) -> str:
    rows = ["| goal | measured | met |", "|---|---|---|"]

    def row(goal: str, measured: str, met: bool | None) -> None:
        rows.append(f"| {goal} | {measured} | {'n/a' if met is None else 'yes' if met else '**no**'} |")

    size = max((result["size"] for result in scale), default=0)
    coalesced, per_model = _find(scale, size, "coalesced"), _find(scale, size, "per-model")
    if coalesced and per_model:
        row(
            f"{size} waits on one connection: at most one list request per interval plus fallbacks",
            f"{coalesced['list_per_interval']:.2f} list + {coalesced['status_per_interval']:.2f} status "
            f"per interval (per-model polling: {per_model['requests_per_interval']:.0f})",
            coalesced["list_per_interval"] <= 1.05,
        )
        row(
            f"{size} waits: less than 100 MB extra RSS",
            f"+{coalesced['rss_extra_mb']:.1f} MB (per-model: +{per_model['rss_extra_mb']:.0f} MB)",
            coalesced["rss_extra_mb"] < 100,
        )
        row(
            f"{size} waits: less than 5 % of one core on average",
            f"{100 * coalesced['cpu_share_run']:.1f} % over the run, "
            f"{100 * coalesced['cpu_share_full_load']:.1f} % at full load "
            f"(per-model: {100 * per_model['cpu_share_run']:.0f} % / "
            f"{100 * per_model['cpu_share_full_load']:.0f} %)",
            coalesced["cpu_share_run"] < 0.05,
        )
    worst = max((result["delay_max_s"] for result in scale if result["mode"] == "coalesced"), default=None)
    if worst is not None:
        row(
            f"Ready→event at most one interval + 1 s ({interval + 1:g} s), coalesced, every N",
            f"max {worst:.2f} s",
            worst <= interval + 1,
        )
    for scheme in hook_call_cost.SCHEMES:
        hook = _client(calls, scheme, hook_call_cost.HOOK)
        pooled = _client(calls, scheme, hook_call_cost.POOLED)
        sdk = _client(calls, scheme, hook_call_cost.SDK)
        if hook and pooled and sdk:
            row(
                f"hook status call ({scheme}) at least as fast as a bare pooled requests.get, "
                "faster than the vendor SDK",
                f"median {hook:.2f} ms; pooled requests {pooled:.2f} ms; SDK {sdk:.2f} ms "
                f"(SDK ÷ hook = {sdk / hook:.2f})",
                hook <= pooled and hook < sdk,
            )
    ours, theirs = imports.get("TTM operators + sensor"), imports.get("HTTP operators + sensor")
    if ours and theirs:
        row(
            "importing the operator and sensor modules costs no more than Airflow's HTTP ones",
            f"{ours['median_ms']:.0f} ms against {theirs['median_ms']:.0f} ms",
            ours["median_ms"] <= theirs["median_ms"],
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
