"""Many deferred waits in one triggerer: coalesced status polling against per-model polling.

Runs N status triggers concurrently in one event loop, the way Airflow's triggerer runs them
(one task per trigger, each consuming the trigger's first event), against the emulator served by
a separate process. Once every trigger has read its model once, the models stay unready for two
poll intervals (the "full load" window: every trigger waiting), then turn Ready one after another
over three intervals. Each (N, mode) runs in a fresh process, so CPU time and peak RSS are its own.

    python benchmarks/trigger_scale.py                      # N = 1, 10, 100, 1000, both modes
    python benchmarks/trigger_scale.py --sizes 10 --interval 2
    python benchmarks/trigger_scale.py --one 100 --mode coalesced   # one run, JSON on stdout

Measured per run (trigger side only; the emulator's own CPU is not counted):
requests per poll interval during the full-load window, total requests, CPU seconds (and the
share of one core during the full-load window and over the whole run), peak RSS and the extra
RSS over the process before the triggers started, and the delay from a model turning Ready (its
``last_updated_time``, set by the emulator) to its trigger's event, median and max.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EmulatorProcess, isolated_airflow_home, median, raise_open_file_limit

CONN_ID = "ttm_bench"
LIST = "GET /v0/models"
STATUS = "GET /v0/models/{id}/status"
MODES = ("coalesced", "per-model")
FULL_LOAD_INTERVALS = 2
READY_SPREAD_INTERVALS = 3


def run_one(size: int, mode: str, interval: float) -> dict[str, Any]:
    """One run of ``size`` triggers in ``mode``, in this (fresh) process."""
    isolated_airflow_home()
    raise_open_file_limit()
    with EmulatorProcess() as emulator:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = emulator.connection_json()
        models = emulator.create_models(size)
        list_bytes = emulator.list_bytes()
        import psutil

        from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

        triggers = [
            TuneTheModelModelStatusTrigger(
                ttm_conn_id=CONN_ID,
                model_name=model_name,
                poll_interval=interval,
                deadline=time.time() + 3600,
                coalesce=mode == "coalesced",
            )
            for model_name in models
        ]
        gc.collect()
        baseline_rss = psutil.Process().memory_info().rss
        result = asyncio.run(_drive(emulator, triggers, mode, interval))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result.update(
        size=size,
        mode=mode,
        interval=interval,
        rss_baseline_mb=baseline_rss / 2**20,
        rss_peak_mb=peak_rss / 2**20,
        rss_extra_mb=(peak_rss - baseline_rss) / 2**20,
        list_reply_kb=list_bytes / 1024,
    )
    return result


async def _drive(
    emulator: EmulatorProcess, triggers: list[Any], mode: str, interval: float
) -> dict[str, Any]:
    size = len(triggers)
    events: dict[str, tuple[float, dict[str, Any]]] = {}

    async def run_trigger(trigger: Any) -> None:
        """What the triggerer does with a task's trigger: take its first event, then close it."""
        stream = trigger.run()
        try:
            event = await stream.__anext__()
            events[trigger.model_name] = (time.time(), event.payload)
        finally:
            await stream.aclose()

    import psutil

    server = psutil.Process(emulator.pid)
    start_counters = emulator.counters()
    start_cpu, start_wall = time.process_time(), time.monotonic()
    tasks = [asyncio.create_task(run_trigger(trigger)) for trigger in triggers]

    await _until_every_trigger_read_once(emulator, mode, size, start_counters)
    warm_counters, warm_cpu, warm_wall = emulator.counters(), time.process_time(), time.monotonic()
    warm_server_cpu = _cpu_seconds(server)
    warm_at = time.time()
    ready_from = warm_at + FULL_LOAD_INTERVALS * interval
    spread = READY_SPREAD_INTERVALS * interval
    ready_at = {
        trigger.model_name: ready_from + spread * index / size for index, trigger in enumerate(triggers)
    }
    emulator.turn_ready_at(list(ready_at.items()))

    await asyncio.sleep(FULL_LOAD_INTERVALS * interval)
    full_counters, full_cpu, full_wall = emulator.counters(), time.process_time(), time.monotonic()
    full_server_cpu = _cpu_seconds(server)

    _, pending = await asyncio.wait(tasks, timeout=spread + 10 * interval + 60)
    for task in pending:
        task.cancel()
    end_counters, end_cpu, end_wall = emulator.counters(), time.process_time(), time.monotonic()

    delays = []
    for received_at, payload in events.values():
        if payload.get("status") == "success":
            turned_ready = datetime.datetime.fromisoformat(payload["model"]["last_updated_time"])
            delays.append(received_at - turned_ready.timestamp())
    full_window = full_wall - warm_wall
    lists, statuses, status_gap = _reads_per_interval(emulator.reads(), warm_at, ready_at, interval)
    return {
        "events": len(events),
        "succeeded": len(delays),
        "pending": len(pending),
        "startup_s": warm_wall - start_wall,
        "list_per_interval": lists,
        "status_per_interval": statuses,
        "requests_per_interval": lists + statuses,
        "status_gap_median_s": status_gap,
        "requests_full_load_window": sum(full_counters.values()) - sum(warm_counters.values()),
        "total_requests": sum(end_counters.values()) - sum(start_counters.values()),
        "total_list": end_counters.get(LIST, 0) - start_counters.get(LIST, 0),
        "total_status": end_counters.get(STATUS, 0) - start_counters.get(STATUS, 0),
        "cpu_s": end_cpu - start_cpu,
        "wall_s": end_wall - start_wall,
        "cpu_share_run": (end_cpu - start_cpu) / (end_wall - start_wall),
        "cpu_share_full_load": (full_cpu - warm_cpu) / full_window,
        "emulator_cpu_share_full_load": (full_server_cpu - warm_server_cpu) / full_window,
        "delay_median_s": median(delays),
        "delay_max_s": max(delays, default=0.0),
    }


def _reads_per_interval(
    reads: list[tuple[float, str]], warm_at: float, ready_at: dict[str, float], interval: float
) -> tuple[float, float, float]:
    """List and status requests per poll interval while every model waits, from their timing.

    Each source (the poller's list, or one model's own status reads) is timed between the end of
    the warm-up and the moment its model (for the list: the last model) turned Ready; its rate is
    one interval over its mean gap between two reads. Counting requests in a fixed window instead
    would be off by a whole round when the reads come in bursts (per-model triggers started
    together poll together).
    """
    last_ready = max(ready_at.values(), default=warm_at)
    times: dict[str, list[float]] = {}
    for at, source in reads:
        ends = last_ready if source == "list" else ready_at.get(source, warm_at)
        if warm_at <= at <= ends:
            times.setdefault(source, []).append(at)
    rates = {
        source: interval * (len(moments) - 1) / (moments[-1] - moments[0])
        for source, moments in times.items()
        if len(moments) >= 2 and moments[-1] > moments[0]
    }
    lists = rates.pop("list", 0.0)
    return lists, sum(rates.values()), median([interval / rate for rate in rates.values()])


def _cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _until_every_trigger_read_once(
    emulator: EmulatorProcess, mode: str, size: int, start: dict[str, int]
) -> None:
    """Per-model: N status requests went out. Coalesced: a list went out after all N joined."""
    from airflow_provider_ttm.triggers.poller import active_pollers

    lists_when_all_joined = None
    while True:
        await asyncio.sleep(0.05)
        counters = emulator.counters()
        if mode == "per-model":
            if counters.get(STATUS, 0) - start.get(STATUS, 0) >= size:
                return
            continue
        waiting = sum(len(poller.waiters) for poller in active_pollers())
        if lists_when_all_joined is None and waiting >= size:
            lists_when_all_joined = counters.get(LIST, 0)
        elif lists_when_all_joined is not None and counters.get(LIST, 0) > lists_when_all_joined:
            return


def run_all(sizes: list[int], interval: float, log: Any = sys.stderr) -> list[dict[str, Any]]:
    """Every (size, mode) in its own process; the results in order."""
    results = []
    for size in sizes:
        for mode in MODES:
            started = time.monotonic()
            completed = subprocess.run(
                [sys.executable, __file__, "--one", str(size), "--mode", mode, "--interval", str(interval)],
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"run N={size} {mode} failed:\n{completed.stderr[-4000:]}")
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            results.append(result)
            print(
                f"  N={size:<5} {mode:<10} {result['requests_per_interval']:8.1f} req/interval  "
                f"cpu {result['cpu_s']:6.2f} s  +{result['rss_extra_mb']:6.1f} MB  "
                f"delay {result['delay_median_s']:.2f}/{result['delay_max_s']:.2f} s  "
                f"({time.monotonic() - started:.0f} s)",
                file=log,
                flush=True,
            )
    return results


def format_table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, coalesced and per-model side by side for each N."""
    lines = [
        "| N | mode | requests / interval (list + status) | total requests | CPU s (run) | CPU, full load | "
        "CPU, whole run | peak RSS MB | extra RSS MB | Ready→event median s | max s | start-up s | "
        "emulator CPU, full load | s between two reads of a model |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']} | {r['mode']} | {r['requests_per_interval']:.1f} "
            f"({r['list_per_interval']:.1f} + {r['status_per_interval']:.1f}) | {r['total_requests']} | "
            f"{r['cpu_s']:.2f} | {100 * r['cpu_share_full_load']:.1f} % | {100 * r['cpu_share_run']:.1f} % | "
            f"{r['rss_peak_mb']:.0f} | {r['rss_extra_mb']:.1f} | {r['delay_median_s']:.2f} | "
            f"{r['delay_max_s']:.2f} | {r['startup_s']:.1f} | "
            f"{100 * r['emulator_cpu_share_full_load']:.1f} % | {_gap(r):.2f} |"
        )
    return "\n".join(lines)


def _gap(result: dict[str, Any]) -> float:
    """Seconds between two reads of one model: the list's period, or the per-model polls' (median)."""
    if result["mode"] == "coalesced":
        lists = result["list_per_interval"]
        return float(result["interval"] / lists) if lists else 0.0
    return float(result["status_gap_median_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--interval", type=float, default=3.0, help="poll interval, seconds")
    parser.add_argument("--one", type=int, help="run one size in this process and print JSON")
    parser.add_argument("--mode", choices=MODES, default="coalesced")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.mode, args.interval)))
        return 0
    results = run_all(args.sizes, args.interval)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
