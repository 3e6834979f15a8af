"""The emulator as one ASGI application: API routes, upload URLs and admin routes behind the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

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
    routes = ApiRoutes(state).routes() + AdminRoutes(EmulatorControl(state)).routes()
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error})
    return Gateway(app, app.routes, state)
