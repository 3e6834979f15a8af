"""The emulator as one ASGI application: API routes, upload URLs and admin routes behind the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_ttm.emulator.admin import AdminRoutes
from airflow_provider_ttm.emulator.control import EmulatorControl
from airflow_provider_ttm.emulator.errors import ApiError
from airflow_provider_ttm.emulator.gateway import Gateway
from airflow_provider_ttm.emulator.routes import ApiRoutes

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp

    from airflow_provider_ttm.emulator.state import EmulatorState


async def _api_error(request: Request, exc: Exception) -> Response:
    return cast(ApiError, exc).response()


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) as JSON too."""
    http_error = cast(HTTPException, exc)
    return JSONResponse(
        {"detail": http_error.detail}, status_code=http_error.status_code, headers=http_error.headers
    )


def create_app(state: EmulatorState) -> ASGIApp:
    """
    Build the ASGI application serving ``state``.

    :param state: the emulator's state; steer it with ``EmulatorControl(state)``.
    """
    api, admin = ApiRoutes(state), AdminRoutes(EmulatorControl(state))
    # The paths are the route templates that counters and faults name.
    table = [
        ("GET", "/v0/models", api.list_models),
        ("POST", "/v0/models", api.create_model),
        ("GET", "/v0/models/{id}/status", api.model_status),
        ("DELETE", "/v0/models/{id}/delete", api.delete_model),
        ("POST", "/v0/models/{id}/bind", api.bind),
        ("POST", "/v0/models/{id}/fit", api.fit),
        ("POST", "/v0/models/{id}/classify", api.classify),
        ("POST", "/v0/models/{id}/generate", api.generate),
        ("GET", "/v0/public-models", api.public_models),
        ("GET", "/v0/files", api.list_files),
        ("POST", "/v0/files", api.create_file),
        ("GET", "/v0/files/{id}/status", api.file_status),
        ("DELETE", "/v0/files/{id}/delete", api.delete_file),
        ("PUT", "/_upload/{id}", api.upload),
        ("GET", "/_emulator/state", admin.state),
        ("POST", "/_emulator/reset", admin.reset),
        ("GET", "/_emulator/faults", admin.faults),
        ("POST", "/_emulator/faults", admin.set_faults),
        ("DELETE", "/_emulator/faults", admin.clear_faults),
        ("POST", "/_emulator/models/{id}/status", admin.force_status),
        ("GET", "/_emulator/config", admin.config),
        ("POST", "/_emulator/config", admin.configure),
    ]
    routes = [Route(path, handler, methods=[method]) for method, path, handler in table]
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error})
    return Gateway(app, app.routes, state)
