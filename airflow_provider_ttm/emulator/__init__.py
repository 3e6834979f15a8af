"""
An emulator of the Tune The Model API, to run DAGs and tests offline (like moto for AWS).

It implements the documented API independently of the provider's own code (it imports neither
Airflow nor the rest of this package), so tests against it check the provider against the spec.

- From a shell: ``ttm-emulator --port 8765 --api-key KEY --auto-train 5s`` prints the base URL and
  the ``AIRFLOW_CONN_TTM_DEFAULT`` value to use, then serves until Ctrl+C.
- In Python: ``with EmulatorServer(EmulatorConfig(train_seconds=0.5)) as server:`` gives
  ``server.url``, ``server.api_key`` and ``server.control`` (faults, counters, models, settings).
- In pytest: the ``ttm_emulator`` fixture (see ``airflow_provider_ttm.testing``).
- Over HTTP, without a key: ``GET /_emulator/state``, ``POST|GET|DELETE /_emulator/faults``,
  ``POST /_emulator/reset``, ``POST /_emulator/models/{id}/status``, ``GET|POST /_emulator/config``.

A fault rule (see :class:`FaultRule`) reads, in JSON:
``{"route": "POST /v0/models", "kind": "drop", "after": true, "times": 1}``.
"""

from __future__ import annotations

from airflow_provider_ttm.emulator.app import create_app
from airflow_provider_ttm.emulator.clock import ManualClock
from airflow_provider_ttm.emulator.config import EmulatorConfig, parse_duration
from airflow_provider_ttm.emulator.control import EmulatorControl
from airflow_provider_ttm.emulator.faults import FaultRule
from airflow_provider_ttm.emulator.server import EmulatorServer, connection_json
from airflow_provider_ttm.emulator.state import EmulatorState

__all__ = [
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorServer",
    "EmulatorState",
    "FaultRule",
    "ManualClock",
    "connection_json",
    "create_app",
    "parse_duration",
]
