"""``api/`` imports and works with Airflow, pendulum, requests and httpx absent (ruff's TID251 bans them)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_BLOCKED = ("airflow", "pendulum", "requests", "httpx")

_PROBE = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, Absent())
    import airflow_provider_ttm.api as api

    names = sorted(info.name for info in pkgutil.iter_modules(api.__path__))
    for name in names:
        importlib.import_module(f"airflow_provider_ttm.api.{name}")
    from airflow_provider_ttm.api.records import parse_model
    from airflow_provider_ttm.api.retry import parse_retry_after

    record = parse_model({"model_name": "a" * 32, "status": "Ready", "last_updated_time": "2024-01-02 03:04:05"})
    assert record.is_ready and record.last_updated_time.year == 2024
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    print(len(names), leaked)
    """
)


def test_every_api_module_imports_and_parses_without_airflow_pendulum_or_http_libraries() -> None:
    probe = f"BLOCKED = {_BLOCKED!r}\n{_PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    count, leaked = result.stdout.split(maxsplit=1)
    assert int(count) >= 10  # every module of api/, not an empty package
    assert leaked.strip() == "[]"
