"""Reply decoding: JSON out of a 2xx, the matching exception out of everything else."""

from __future__ import annotations

import json

import pytest

from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES, decode_reply, error_for_status, excerpt
from airflow_provider_ttm.exceptions import (
    TuneTheModelApiError,
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
)


@pytest.mark.parametrize("status_code", [200, 201, 299])
def test_decode_reply_returns_the_json_of_a_success(status_code: int, model_payload) -> None:
    payload = model_payload()

    assert decode_reply(status_code, json.dumps(payload).encode()) == payload


def test_decode_reply_accepts_utf8_text() -> None:
    assert decode_reply(200, '{"user_name": "ñandú"}'.encode()) == {"user_name": "ñandú"}


@pytest.mark.parametrize(
    ("status_code", "exception", "retryable"),
    [
        (401, TuneTheModelAuthenticationError, False),
        (403, TuneTheModelAuthenticationError, False),
        (404, TuneTheModelNotFoundError, False),
        (400, TuneTheModelBadRequestError, False),
        (409, TuneTheModelBadRequestError, False),
        (422, TuneTheModelBadRequestError, False),
        (418, TuneTheModelBadRequestError, False),
        (429, TuneTheModelRateLimitedError, True),
        (500, TuneTheModelServerError, True),
        (502, TuneTheModelServerError, True),
        (503, TuneTheModelServerError, True),
        (504, TuneTheModelServerError, True),
        (599, TuneTheModelServerError, True),
    ],
)
def test_error_statuses_map_to_their_exception(status_code: int, exception, retryable: bool) -> None:
    body = json.dumps({"detail": "the service's own words"}).encode()

    with pytest.raises(exception) as raised:
        decode_reply(status_code, body)

    error = raised.value
    assert type(error) is exception
    assert error.status_code == status_code
    assert error.retryable is retryable
    assert f"HTTP {status_code}" in str(error)
    assert "the service's own words" in str(error)


def test_authentication_error_points_at_the_api_key_field() -> None:
    error = error_for_status(401, b'{"detail": "Invalid token"}')

    assert str(error) == (
        "The API key was rejected (HTTP 401: Invalid token); check the connection's API Key."
    )


@pytest.mark.parametrize(
    ("status_code", "detail"),
    [
        (400, "model_type must be classifier or generator"),
        (409, "model with this name exists"),
        (422, "num_classes: field required"),
    ],
)
def test_bad_request_carries_the_service_detail(status_code: int, detail: str) -> None:
    error = error_for_status(status_code, json.dumps({"detail": detail}).encode())

    assert isinstance(error, TuneTheModelBadRequestError)
    assert str(error) == f"The service refused the request (HTTP {status_code}): {detail}"


@pytest.mark.parametrize("key", ["detail", "message", "error"])
def test_service_message_is_read_from_the_usual_keys(key: str) -> None:
    error = error_for_status(400, json.dumps({key: "explained"}).encode())

    assert str(error).endswith(": explained")


def test_service_message_prefers_detail_over_message() -> None:
    error = error_for_status(400, b'{"message": "second", "detail": "first"}')

    assert str(error).endswith(": first")


def test_service_message_is_shortened_to_200_characters() -> None:
    error = error_for_status(400, json.dumps({"detail": "d" * 500}).encode())

    assert str(error).endswith(": " + "d" * 200 + "...")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"", "(empty body)"),
        (b"   \n", "(empty body)"),
        (b"Bad Gateway", "'Bad Gateway'"),
        (b'{"detail": [{"loc": ["body"], "msg": "missing"}]}', '\'{"detail": [{"loc"'),
        (b'["a list"]', "'[\"a list\"]'"),
        (b'{"code": 7}', "'{\"code\": 7}'"),
    ],
)
def test_error_without_a_text_detail_shows_the_body(body: bytes, shown: str) -> None:
    error = error_for_status(502, body)

    assert str(error).startswith("The service failed (HTTP 502): ")
    assert shown in str(error)


def test_rate_limit_carries_retry_after_seconds() -> None:
    with pytest.raises(TuneTheModelRateLimitedError) as raised:
        decode_reply(429, b'{"detail": "slow down"}', retry_after="7")

    assert raised.value.retry_after == 7.0
    assert "slow down" in str(raised.value)


def test_rate_limit_without_retry_after_has_none() -> None:
    error = error_for_status(429, b"")

    assert isinstance(error, TuneTheModelRateLimitedError)
    assert error.retry_after is None


def test_server_error_carries_retry_after() -> None:
    error = error_for_status(503, b"", retry_after="12")

    assert isinstance(error, TuneTheModelServerError)
    assert error.retry_after == 12.0


@pytest.mark.parametrize("status_code", [301, 302, 303, 307, 308])
def test_redirects_are_refused_not_followed(status_code: int) -> None:
    with pytest.raises(TuneTheModelBadRequestError) as raised:
        decode_reply(status_code, b"")

    assert raised.value.status_code == status_code
    assert raised.value.retryable is False
    assert f"redirect (HTTP {status_code})" in str(raised.value)
    assert "Base URL" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "first_bytes"),
    [
        (b"<html><body>Service temporarily unavailable</body></html>", "'<html><body>Service"),
        (b'{"models": [', "'{\"models\": ['"),  # truncated JSON
        (b"\xff\xfe\x00garbage", "garbage"),  # not UTF-8
        (b"", "''"),
    ],
)
def test_a_success_that_is_not_json_is_malformed(body: bytes, first_bytes: str) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError) as raised:
        decode_reply(200, body)

    message = str(raised.value)
    assert raised.value.status_code == 200
    assert f"HTTP 200, {len(body)} bytes" in message
    assert first_bytes in message


def test_an_oversize_success_is_refused_unparsed() -> None:
    with pytest.raises(TuneTheModelMalformedResponseError) as raised:
        decode_reply(200, b'{"models": []}', truncated=True)

    assert raised.value.status_code == 200
    assert f"larger than {MAX_REPLY_BYTES} bytes (HTTP 200)" in str(raised.value)


def test_an_oversize_success_error_shows_the_first_bytes() -> None:
    with pytest.raises(TuneTheModelMalformedResponseError) as raised:
        decode_reply(200, b"<html>" + b"x" * 1000, truncated=True)

    assert "<html>" in str(raised.value)


def test_an_oversize_error_reply_still_maps_its_status() -> None:
    with pytest.raises(TuneTheModelServerError):
        decode_reply(500, b"x" * 100, truncated=True)


@pytest.mark.parametrize("status_code", [200, 500])
def test_a_deeply_nested_body_is_reported_as_an_api_error(status_code: int) -> None:
    with pytest.raises(TuneTheModelApiError):
        decode_reply(status_code, b"[" * 100_000)


def test_excerpt_is_cut_at_200_characters() -> None:
    shown = excerpt(b"a" * 1000)

    assert shown == repr("a" * 200 + "...")


def test_excerpt_of_a_short_body_is_whole() -> None:
    assert excerpt(b"short") == "'short'"


def test_excerpt_replaces_undecodable_bytes() -> None:
    assert excerpt(b"ok\xffok") == repr("ok\ufffdok")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"count": ' + b"7" * 4301 + b"}", "too many digits"),
        (b"[NaN]", "NaN"),
        (b'{"score": Infinity}', "Infinity"),
        (b"[-Infinity]", "-Infinity"),
        (b"[1e400]", "too large for a float"),
        (b"[-2.5E+999]", "too large for a float"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_numbers_json_cannot_carry_make_a_retryable_malformed_reply(body: bytes, reason: str) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError) as raised:
        decode_reply(200, body)

    assert raised.value.retryable
    assert reason in str(raised.value)
    assert len(str(raised.value)) < 400


def test_big_but_parseable_numbers_pass() -> None:
    body = b'{"count": ' + b"7" * 4300 + b', "score": 1.7e308, "tiny": 1e-400}'
    payload = decode_reply(200, body)
    assert payload["count"] == int("7" * 4300)
    assert payload["score"] == 1.7e308
    assert payload["tiny"] == 0.0


KEY = "ttm/Ab3+xK9/q7Zr"


@pytest.mark.parametrize(
    "echoed",
    [
        KEY,
        "ttm\\/Ab3+xK9\\/q7Zr",
        "".join(f"\\u{ord(char):04x}" for char in KEY),
        "ttm\\u002FAb3\\u002bxK9/q7Zr",
        "ttm%2FAb3%2BxK9%2Fq7Zr",
        "ttm\\\\/Ab3+xK9\\\\/q7Zr",
    ],
    ids=["plain", "slash", "all-unicode", "some-unicode", "percent", "double-escaped"],
)
@pytest.mark.parametrize("status_code", [400, 401, 404, 429, 500])
def test_an_echoed_key_is_redacted_in_any_escape(echoed: str, status_code: int) -> None:
    for body in (
        '{"detail": "Invalid API key ' + echoed + '"}',
        '{"detail": "' + "d" * 195 + echoed + '"}',  # redacted before the 200-character cut
        "Invalid API key " + echoed,  # not JSON: an excerpt
    ):
        error = error_for_status(status_code, body.encode(), secret=KEY)
        assert "Ab3" not in str(error)
        assert "q7Zr" not in str(error)


def test_a_key_echoed_in_a_success_is_redacted_in_every_string() -> None:
    body = json.dumps({"a": [KEY, {"b": "x " + KEY}], KEY: 1}).replace("/", "\\/").encode()
    assert decode_reply(200, body, secret=KEY) == {"a": ["***", {"b": "x ***"}], "***": 1}


def test_a_success_without_the_key_is_returned_as_parsed() -> None:
    body = b'{"models": [{"id": "a\\/b", "name": "100%"}]}'
    assert decode_reply(200, body, secret=KEY) == {"models": [{"id": "a/b", "name": "100%"}]}


def test_redaction_leaves_near_misses_alone() -> None:
    error = error_for_status(400, b'{"detail": "ttm/ab3+xK9/q7Zr is not ttm/Ab3"}', secret=KEY)
    assert "ttm/ab3+xK9/q7Zr is not ttm/Ab3" in str(error)
