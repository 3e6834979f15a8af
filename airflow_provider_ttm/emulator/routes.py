"""The emulated API's endpoints (``/v0/...``) and the signed upload URL they hand out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from airflow_provider_ttm.emulator import payloads

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_ttm.emulator.state import EmulatorState


def _id(request: Request) -> str:
    return str(request.path_params["id"])


async def _body(request: Request) -> dict[str, object]:
    return payloads.parse_json_object(await request.body())


class ApiRoutes:
    """
    The endpoints of the Tune The Model API, one method each.

    :param state: the emulator's state, which holds the API's rules.
    """

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def _account(self, request: Request) -> str:
        """The caller's account: its API key (checked by the gateway), or the key it is an alias of."""
        return self._state.account(request.headers["authorization"])

    async def list_models(self, request: Request) -> Response:
        """``GET /v0/models``."""
        return JSONResponse(self._state.list_models(self._account(request)))

    async def create_model(self, request: Request) -> Response:
        """``POST /v0/models``."""
        new_model = payloads.parse_new_model(await _body(request))
        return JSONResponse(self._state.create_model(self._account(request), new_model))

    async def model_status(self, request: Request) -> Response:
        """``GET /v0/models/{id}/status``."""
        return JSONResponse(self._state.model_status(self._account(request), _id(request)))

    async def delete_model(self, request: Request) -> Response:
        """``DELETE /v0/models/{id}/delete``."""
        return JSONResponse(self._state.delete_model(self._account(request), _id(request)))

    async def bind(self, request: Request) -> Response:
        """``POST /v0/models/{id}/bind``."""
        binding = payloads.parse_binding(await _body(request))
        return JSONResponse(self._state.bind(self._account(request), _id(request), binding))

    async def fit(self, request: Request) -> Response:
        """``POST /v0/models/{id}/fit`` (any body is ignored)."""
        return JSONResponse(self._state.fit(self._account(request), _id(request)))

    async def classify(self, request: Request) -> Response:
        """``POST /v0/models/{id}/classify``."""
        text = payloads.parse_classify(await _body(request))
        return JSONResponse(self._state.classify(self._account(request), _id(request), text))

    async def generate(self, request: Request) -> Response:
        """``POST /v0/models/{id}/generate``."""
        generation = payloads.parse_generation(await _body(request))
        return JSONResponse(self._state.generate(self._account(request), _id(request), generation))

    async def public_models(self, request: Request) -> Response:
        """``GET /v0/public-models``."""
        return JSONResponse(self._state.list_public_models())

    async def list_files(self, request: Request) -> Response:
        """``GET /v0/files``."""
        return JSONResponse(self._state.list_files(self._account(request)))

    async def create_file(self, request: Request) -> Response:
        """``POST /v0/files``: the upload URL points back at this server, as the client reached it."""
        new_file = payloads.parse_new_file(await _body(request))
        return JSONResponse(self._state.create_file(self._account(request), new_file, str(request.base_url)))

    async def file_status(self, request: Request) -> Response:
        """``GET /v0/files/{id}/status``."""
        return JSONResponse(self._state.file_status(self._account(request), _id(request)))

    async def delete_file(self, request: Request) -> Response:
        """``DELETE /v0/files/{id}/delete``."""
        return JSONResponse(self._state.delete_file(self._account(request), _id(request)))

    async def upload(self, request: Request) -> Response:
        """``PUT`` on a signed upload URL: no API key, the ``signature`` query parameter instead."""
        signature = request.query_params.get("signature", "")
        self._state.upload(_id(request), signature, await request.body())
        return Response(status_code=200)
