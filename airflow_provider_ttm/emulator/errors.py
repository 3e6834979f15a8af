"""The one error type of the emulated API: an HTTP status with a ``{"detail": ...}`` body."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    """
    An error the emulator answers with ``status`` and the JSON body ``{"detail": detail}``.

    :param status: HTTP status code (400, 401, 403, 404, ...).
    :param detail: what went wrong, naming the field at fault; never contains an API key.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def response(self) -> JSONResponse:
        """The HTTP reply for this error."""
        return JSONResponse({"detail": self.detail}, status_code=self.status)
