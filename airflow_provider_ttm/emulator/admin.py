"""The admin endpoints under ``/_emulator/``: no API key, not counted, never faulted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from airflow_provider_ttm.emulator.config import RUNTIME_FIELDS
from airflow_provider_ttm.emulator.errors import ApiError
from airflow_provider_ttm.emulator.faults import parse_rules
from airflow_provider_ttm.emulator.payloads import parse_json_object

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_ttm.emulator.control import EmulatorControl

# Settings the admin API may change: the run-time ones that have a JSON form.
JSON_SETTINGS = RUNTIME_FIELDS - {"clock"}


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None


class AdminRoutes:
    """
    Endpoints to inspect and steer the emulator over HTTP, mirroring :class:`EmulatorControl`.

    :param control: the emulator's control object.
    """

    def __init__(self, control: EmulatorControl) -> None:
        self._control = control

    async def state(self, request: Request) -> Response:
        """``GET /_emulator/state``: counters, live models and files, faults."""
        return JSONResponse(self._control.snapshot())

    async def reset(self, request: Request) -> Response:
        """``POST /_emulator/reset``: forget models, files, counters and faults; back to start settings."""
        self._control.reset()
        return JSONResponse(self._control.snapshot())

    async def faults(self, request: Request) -> Response:
        """``GET /_emulator/faults``: the active rules."""
        return JSONResponse({"faults": self._control.faults()})

    async def set_faults(self, request: Request) -> Response:
        """``POST /_emulator/faults``: replace the rules with a list (or ``{"faults": [...]}``, or one rule)."""
        try:
            rules = parse_rules(await _json(request))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, f"faults: {exc}") from None
        return JSONResponse({"faults": self._control.set_faults(*rules)})

    async def clear_faults(self, request: Request) -> Response:
        """``DELETE /_emulator/faults``: remove every rule."""
        self._control.clear_faults()
        return JSONResponse({"faults": []})

    async def force_status(self, request: Request) -> Response:
        """``POST /_emulator/models/{id}/status`` with ``{"status": ...}``: force a model's status."""
        status = parse_json_object(await request.body()).get("status")
        if not isinstance(status, str):
            raise ApiError(400, "status: is required (a model status such as FitFailed)")
        return JSONResponse(self._control.force_status(str(request.path_params["id"]), status))

    async def config(self, request: Request) -> Response:
        """``GET /_emulator/config``: the settings (without API keys)."""
        return JSONResponse(self._control.config.public_settings())

    async def configure(self, request: Request) -> Response:
        """``POST /_emulator/config`` with e.g. ``{"train_seconds": "2s", "fit_failure_rate": 0.5}``."""
        changes = parse_json_object(await request.body())
        unknown = set(changes) - JSON_SETTINGS
        if unknown:
            raise ApiError(400, f"cannot change over HTTP: {', '.join(sorted(unknown))}")
        if isinstance(changes.get("api_keys"), list):
            changes["api_keys"] = tuple(changes["api_keys"])
        try:
            config = self._control.configure(**changes)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, str(exc)) from None
        return JSONResponse(config.public_settings())
