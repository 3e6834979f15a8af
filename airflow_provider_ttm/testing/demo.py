"""Run DAGs end to end in a real Airflow against the bundled emulator, offline.

``python -m airflow_provider_ttm.testing.demo --dags-folder dags example_ttm_model_lifecycle`` starts
the emulator on loopback, points ``ttm_default`` at it, migrates a throwaway SQLite Airflow home,
runs the DAGs side by side with ``airflow dags test`` (each on its own copy of the migrated SQLite
database), prints what the provider did in each (models created, each status change with its time,
deletions) and exits non-zero if a DAG failed or a model was left behind.

``--asset-triggered CONSUMER=PRODUCER`` adds a second act: once PRODUCER is done, Airflow's
scheduler runs on PRODUCER's database (see :mod:`airflow_provider_ttm.testing.asset_triggered`)
and must start CONSUMER from PRODUCER's asset events; the models those events announced were kept
for CONSUMER, and are deleted after it.

Every process the demo starts ends with it, however it ends (Ctrl-C, SIGTERM, a crash, even SIGKILL:
:mod:`airflow_provider_ttm.testing.lifetime`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.assets import model_id_from_uri
from airflow_provider_ttm.testing.asset_triggered import (
    SchedulerStage,
    TriggeredRun,
    provider_log_lines,
    wait_for_run,
)
from airflow_provider_ttm.testing.lifetime import (
    die_with_parent,
    interrupt_on_terminate,
    start_guarded,
    stop_group,
)

_PROVIDER_LINE = re.compile(
    r"^(?P<time>\S+)\s+\[\w+\s*\]\s+(?P<message>.*?)\s+\[(?P<logger>[^\]]*airflow_provider_ttm[^\]]*)\]"
)
DEMO_API_KEY = "ttm-demo-key-0123456789"
_STOP_SECONDS = 15.0  # a DAG run still running at the end (the demo was stopped) gets SIGKILL after this
#: What the demo's asset-triggered run must be (Airflow 3; the demo runs on the default line).
ASSET_TRIGGERED = "asset_triggered"


def main(argv: list[str] | None = None) -> int:
    """Run the DAGs named on the command line; return the process exit code."""
    args = _parse_args(argv)
    interrupt_on_terminate()
    home = Path(tempfile.mkdtemp(prefix="ttm-demo-airflow-home-"))
    env = _airflow_env(home, args.dags_folder.resolve(), args.poke_interval)
    from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(
        api_keys=(DEMO_API_KEY,), auto_train_seconds=args.auto_train, train_seconds=args.train_seconds
    )
    runs: list[_DagRun] = []
    stage: SchedulerStage | None = None
    with EmulatorServer(config) as emulator:
        print(f"Emulator of the Tune The Model API at {emulator.url}; Airflow home {home}")
        env["AIRFLOW_CONN_TTM_DEFAULT"] = emulator.conn_json
        try:
            _airflow(["db", "migrate"], env, home / "db-migrate.log")
            confs = dict(item.split("=", 1) for item in args.conf)
            for dag_id in args.dag_ids:
                runs.append(_start_dag(dag_id, env, home, confs.get(dag_id)))
            consumer, _, producer = (args.asset_triggered or "").partition("=")
            if producer:
                stage = SchedulerStage(_dag_env(env, home, producer), home, args.scheduler_timeout)
            # The scheduler starts as soon as the producer is done, while the other DAGs still run.
            _wait_all(runs, lambda run: _on_finished(run, stage, producer))
            failures = [run.dag_id for run in runs if not _report(run)]
            if stage and not _second_act(stage, home, consumer, producer, emulator.url):
                failures.append(consumer)
        finally:  # also on Ctrl-C or SIGTERM: nothing the demo started outlives it
            if stage is not None:
                stage.stop()
            for run in runs:
                stop_group(run.process, _STOP_SECONDS)
        leftovers = emulator.control.models()
    if leftovers:
        print(
            f"FAILED: {len(leftovers)} model(s) left in the emulator: {[m['model_name'] for m in leftovers]}"
        )
    if failures:
        print(f"FAILED: {', '.join(failures)} (full logs under {home})")
    if failures or leftovers:
        return 1
    print(
        f"All {len(args.dag_ids) + bool(args.asset_triggered)} DAG(s) succeeded and no model was left behind."
    )
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dag_ids", nargs="+", help="ids of the DAGs to run (side by side; reported in order)")
    parser.add_argument("--dags-folder", type=Path, default=Path("dags"), help="folder holding the DAG files")
    parser.add_argument(
        "--auto-train", type=float, default=5.0, help="seconds a bare created model takes to be Ready"
    )
    parser.add_argument("--train-seconds", type=float, default=5.0, help="seconds a requested fit takes")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="DAG_ID=JSON",
        help="run configuration of one DAG, e.g. 'my_dag={\"keep\": false}' (repeatable)",
    )
    parser.add_argument(
        "--poke-interval", type=float, default=1.0, help="TTM_EXAMPLE_POKE_INTERVAL for the example DAGs"
    )
    parser.add_argument(
        "--asset-triggered",
        metavar="CONSUMER=PRODUCER",
        help="after PRODUCER (one of the DAGs), Airflow's scheduler must start CONSUMER from its asset events",
    )
    parser.add_argument(
        "--scheduler-timeout", type=float, default=120.0, help="seconds allowed for the asset-triggered run"
    )
    args = parser.parse_args(argv)
    if args.asset_triggered and args.asset_triggered.partition("=")[2] not in args.dag_ids:
        parser.error("--asset-triggered needs CONSUMER=PRODUCER with PRODUCER among the DAGs to run")
    return args


def _airflow_env(home: Path, dags_folder: Path, poke_interval: float) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "TTM_EXAMPLE_POKE_INTERVAL": str(poke_interval),
            "TTM_EXAMPLE_RETRY_DELAY": "2",
        }
    )
    return env


def _airflow(args: list[str], env: dict[str, str], log_file: Path) -> bool:
    airflow = Path(sys.executable).with_name("airflow")
    with log_file.open("w") as log:
        completed = subprocess.run(
            [str(airflow), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
    return completed.returncode == 0


@dataclass
class _DagRun:
    dag_id: str
    process: subprocess.Popen[bytes]
    log_file: Path
    started: float
    finished: float | None = None


def _dag_env(env: dict[str, str], home: Path, dag_id: str) -> dict[str, str]:
    """The environment of the processes working on ``dag_id``'s own database."""
    return {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / f'{dag_id}.db'}"}


def _start_dag(dag_id: str, env: dict[str, str], home: Path, conf: str | None) -> _DagRun:
    """Start ``airflow dags test`` for one DAG on its own copy of the migrated database."""
    shutil.copyfile(home / "airflow.db", home / f"{dag_id}.db")
    dag_env = _dag_env(env, home, dag_id)
    log_file = home / f"{dag_id}.log"
    airflow = Path(sys.executable).with_name("airflow")
    with log_file.open("wb") as log:
        process = start_guarded(
            [str(airflow), "dags", "test", dag_id, *(["--conf", conf] if conf else [])],
            env=dag_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return _DagRun(dag_id, process, log_file, time.monotonic())


def _wait_all(runs: list[_DagRun], on_finished: Callable[[_DagRun], None]) -> None:
    while any(run.finished is None for run in runs):
        for run in runs:
            if run.finished is None and run.process.poll() is not None:
                run.finished = time.monotonic()
                on_finished(run)
        time.sleep(0.1)


def _report(run: _DagRun) -> bool:
    print(f"\n=== {run.dag_id} ===")
    output = run.log_file.read_text()
    for line in output.splitlines():
        match = _PROVIDER_LINE.match(line)
        if match:
            print(f"  {match['time'][11:23]}  {match['message']}")
    succeeded = run.process.returncode == 0 and "state=success" in output and "DagRun Finished" in output
    verdict = "succeeded" if succeeded else "FAILED"
    seconds = (run.finished or run.started) - run.started
    print(f"=== {run.dag_id} {verdict} in {seconds:.1f} s (log: {run.log_file}) ===")
    return succeeded


def _on_finished(run: _DagRun, stage: SchedulerStage | None, producer: str) -> None:
    """Start the scheduler stage as soon as the producer has succeeded."""
    if stage is not None and run.dag_id == producer and run.process.returncode == 0:
        stage.start()


def _second_act(stage: SchedulerStage, home: Path, consumer: str, producer: str, emulator_url: str) -> bool:
    """Wait for the consumer's run; check the producer's asset events started it; retire their models."""
    print(f"\n=== {consumer}: started by Airflow's scheduler on {producer}'s database ===")
    if stage.started is None:
        print(f"=== {consumer} FAILED: {producer} failed, so nothing could start it ===")
        return False
    stage.wait_started()
    run = wait_for_run(home / f"{producer}.db", consumer, stage.timeout)
    for line in provider_log_lines(home / "logs", consumer, run.run_id or ""):
        print(f"  {line}")
    ok = _describe(run, producer)
    for event in run.events:  # the announced models were kept for the consumer: retire them
        model_id = model_id_from_uri(str(event["uri"]))
        delete = endpoints.delete_model(model_id)
        request = urllib.request.Request(
            emulator_url + delete.path, method=delete.method, headers={"Authorization": DEMO_API_KEY}
        )
        with urllib.request.urlopen(request, timeout=10):
            print(f"  Deleted model {model_id}, kept by {producer} for {consumer}.")
    verdict = "succeeded" if ok else "FAILED"
    seconds = time.monotonic() - (stage.started or time.monotonic())
    print(f"=== {consumer} {verdict} {seconds:.1f} s after {producer} (logs: {home}) ===")
    return ok


def _describe(run: TriggeredRun, producer: str) -> bool:
    """Print how the run was started; True if ``producer``'s asset events started it and it succeeded."""
    if run.run_id is None:
        print("  The scheduler made no run (see the scheduler log).")
        return False
    print(f"  Run {run.run_id}: run_type {run.run_type}, state {run.state}, tasks {run.tasks}.")
    for event in run.events:
        print(
            f"  Started by the asset event for {event['uri']} from {event['source_dag_id']} "
            f"run {event['source_run_id']}, extra {event['extra']}."
        )
    from_producer = any(event["source_dag_id"] == producer for event in run.events)
    return run.run_type == ASSET_TRIGGERED and run.state == "success" and from_producer


if __name__ == "__main__":
    sys.exit(main())
