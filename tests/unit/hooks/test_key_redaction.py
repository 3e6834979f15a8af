"""B2: the API key never leaves the transport, however the server echoes it back."""

from __future__ import annotations

import asyncio
import html
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from support.hostile_server import API_KEY, HostileServer, Reply

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import (
    TuneTheModelApiError,
    TuneTheModelConnectionConfigError,
    TuneTheModelError,
)
from airflow_provider_ttm.hooks.transport import AsyncTransport, SyncTransport
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

BOUND = 20


def _escape_all(text: str) -> str:
    return "".join(f"\\u{ord(char):04x}" for char in text)


def _escape_some(text: str) -> str:
    """Every other character as ``\\uXXXX`` (upper-case hex), the rest plain (``/`` as ``\\/``)."""
    return "".join(
        f"\\u{ord(char):04X}" if index % 2 else char.replace("/", "\\/") for index, char in enumerate(text)
    )


#: The key as servers may echo it, inside a JSON string (the JSON escapes are written by hand).
ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda key: key,
    "slash-escaped": lambda key: key.replace("/", "\\/"),
    "all-unicode-escaped": _escape_all,
    "some-unicode-escaped": _escape_some,
    "percent-encoded": lambda key: urllib.parse.quote(key, safe=""),
    "form-encoded": urllib.parse.quote_plus,
    "bytes-repr": lambda key: repr(key.encode()).replace("'", ""),
    "html-entities": lambda key: "".join(f"&#{ord(char)};" if not char.isalnum() else char for char in key),
}
#: Forms that show the key to a reader of the message (any of them would be a leak).
LEAKED_FORMS = [
    API_KEY,
    API_KEY.replace("/", "\\/"),
    urllib.parse.quote(API_KEY, safe=""),
    urllib.parse.quote_plus(API_KEY),
    html.escape(API_KEY),
    "Ab3+xK9",  # the middle of the key: no part of it may survive a cut
    "q7Zr=key",
]


def _assert_no_key(text: str) -> None:
    for form in LEAKED_FORMS:
        assert form not in text, f"{form!r} leaked in {text!r}"
    assert "Ab3" not in json.loads(json.dumps(text)), text


def _bodies(encoding: str) -> list[str]:
    echoed = ENCODINGS[encoding](API_KEY)
    return [
        '{"detail": "Invalid API key ' + echoed + '"}',
        '{"message": "' + "x" * 190 + echoed + '"}',  # the key straddles the 200-character cut
        "<html><body>Bad key: " + echoed + "</body></html>",  # not JSON: quoted as an excerpt
        '{"errors": ["' + echoed + '"]}',  # JSON without a known message field: excerpt
    ]


def _settings(server: HostileServer, **extra: Any) -> ConnectionSettings:
    return ConnectionSettings.from_connection(
        "ttm_hostile", server.url, API_KEY, {"max_attempts": 2, "backoff_cap": 0, "timeout": 5, **extra}
    )


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, event: Any, /, *args: Any, **kwargs: Any) -> None:
        self.lines.append(event % args)


def _sync_error(server: HostileServer, log: RecordingLog) -> BaseException:
    transport = SyncTransport(_settings(server), log)
    try:
        transport.send(endpoints.list_models())
    except TuneTheModelError as error:
        return error
    finally:
        transport.close()
    raise AssertionError("no error")


def _async_error(server: HostileServer, log: RecordingLog) -> BaseException:
    async def send() -> BaseException:
        transport = AsyncTransport(_settings(server), log)
        try:
            await transport.send(endpoints.list_models())
        except TuneTheModelError as error:
            return error
        finally:
            await transport.aclose()
        raise AssertionError("no error")

    return asyncio.run(asyncio.wait_for(send(), BOUND))


@pytest.mark.parametrize("send", [_sync_error, _async_error], ids=["sync", "async"])
@pytest.mark.parametrize("status", [400, 401, 500])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_an_echoed_key_is_redacted_from_errors_and_retry_logs(
    hostile_server: HostileServer, send: Callable[..., BaseException], status: int, encoding: str
) -> None:
    for body in _bodies(encoding):
        hostile_server.respond(Reply(status=status, body=body))
        log = RecordingLog()
        error = send(hostile_server, log)
        assert isinstance(error, TuneTheModelApiError)
        assert error.status_code == status
        _assert_no_key(str(error))
        _assert_no_key(repr(error))
        for line in log.lines:
            _assert_no_key(line)
        assert ("***" in str(error)) or ("x" * 190 in body and "..." in str(error)), str(error)
    if status == 500:
        assert log.lines  # a 5xx is retried, so the retry line was checked too


@pytest.mark.parametrize(
    "encoding", ["plain", "slash-escaped", "all-unicode-escaped", "some-unicode-escaped"]
)
def test_test_connection_never_shows_the_key(
    hostile_server: HostileServer, hostile_conn, encoding: str
) -> None:
    echoed = ENCODINGS[encoding](API_KEY)
    hostile_server.respond(Reply(status=401, body='{"detail": "Invalid API key ' + echoed + '"}'))
    ok, message = TuneTheModelHook(hostile_conn(max_attempts=1)).test_connection()
    assert not ok
    assert "rejected" in message
    _assert_no_key(message)


@pytest.mark.parametrize("encoding", ["plain", "slash-escaped", "all-unicode-escaped", "percent-encoded"])
def test_a_key_echoed_in_a_successful_reply_does_not_reach_the_result(
    hostile_server: HostileServer, hostile_conn, encoding: str
) -> None:
    echoed = ENCODINGS[encoding](API_KEY)
    body = '{"answer": {"responses": [{"response": "your key is ' + echoed + '"}, {"response": "fine"}]}}'
    hostile_server.respond(Reply(status=200, body=body))
    responses = TuneTheModelHook(hostile_conn(max_attempts=1)).generate("m1", "hello")
    assert responses == ["your key is ***", "fine"]


@pytest.mark.parametrize(
    "raw",
    [
        f"XTTP/1.1 200 {API_KEY}\r\n\r\n".encode(),  # a status line the libraries quote back
        f"HTTP/1.1 2x0 {API_KEY}\r\n\r\n".encode(),
        f"HTTP/1.1 200 OK\r\n{API_KEY}\r\n\r\n".encode(),  # a header line without a colon
    ],
    ids=["bad-protocol", "bad-status", "bad-header"],
)
@pytest.mark.parametrize("send", [_sync_error, _async_error], ids=["sync", "async"])
def test_a_key_in_a_library_error_text_is_redacted(
    hostile_server: HostileServer, send: Callable[..., BaseException], raw: bytes
) -> None:
    hostile_server.respond(Reply(raw=raw))
    log = RecordingLog()
    error = send(hostile_server, log)
    assert isinstance(error, TuneTheModelError)  # http.client takes the bad header line for the body's start
    _assert_no_key(str(error))
    for line in log.lines:
        _assert_no_key(line)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("Qz81-key\r\nX-Injected: Wp93", "a line break"),
        ("Qz81-key\nWp93-second-line", "a line break"),
        ("Qz81-\x00Wp93-with-nul", "a control character"),
        ("Qz81-key\tWp93-tab", "a control character"),
        ("Qz81-kéy-Wp93", "a non-ASCII character"),
        ("Qz81-key\u200bWp93", "a non-ASCII character"),
    ],
)
def test_a_key_a_header_cannot_carry_fails_when_the_connection_is_read(
    hostile_server: HostileServer, hostile_conn, key: str, problem: str
) -> None:
    hook = TuneTheModelHook(hostile_conn(password=key))
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        hook.list_models()
    ok, message = hook.test_connection()
    for text in (str(raised.value), repr(raised.value), message):
        assert problem in text
        assert "Qz81" not in text
        assert "Wp93" not in text
    assert not raised.value.retryable
    assert not ok
    assert hostile_server.requests == []
