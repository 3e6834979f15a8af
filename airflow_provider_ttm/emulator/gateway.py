"""
ASGI middleware in front of the routes: it counts every API request, applies fault rules, then
checks the API key of ``/v0`` requests. Admin requests (``/_emulator/``) pass straight through.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match

from airflow_provider_ttm.emulator.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_ttm.emulator.faults import FaultRule
    from airflow_provider_ttm.emulator.state import EmulatorState

ADMIN_PREFIX: Final = "/_emulator/"
API_PREFIX: Final = "/v0/"
UPLOAD_TEMPLATE: Final = "/_upload/{id}"
# A truncated model object: what a malformed reply sends when no real reply was produced.
_TRUNCATED: Final = b'{"status": "Ready", "model_name": "'
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Reply:
    """A reply produced by the routes but not yet sent."""

    messages: list[Message]

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.messages[1:])


class Gateway:
    """
    Counting, fault injection and authentication in front of the emulator's routes.

    :param app: the Starlette application with the routes.
    :param routes: its routes, to name the template a request goes to.
    :param state: the emulator's state.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], state: EmulatorState) -> None:
        self._app = app
        self._routes = routes
        self._state = state

    def _template(self, scope: Scope) -> str:
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", scope["path"]))
            if match is Match.PARTIAL and partial is None:
                partial = str(getattr(route, "path", scope["path"]))
        return partial or str(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        template = self._template(scope)
        headers = Headers(scope=scope)
        self._state.record_request(
            f"{method} {template}",
            upload_with_authorization=template == UPLOAD_TEMPLATE and "authorization" in headers,
        )
        rule = self._state.pick_fault(method, template, path)
        if rule is None:
            await self._serve(scope, receive, send, headers)
            return
        logger.info("Injecting a %s fault into %s %s", rule.kind, method, path)
        if not rule.after:
            if rule.kind == "latency":
                # The request is read at once, as a real server does, so a client that gives up
                # while the work is slow still gets its request carried out.
                replay = await _buffered(receive)
                await asyncio.sleep(rule.delay_seconds)
                await self._serve(scope, replay, send, headers)
            else:
                await _misbehave(rule, None, scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self._serve(scope, receive, keep, headers)
        if rule.kind == "latency":
            await asyncio.sleep(rule.delay_seconds)
            for message in messages:
                await send(message)
        else:
            await _misbehave(rule, _Reply(messages), scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        if scope["path"].startswith(API_PREFIX):
            try:
                self._state.authenticate(headers.get("authorization"))
            except ApiError as error:
                await error.response()(scope, receive, send)
                return
        await self._app(scope, receive, send)


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; return a ``receive`` that hands it out again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _misbehave(
    rule: FaultRule, reply: _Reply | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send the faulty reply of ``rule``; ``reply`` is the real one when the rule acts after the operation."""
    if rule.kind == "drop":
        # Promise more body than is ever sent, then return: the server closes the connection and the
        # client sees a broken response (requests raises ChunkedEncodingError or ConnectionError).
        declared = (len(reply.body) if reply else 0) + 1
        await send(
            {
                "type": "http.response.start",
                "status": reply.status if reply else 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(declared).encode()),
                ],
            }
        )
        return
    if rule.kind == "trickle":
        await _trickle(reply or _error_reply(rule), send, rule.delay_seconds)
        return
    response: Response
    if rule.kind == "echo":
        key = Headers(scope=scope).get("authorization", "")
        response = Response(_echo_body(key), rule.reply_status, media_type="application/json")
    elif rule.kind == "malformed":
        body = reply.body if reply and len(reply.body) > 1 else _TRUNCATED
        response = Response(body[: max(1, len(body) // 2)], rule.reply_status, media_type="application/json")
    elif rule.kind == "rate_limit":
        response = JSONResponse(
            {"detail": "Too many requests: slow down"},
            rule.reply_status,
            headers={"Retry-After": rule.retry_after or "1"},
        )
    elif rule.kind == "unauthorized":
        response = JSONResponse({"detail": "Invalid API key"}, rule.reply_status)
    else:
        headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
        if rule.body is not None:
            response = Response(rule.body, rule.reply_status, headers=headers, media_type="text/plain")
        else:
            detail = f"Injected fault: HTTP {rule.reply_status}"
            response = JSONResponse({"detail": detail}, rule.reply_status, headers=headers)
    await response(scope, receive, send)


#: How many leading bytes of a trickled reply go one at a time (bounds how long the server trickles).
_TRICKLED_BYTES: Final = 64


def _error_reply(rule: FaultRule) -> _Reply:
    body = f'{{"detail": "Injected fault: HTTP {rule.reply_status}"}}'.encode()
    start: Message = {
        "type": "http.response.start",
        "status": rule.reply_status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return _Reply([start, {"type": "http.response.body", "body": body}])


async def _trickle(reply: _Reply, send: Send, pause: float) -> None:
    """Send ``reply``'s status and headers, then its body one byte per ``pause`` (the first bytes)."""
    await send(reply.messages[0])
    body = reply.body
    for index in range(min(len(body), _TRICKLED_BYTES)):
        await send({"type": "http.response.body", "body": body[index : index + 1], "more_body": True})
        await asyncio.sleep(pause)
    await send({"type": "http.response.body", "body": body[_TRICKLED_BYTES:], "more_body": False})


def _echo_body(key: str) -> bytes:
    """A JSON error quoting ``key`` twice: with ``/`` written ``\\/`` (as PHP does) and with every
    other character a ``\\uXXXX`` escape; neither contains the key's raw bytes when it has a ``/``."""
    slashed = key.replace("\\", "\\\\").replace('"', '\\"').replace("/", "\\/")
    mixed = "".join(f"\\u{ord(char):04x}" if index % 2 else char for index, char in enumerate(key))
    return f'{{"detail": "Invalid API key {slashed}", "hint": "key was {mixed}"}}'.encode()
