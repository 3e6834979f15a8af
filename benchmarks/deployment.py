"""Deferred waits in a real distributed deployment: coalesced against per-model polling (``make bench-deployment``).

The deployment is the distributed end-to-end harness (``tests/e2e/distributed.py``): PostgreSQL,
Redis, CeleryExecutor with two workers, two triggerers, scheduler, dag-processor and api-server,
all on loopback. The emulator runs in a process of its own (``_common.EmulatorProcess``), which
notes the time of every list and status request. For each N and mode, one DAG run maps a task
group over N models, each a deferrable ``TuneTheModelModelReadySensor`` followed by a task
(``after``). Once all N waits are deferred in the triggerers, a measuring window of a few poll
intervals records the API requests, the triggerers' CPU and RSS and the database's load; then the
models turn Ready one after another and each ``after`` task's start is timed from its model's Ready.

    python benchmarks/deployment.py                          # N = 10, 100, 1000, both modes, ~1 h
    python benchmarks/deployment.py --waits 20 --output /tmp/bench.md --plot /tmp/bench.png
    python benchmarks/deployment.py --from-json benchmarks/deployment.json   # rewrite README and plot

The in-process figures for the same N (or ``--in-process-waits``) and interval come from
``trigger_scale.run_all``, run once the deployment has stopped. The results go into ``--json``, the deployment section of
``--output`` (between its markers; ``run_all.py`` keeps that section) and the plot ``--plot``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The harness is the package ``e2e`` under tests/, as pytest imports it (a ``tests`` package of
# some installed distribution would shadow ``tests.e2e``).
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

import trigger_scale
from _common import API_KEY, EmulatorProcess, isolated_airflow_home, machine, median, raise_open_file_limit

HERE = Path(__file__).resolve().parent
MODES = ("coalesced", "per-model")
CONN_ID = "ttm_default"
LIST = "list"
START_MARK = "<!-- deployment benchmark: start (written by benchmarks/deployment.py) -->"
END_MARK = "<!-- deployment benchmark: end -->"
SAMPLE_SECONDS = 1.0

DAG_SOURCE = textwrap.dedent(
    """
    from datetime import datetime

    from airflow.providers.common.compat.sdk import DAG, task, task_group

    from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor

    for mode, coalesce in (("coalesced", True), ("per_model", False)):
        with DAG(f"ttm_bench_waits_{{mode}}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):

            @task
            def models(dag_run=None):
                return dag_run.conf["models"]

            @task
            def after(name):
                return name

            @task_group
            def one(name):
                # The model's id as a template: the sensor refuses a task group's mapped argument
                # when the DAG is parsed (it takes only literal ids, templates and XComArgs).
                wait = TuneTheModelModelReadySensor(
                    task_id="wait",
                    model_name="{{{{ dag_run.conf['models'][ti.map_index] }}}}",
                    deferrable=True,
                    coalesce=coalesce,
                    poke_interval={interval},
                    timeout=7200,
                    retries=0,
                )
                wait >> after(name)

            one.expand(name=models())
    """
)


def dag_id(mode: str) -> str:
    return f"ttm_bench_waits_{mode.replace('-', '_')}"


# --- sampling -----------------------------------------------------------------------------------


def _cpu_and_rss(pids: list[int]) -> tuple[float, float]:
    """CPU seconds (user + system) and RSS in MB, summed over ``pids`` (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = rss = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


class Sampler:
    """Every second: the triggerers' CPU and RSS, and the database's connections (a thread).

    :param deployment: the running deployment.
    :param database: an open psycopg2 connection (autocommit) to Airflow's database.
    """

    def __init__(self, deployment: Any, database: Any) -> None:
        from e2e.distributed import TRIGGERERS

        self._deployment = deployment
        self._database = database
        self.names = TRIGGERERS
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, Any]:
        pids = self._deployment.component_pids()
        sample: dict[str, Any] = {"at": time.time()}
        for name in self.names:
            sample[name] = _cpu_and_rss(pids.get(name, []))
        with self._database.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            sample["connections"], sample["active"] = cursor.fetchone()
        return sample

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.samples.append(self.sample())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def between(self, start: float, end: float) -> list[dict[str, Any]]:
        return [s for s in self.samples if start <= s["at"] <= end]


def database_counters(database: Any) -> dict[str, float]:
    """Cumulative transaction and row counters of Airflow's database (``pg_stat_database``)."""
    with database.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, "
            "tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"
        )
        xacts, returned, fetched, written = cursor.fetchone()
    return {"at": time.time(), "xacts": xacts, "returned": returned, "fetched": fetched, "written": written}


def query(database: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# --- one run ---------------------------------------------------------------------------------------


def wait_until(what: str, timeout: float, probe: Any, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def holders(database: Any, dag: str, run_id: str) -> dict[str, int]:
    """Triggerer hostname -> deferred waits of the run whose trigger it runs."""
    rows = query(
        database,
        "SELECT j.hostname, count(*) FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
        "JOIN job j ON t.triggerer_id = j.id WHERE ti.dag_id = %s AND ti.run_id = %s "
        "AND ti.task_id = 'one.wait' AND ti.state = 'deferred' GROUP BY j.hostname",
        dag,
        run_id,
    )
    return {str(name): int(count) for name, count in rows}


def triggers_left(database: Any) -> int:
    """Triggers still in the database (a run's waits are gone once this is 0)."""
    return int(query(database, "SELECT count(*) FROM trigger")[0][0])


def run_one(
    deployment: Any,
    emulator: EmulatorProcess,
    database: Any,
    sampler: Sampler,
    size: int,
    mode: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One DAG run of ``size`` waits in ``mode``; the measures.

    The waits are measured at full load; then ``args.latency_sample`` of them (evenly spread over
    the map indexes) turn Ready one after another, and once their ``after`` tasks ran, the run is
    marked failed, which ends the other waits without a worker (their triggers are dropped).
    """
    interval = args.interval
    wait_until("the last run's triggers to go", 300, lambda: triggers_left(database) == 0)
    emulator.reset()
    names = emulator.create_models(size)
    dag = dag_id(mode)
    baseline = sampler.sample()
    triggered = time.time()
    run_id = deployment.client.trigger(dag, conf={"models": names})["dag_run_id"]

    held = wait_until(
        f"{size} waits deferred in triggerers",
        300 + 5 * size,
        lambda: (h := holders(database, dag, run_id)) and sum(h.values()) == size and h,
    )
    all_deferred = time.time()
    # One more interval, so every trigger has started polling, then the measuring window.
    time.sleep(interval)
    start_db, start = database_counters(database), sampler.sample()
    time.sleep(args.window_intervals * interval)
    end_db, end = database_counters(database), sampler.sample()
    window = end["at"] - start["at"]
    reads = emulator.reads()

    sample = sorted(
        {round(i * size / min(size, args.latency_sample)) for i in range(min(size, args.latency_sample))}
    )
    spread = max(args.ready_spread_intervals * interval, len(sample) / args.ready_rate)
    ready_from = time.time() + 1
    ready_at = {names[index]: ready_from + spread * rank / len(sample) for rank, index in enumerate(sample)}
    emulator.turn_ready_at(list(ready_at.items()))

    def sample_done() -> dict[int, tuple[Any, ...]] | None:
        rows = query(
            database,
            "SELECT task_id, map_index, state, start_date, end_date FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s AND task_id IN ('one.wait', 'one.after') "
            "AND map_index = ANY(%s)",
            dag,
            run_id,
            sample,
        )
        after = {row[1]: row for row in rows if row[0] == "one.after" and row[2] in ("success", "failed")}
        return {(row[0], row[1]): row for row in rows} if len(after) == len(sample) else None

    rows = wait_until("the sample's after tasks", spread + 300 + 10 * len(sample), sample_done)
    finished = time.time()
    if len(sample) < size:
        deployment.client.request(
            "PATCH", f"dags/{dag}/dagRuns/{quote(run_id, safe='')}", json={"state": "failed"}
        ).raise_for_status()
    run = wait_until(
        "the run to end",
        300,
        lambda: (r := deployment.client.get_run(dag, run_id))["state"] in ("success", "failed") and r,
    )

    latencies, wait_ends = [], []
    for index in sample:
        ready = ready_at[names[index]]
        after, wait = rows.get(("one.after", index)), rows.get(("one.wait", index))
        if after and after[2] == "success" and after[3] is not None:
            latencies.append(after[3].timestamp() - ready)
        if wait and wait[2] == "success" and wait[4] is not None:
            wait_ends.append(wait[4].timestamp() - ready)
    in_window = [source for at, source in reads if start["at"] <= at <= end["at"]]
    lists = sum(1 for source in in_window if source == LIST)
    statuses = len(in_window) - lists
    rounds = window / interval
    window_samples = sampler.between(start["at"], end["at"])
    triggerers = {
        name: {
            "waits": held.get(name, 0),
            "cpu_share": (end[name][0] - start[name][0]) / window,
            "rss_mb": max((s[name][1] for s in window_samples), default=end[name][1]),
            "rss_before_mb": baseline[name][1],
        }
        for name in sampler.names
    }
    return {
        "size": size,
        "mode": mode,
        "interval": interval,
        "run_state": run["state"],
        "holders": held,
        "capacity": args.capacity,
        "defer_s": all_deferred - triggered,
        "window_s": window,
        "list_per_interval": lists / rounds,
        "status_per_interval": statuses / rounds,
        "requests_per_interval": (lists + statuses) / rounds,
        "requests_until_window_end": sum(1 for at, _ in reads if at <= end["at"]),
        "triggerers": triggerers,
        "triggerer_cpu_share": sum(t["cpu_share"] for t in triggerers.values()),
        "triggerer_rss_mb": sum(t["rss_mb"] for t in triggerers.values()),
        "triggerer_rss_extra_mb": sum(t["rss_mb"] - t["rss_before_mb"] for t in triggerers.values()),
        **database_rates(start_db, end_db, window_samples),
        "latency_sample": len(sample),
        "ready_spread_s": spread,
        "latency_count": len(latencies),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "wait_end_p50_s": percentile(wait_ends, 50),
        "wait_end_p95_s": percentile(wait_ends, 95),
        "run_s": finished - triggered,
    }


def database_rates(
    start: dict[str, float], end: dict[str, float], samples: list[dict[str, Any]]
) -> dict[str, float]:
    """The database's load between two :func:`database_counters` readings, and its connections."""
    seconds = end["at"] - start["at"]
    return {
        "db_xacts_per_s": (end["xacts"] - start["xacts"]) / seconds,
        "db_rows_read_per_s": (end["returned"] - start["returned"]) / seconds,
        "db_rows_fetched_per_s": (end["fetched"] - start["fetched"]) / seconds,
        "db_rows_written_per_s": (end["written"] - start["written"]) / seconds,
        "db_connections": median([float(s["connections"]) for s in samples]),
        "db_active": max((int(s["active"]) for s in samples), default=0),
    }


def idle_window(database: Any, sampler: Sampler, seconds: float) -> dict[str, Any]:
    """The database's load and the triggerers' CPU and RSS with no wait at all, for comparison."""
    start_db, start = database_counters(database), sampler.sample()
    time.sleep(seconds)
    end_db, end = database_counters(database), sampler.sample()
    window = end["at"] - start["at"]
    return {
        "window_s": window,
        "triggerer_cpu_share": sum((end[n][0] - start[n][0]) / window for n in sampler.names),
        "triggerer_rss_mb": sum(end[n][1] for n in sampler.names),
        **database_rates(start_db, end_db, sampler.between(start["at"], end["at"])),
    }


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank; 0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


@contextmanager
def deployment_running(emulator: EmulatorProcess, args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """The distributed deployment with the benchmark DAGs and ``ttm_default``; and a DB connection."""
    import psycopg2
    from e2e.distributed import DistributedDeployment

    extra_env = {
        # Airflow's default capacity instead of the test's 25 (which makes both triggerers hold waits).
        "AIRFLOW__TRIGGERER__CAPACITY": str(args.capacity),
        "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(1024, *args.waits)),
    }
    with DistributedDeployment(extra_env=extra_env, start_timeout=600) as deployment:
        assert deployment.postgres is not None
        database = psycopg2.connect(
            deployment.postgres.url("airflow").replace("postgresql+psycopg2", "postgresql")
        )
        database.autocommit = True
        try:
            deployment.client.create_connection(CONN_ID, "ttm", host=emulator.url, password=API_KEY)
            deployment.add_dag_file("ttm_bench_waits.py", DAG_SOURCE.format(interval=args.interval))
            for mode in MODES:
                deployment.client.wait_for_dag(dag_id(mode), timeout=300)
                deployment.client.unpause(dag_id(mode))
            yield deployment, database
        finally:
            database.close()


def measure(args: argparse.Namespace, save: Any) -> dict[str, Any]:
    """The in-process runs, then a warm-up and every (N, mode) in one deployment; ``save`` is called
    with the results after each run, so that an interrupted benchmark keeps what it measured."""
    started, load_before = time.monotonic(), os.getloadavg()
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/deployment.py", *map(shlex.quote, sys.argv[1:])]),
        "machine": machine(),
        "interval": args.interval,
        "window_intervals": args.window_intervals,
        "capacity": args.capacity,
        "ready_rate": args.ready_rate,
        "latency_sample": args.latency_sample,
        "deployment": [],
        "in_process": [],
    }

    def note(**changes: Any) -> None:
        results.update(changes, load=[load_before, os.getloadavg()], duration_s=time.monotonic() - started)
        save(results)

    print("deployment:", file=sys.stderr, flush=True)
    with (
        EmulatorProcess() as emulator,
        deployment_running(emulator, args) as (deployment, database),
        Sampler(deployment, database) as sampler,
    ):
        for mode in MODES:  # every component has loaded what a wait needs before anything is measured
            run_one(deployment, emulator, database, sampler, 2, mode, args)
        note(idle=idle_window(database, sampler, args.window_intervals * args.interval))
        print(f"  idle: {json.dumps(results['idle'])}", file=sys.stderr, flush=True)
        for size in args.waits:
            for mode in MODES:
                result = run_one(deployment, emulator, database, sampler, size, mode, args)
                note(deployment=[*results["deployment"], result])
                print(f"  {json.dumps(result)}", file=sys.stderr, flush=True)
    if args.in_process_waits:
        print("in process (trigger_scale):", file=sys.stderr, flush=True)
        note(in_process=trigger_scale.run_all(args.in_process_waits, args.interval))
    return results


# --- report -----------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> None:
    """Requests per poll interval against N, both modes, in process and in the deployment (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 5), dpi=110)
    series = [
        ("deployment", "coalesced", "tab:blue", "-", "o"),
        ("deployment", "per-model", "tab:red", "-", "o"),
        ("in_process", "coalesced", "tab:blue", "--", "s"),
        ("in_process", "per-model", "tab:red", "--", "s"),
    ]
    for where, mode, color, style, marker in series:
        points = sorted((r["size"], r["requests_per_interval"]) for r in results[where] if r["mode"] == mode)
        if points:
            label = f"{mode}, {'deployment' if where == 'deployment' else 'in process (one event loop)'}"
            axes.plot(*zip(*points, strict=True), style, color=color, marker=marker, label=label)
    sizes = sorted({r["size"] for where in ("deployment", "in_process") for r in results[where]})
    if sizes:
        axes.plot(sizes, sizes, ":", color="grey", label="one request per wait")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.minorticks_off()
    axes.set_xlabel("deferred waits N")
    axes.set_ylabel(f"API requests per poll interval ({results['interval']:g} s)")
    axes.set_title("Requests per poll interval against the number of waits")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def render(results: dict[str, Any], plot_path: str) -> str:
    """The deployment section of benchmarks/README.md, between its markers."""
    info = results["machine"]
    load_before, load_after = results["load"]
    interval = results["interval"]
    commands = ", then ".join(f"`{command}`" for command in results.get("commands", [results["command"]]))
    if "merged_by" in results:
        commands += f", merged by `{results['merged_by']}`"
    capacities = sorted({run.get("capacity", results["capacity"]) for run in results["deployment"]})
    lines = [
        START_MARK,
        "## 5. Deferred waits in a real distributed deployment",
        "",
        f"Written by `make bench-deployment` ({commands}) on {info['date']}, in "
        f"{results['duration_s'] / 60:.0f} minutes, on {info['cpus']} CPUs shared with other work "
        f"(load average before {_load(load_before)}, after {_load(load_after)}). Apache Airflow "
        f"{info['airflow']}. Every figure below was measured by these commands; `benchmarks/deployment.json` holds them all.",
        "",
        "The deployment of `tests/e2e/distributed.py`: PostgreSQL, Redis, CeleryExecutor with two "
        "workers (4 slots each), two triggerers, scheduler, dag-processor and api-server, on loopback; "
        f"`[triggerer] capacity` {' or '.join(map(str, capacities))} each (half the largest N of "
        "the command, so that both hold waits; Airflow's default is 1000), "
        "`ttm_default` in Airflow's database. One DAG run maps a task group over N models: a "
        f"deferrable `TuneTheModelModelReadySensor` (`poke_interval={interval:g}`, `coalesce=True` or "
        "`False`) followed by a task `after`. The emulator (its own process) notes the time of every "
        "request. Before the runs, one run of 2 waits in each mode warms every component up.",
        "",
        f"- **requests / interval**: API requests in a window of {results['window_intervals']} poll "
        "intervals while all N waits are deferred (it starts one interval after the last one was), "
        "divided by the number of intervals; split as list + status.",
        "- **waits per triggerer**: where Airflow put the N triggers.",
        "- **triggerer CPU**: CPU time of both triggerers' processes (each triggerer's supervisor and "
        "its trigger runner, from `/proc/<pid>/stat`) over the window, as a share of one core. "
        "**RSS**: their resident memory summed (shared pages counted in each process), the most in "
        "the window, and its growth over the same processes just before the run.",
        "- **database**: `pg_stat_database` deltas of Airflow's database over the window "
        "(transactions, rows read by scans, rows written), per second; connections to it "
        "from `pg_stat_activity` (median of 1 s samples; the most active at once).",
        f"- **Ready → `after` start**: for {results.get('latency_sample', 20)} waits of each run (all "
        "when N is smaller, spread over the map indexes), from the moment the emulator made the "
        "model Ready to the start of that model's `after` task (`task_instance.start_date`): the "
        "trigger's poll, its event, the sensor resuming on a worker, the scheduler queueing `after`, "
        f"a worker starting it. They turn Ready one after another, at most {results['ready_rate']:g} "
        "a second (at least 3 intervals apart from first to last). **Ready → wait ends**: to the "
        "sensor task's `end_date`. Then the run is marked failed (REST API), which ends the other "
        "waits without a worker; the next run starts once their triggers are gone.",
        "- **defer s**: from triggering the run until all N waits were deferred in a triggerer "
        "(each wait starts on a worker first: this is the workers' throughput).",
        "",
        "| N | mode | requests / interval (list + status) | waits per triggerer (capacity) | triggerer CPU | "
        "triggerer RSS MB (growth) | DB transactions / s | DB rows read / s | DB rows written / s | "
        "DB connections (active) | Ready → `after` start p50 / p95 s | Ready → wait ends p50 / p95 s | "
        "defer s |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for capacity, idle in results.get("idles", [[results["capacity"], results.get("idle")]]):
        if idle:
            lines.append(
                f"| 0 | idle | 0 | - ({capacity}) | {100 * idle['triggerer_cpu_share']:.1f} % | "
                f"{idle['triggerer_rss_mb']:.0f} | {idle['db_xacts_per_s']:.1f} | {idle['db_rows_read_per_s']:.0f} | "
                f"{idle['db_rows_written_per_s']:.1f} | {idle['db_connections']:.0f} ({idle['db_active']}) | "
                "- | - | - |"
            )
    for r in results["deployment"]:
        spread = ", ".join(
            f"{name.removeprefix('triggerer-')}: {count}" for name, count in sorted(r["holders"].items())
        )
        lines.append(
            f"| {r['size']} | {r['mode']} | {r['requests_per_interval']:.1f} "
            f"({r['list_per_interval']:.1f} + {r['status_per_interval']:.1f}) | "
            f"{spread} ({r.get('capacity', results['capacity'])}) | "
            f"{100 * r['triggerer_cpu_share']:.1f} % | {r['triggerer_rss_mb']:.0f} "
            f"({r['triggerer_rss_extra_mb']:+.0f}) | {r['db_xacts_per_s']:.1f} | {r['db_rows_read_per_s']:.0f} | "
            f"{r['db_rows_written_per_s']:.1f} | {r['db_connections']:.0f} ({r['db_active']}) | "
            f"{r['latency_p50_s']:.1f} / {r['latency_p95_s']:.1f} | {r['wait_end_p50_s']:.1f} / "
            f"{r['wait_end_p95_s']:.1f} | {r['defer_s']:.0f} |"
        )
    lines += [
        "",
        f"![API requests per poll interval against N]({plot_path})",
        "",
        "The plot: requests per poll interval against N, both modes, in the deployment (the table "
        "above) and in process (section 1's method, `trigger_scale.run_all`, run by the same command "
        "with the same interval, after the deployment stopped):",
        "",
        trigger_scale.format_table(results["in_process"]) if results["in_process"] else "(not run)",
        END_MARK,
    ]
    return "\n".join(lines) + "\n"


def _load(values: list[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def write_section(readme: Path, section: str) -> None:
    """Replace the deployment section of ``readme`` (or append it)."""
    text = readme.read_text() if readme.exists() else ""
    if START_MARK in text and END_MARK in text:
        before, rest = text.split(START_MARK, 1)
        after = rest.split(END_MARK, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)


def merge(paths: list[str]) -> dict[str, Any]:
    """The results of several invocations (``--json`` files) as one, the runs in order of N."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    merged = dict(parts[0])
    merged["commands"] = [command for part in parts for command in part.get("commands", [part["command"]])]
    if len(parts) > 1:
        merged["merged_by"] = " ".join(
            ["python", "benchmarks/deployment.py", *map(shlex.quote, sys.argv[1:])]
        )
    runs = [
        dict(run, capacity=run.get("capacity", part["capacity"]))
        for part in parts
        for run in part["deployment"]
    ]
    merged["deployment"] = sorted(runs, key=lambda run: (run["size"], MODES.index(run["mode"])))
    in_process = [run for part in parts for run in part["in_process"]]
    merged["in_process"] = sorted(in_process, key=lambda run: (run["size"], MODES.index(run["mode"])))
    merged["idles"] = [
        idle for part in parts for idle in part.get("idles", [[part["capacity"], part.get("idle")]])
    ]
    merged["duration_s"] = sum(part["duration_s"] for part in parts)
    merged["load"] = [parts[0]["load"][0], parts[-1]["load"][1]]
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, nargs="+", default=[10, 100, 1000], help="the Ns to run")
    parser.add_argument("--interval", type=float, default=5.0, help="the sensors' poke_interval, s")
    parser.add_argument(
        "--window-intervals", type=int, default=6, help="poll intervals measured at full load"
    )
    parser.add_argument(
        "--latency-sample", type=int, default=20, help="waits per run whose Ready -> after start is timed"
    )
    parser.add_argument(
        "--ready-rate", type=float, default=0.25, help="sample models turned Ready per second, at most"
    )
    parser.add_argument(
        "--ready-spread-intervals",
        type=float,
        default=3.0,
        help="the Ready times span at least this many intervals",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        help="[triggerer] capacity of each; default: half the largest N, so both hold waits",
    )
    parser.add_argument(
        "--in-process-waits", type=int, nargs="*", help="the Ns run in process (default: --waits; none: skip)"
    )
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="rewrite the section and plot from these results (several: merged into --json); measure nothing",
    )
    parser.add_argument("--json", default=str(HERE / "deployment.json"), help="write the results here")
    parser.add_argument("--output", default=str(HERE / "README.md"))
    parser.add_argument("--plot", default=str(HERE / "deployment.png"))
    args = parser.parse_args()

    if args.from_json:
        results = merge(args.from_json)
        if len(args.from_json) > 1:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    else:
        isolated_airflow_home()
        raise_open_file_limit()
        if args.in_process_waits is None:
            args.in_process_waits = args.waits
        args.capacity = args.capacity or -(-max(args.waits) // 2)
        results = measure(
            args, lambda results: Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        )
    plot_path = Path(args.plot)
    plot(results, plot_path)
    output = Path(args.output)
    link = os.path.relpath(plot_path, output.parent)
    write_section(output, render(results, link))
    print(f"wrote {args.output}, {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
