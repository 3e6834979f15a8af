"""Run DAGs end to end in a real Airflow against the bundled emulator, offline.

``python -m airflow_provider_ttm.testing.demo --dags-folder dags example_ttm_model_lifecycle`` starts
the emulator on loopback, points ``ttm_default`` at it, migrates a throwaway SQLite Airflow home,
runs each DAG with ``airflow dags test``, prints what the provider did (models created, each status
change with its time, deletions) and exits non-zero if a DAG failed or a model was left behind.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_PROVIDER_LINE = re.compile(
    r"^(?P<time>\S+)\s+\[\w+\s*\]\s+(?P<message>.*?)\s+\[(?P<logger>[^\]]*airflow_provider_ttm[^\]]*)\]"
)
DEMO_API_KEY = "ttm-demo-key-0123456789"


def main(argv: list[str] | None = None) -> int:
    """Run the DAGs named on the command line; return the process exit code."""
    args = _parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="ttm-demo-airflow-home-"))
    env = _airflow_env(home, args.dags_folder.resolve(), args.poke_interval)
    from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(
        api_keys=(DEMO_API_KEY,), auto_train_seconds=args.auto_train, train_seconds=args.train_seconds
    )
    with EmulatorServer(config) as emulator:
        print(f"Emulator of the Tune The Model API at {emulator.url}; Airflow home {home}")
        env["AIRFLOW_CONN_TTM_DEFAULT"] = emulator.conn_json
        _airflow(["db", "migrate"], env, home / "db-migrate.log")
        confs = dict(item.split("=", 1) for item in args.conf)
        failures = [dag_id for dag_id in args.dag_ids if not _run_dag(dag_id, env, home, confs.get(dag_id))]
        leftovers = emulator.control.models()
    if leftovers:
        print(
            f"FAILED: {len(leftovers)} model(s) left in the emulator: {[m['model_name'] for m in leftovers]}"
        )
    if failures:
        print(f"FAILED: {', '.join(failures)} (full logs under {home})")
    if failures or leftovers:
        return 1
    print(f"All {len(args.dag_ids)} DAG(s) succeeded and no model was left behind.")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dag_ids", nargs="+", help="ids of the DAGs to run, in order")
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
    return parser.parse_args(argv)


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
            [str(airflow), *args], env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    return completed.returncode == 0


def _run_dag(dag_id: str, env: dict[str, str], home: Path, conf: str | None) -> bool:
    print(f"\n=== {dag_id} ===")
    log_file = home / f"{dag_id}.log"
    started = time.monotonic()
    _airflow(["dags", "test", dag_id, *(["--conf", conf] if conf else [])], env, log_file)
    output = log_file.read_text()
    for line in output.splitlines():
        match = _PROVIDER_LINE.match(line)
        if match:
            print(f"  {match['time'][11:23]}  {match['message']}")
    succeeded = "state=success" in output and "DagRun Finished" in output
    verdict = "succeeded" if succeeded else "FAILED"
    print(f"=== {dag_id} {verdict} in {time.monotonic() - started:.1f} s (log: {log_file}) ===")
    return succeeded


if __name__ == "__main__":
    sys.exit(main())
