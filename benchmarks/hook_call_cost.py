"""The cost of one status call: the provider's hook against the vendor SDK and bare ``requests``.

N sequential ``GET /v0/models/{id}/status`` calls against the emulator (served by a separate
process), over plain HTTP and over TLS with a self-signed certificate made here, through:

- the hook, ``TuneTheModelHook.get_model`` (pooled ``requests.Session``, timeout, retry policy,
  size cap, decoding into a ``ModelRecord``), and its async twin ``aget_model`` (one httpx client);
- a bare pooled ``requests.Session().get(...).json()``;
- a bare ``requests.get(...).json()`` (a new connection each call);
- the vendor SDK, ``tune-the-model`` 0.1.33 (``TuneTheModelAPI.status``), pointed at the emulator
  through its ``TTM_API_URL`` (and ``TTM_API_KEY``; ``REQUESTS_CA_BUNDLE`` for TLS).

Calls run in rounds with the clients' order rotated, after a warm-up, so drift hits all alike.

    python benchmarks/hook_call_cost.py --calls 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, EmulatorProcess, isolated_airflow_home, make_certificate, median, scratch_dir

CONN_ID = "ttm_bench"
SCHEMES = ("http", "https")
HOOK = "hook: TuneTheModelHook.get_model"
HOOK_ASYNC = "hook, async: aget_model (one httpx client)"
POOLED = "bare requests.Session().get (pooled)"
UNPOOLED = "bare requests.get (new connection each call)"
SDK = "vendor SDK tune-the-model 0.1.33: TuneTheModelAPI.status"
CLIENTS = (HOOK, HOOK_ASYNC, POOLED, UNPOOLED, SDK)
ROUNDS = 5
WARM_UP = 20


def run_scheme(scheme: str, calls: int) -> dict[str, Any]:
    """Every client against one emulator over ``scheme``, in this (fresh) process."""
    isolated_airflow_home()
    folder = scratch_dir("ttm-bench-tls-")
    certificate = make_certificate(folder) if scheme == "https" else None
    with EmulatorProcess(
        certfile=certificate.cert_file if certificate else None,
        keyfile=certificate.key_file if certificate else None,
    ) as emulator:
        (model_name,) = emulator.create_models(1)
        verify: bool | str = certificate.ca_file if certificate else True
        extra = {"verify": certificate.ca_file} if certificate else {}
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = emulator.connection_json(**extra)
        os.environ["TTM_API_URL"] = emulator.url
        os.environ["TTM_API_KEY"] = API_KEY
        if certificate:
            os.environ["REQUESTS_CA_BUNDLE"] = certificate.ca_file
        clients = _clients(emulator.url, model_name, verify)
        timings = _measure(clients, calls)
    return {"scheme": scheme, "calls": calls, "clients": timings}


def _clients(url: str, model_name: str, verify: bool | str) -> dict[str, Callable[[], Any]]:
    import requests

    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

    hook = TuneTheModelHook(ttm_conn_id=CONN_ID)
    session = requests.Session()
    session.verify = verify
    status_url = f"{url}/v0/models/{model_name}/status"
    headers = {"Authorization": API_KEY}
    api = _vendor_sdk()

    def pooled() -> Any:
        return session.get(status_url, headers=headers, timeout=30).json()["status"]

    def unpooled() -> Any:
        return requests.get(status_url, headers=headers, timeout=30, verify=verify).json()["status"]

    return {
        HOOK: lambda: hook.get_model(model_name).status,
        HOOK_ASYNC: lambda: _AsyncHook(hook, model_name),
        POOLED: pooled,
        UNPOOLED: unpooled,
        SDK: lambda: api.status(model_name)["status"],
    }


def _vendor_sdk() -> Any:
    """Import the SDK with its import-time version check (a request to PyPI) switched off."""
    import requests

    real_get = requests.get

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("offline benchmark: no version check")

    requests.get = offline
    try:
        from tune_the_model import TuneTheModelAPI
    finally:
        requests.get = real_get
    return TuneTheModelAPI


class _AsyncHook:
    """Marks the async client: it is timed inside one event loop, over one transport."""

    def __init__(self, hook: Any, model_name: str) -> None:
        self.hook = hook
        self.model_name = model_name


def _measure(clients: dict[str, Callable[[], Any]], calls: int) -> dict[str, dict[str, float]]:
    latencies: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
    names = list(clients)
    per_round = max(calls // ROUNDS, 1)
    for round_number in range(-1, ROUNDS):  # round -1 warms every client up
        count = WARM_UP if round_number < 0 else per_round
        shift = max(round_number, 0) % len(names)
        for name in names[shift:] + names[:shift]:
            started_cpu = time.process_time()
            measured = _time_calls(clients[name], count)
            if round_number >= 0:
                cpu[name] += time.process_time() - started_cpu
                latencies[name].extend(measured)
    return {
        name: {
            "median_ms": 1000 * median(values),
            "mean_ms": 1000 * sum(values) / len(values),
            "p90_ms": 1000 * sorted(values)[int(0.9 * (len(values) - 1))],
            "cpu_ms_per_call": 1000 * cpu[name] / len(values),
            "calls": len(values),
        }
        for name, values in latencies.items()
    }


def _time_calls(client: Callable[[], Any], count: int) -> list[float]:
    probe = client()
    if isinstance(probe, _AsyncHook):
        return asyncio.run(_time_async_calls(probe, count))
    if str(probe).lower() != "created":
        raise RuntimeError(f"unexpected status {probe!r}")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client()
        times.append(time.perf_counter() - started)
    return times


async def _time_async_calls(target: _AsyncHook, count: int) -> list[float]:
    transport = await target.hook.async_transport()
    try:
        await target.hook.aget_model(transport, target.model_name)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await target.hook.aget_model(transport, target.model_name)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await transport.aclose()


def run_all(calls: int, log: Any = sys.stderr) -> list[dict[str, Any]]:
    """Both schemes, each in its own process."""
    results = []
    for scheme in SCHEMES:
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, __file__, "--scheme", scheme, "--calls", str(calls)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{scheme} run failed:\n{completed.stderr[-4000:]}")
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        print(f"  {scheme}: done in {time.monotonic() - started:.0f} s", file=log, flush=True)
    return results


def format_table(results: list[dict[str, Any]]) -> str:
    """One Markdown table: each client's latency over HTTP and TLS, and its ratio to the hook's."""
    lines = [
        "| client | scheme | median ms | mean ms | p90 ms | client CPU ms / call | median ÷ hook's |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        hook_median = result["clients"][HOOK]["median_ms"]
        for name in CLIENTS:
            timing = result["clients"][name]
            lines.append(
                f"| {name} | {result['scheme']} | {timing['median_ms']:.2f} | {timing['mean_ms']:.2f} | "
                f"{timing['p90_ms']:.2f} | {timing['cpu_ms_per_call']:.2f} | "
                f"{timing['median_ms'] / hook_median:.2f} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="measured calls per client and scheme")
    parser.add_argument("--scheme", choices=SCHEMES, help="run one scheme in this process, print JSON")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.scheme:
        print(json.dumps(run_scheme(args.scheme, args.calls)))
        return 0
    results = run_all(args.calls)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
