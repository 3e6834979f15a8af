"""Reading a connection: base URL, API key, and every extra, with errors naming the field and connection."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ttm.connection_fields import (
    CONNECTION_EXTRA_FIELDS,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT_SECONDS,
    UI_FIELD_BEHAVIOUR,
)
from airflow_provider_ttm.connection_settings import ConnectionSettings, normalize_base_url
from airflow_provider_ttm.exceptions import TuneTheModelConnectionConfigError

CONN = "ttm_settings"
KEY = "secret-key-123"


def _settings(
    host: str | None = "https://api.example.test", password: str | None = KEY, **extra: Any
) -> ConnectionSettings:
    return ConnectionSettings.from_connection(CONN, host, password, extra)


def test_defaults() -> None:
    settings = _settings(host=None)

    assert settings.conn_id == CONN
    assert settings.base_url == DEFAULT_BASE_URL == "https://api.tunethemodel.com"
    assert settings.api_key == KEY
    assert settings.timeout == DEFAULT_TIMEOUT_SECONDS == 30.0
    assert settings.verify is True
    assert (settings.retry.max_attempts, settings.retry.backoff_cap) == (5, 60.0)


def test_the_api_key_is_stripped() -> None:
    assert _settings(password="  secret-key-123\n").api_key == KEY


@pytest.mark.parametrize("password", [None, "", "   ", "\n"])
def test_a_missing_api_key_is_refused_naming_the_connection_and_field(password: str | None) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(password=password)

    assert str(raised.value) == (
        f"Connection {CONN!r} has no API key: put it in the connection's password field (shown as 'API Key')."
    )


@pytest.mark.parametrize(
    ("host", "base_url"),
    [
        (None, "https://api.tunethemodel.com"),
        ("", "https://api.tunethemodel.com"),
        ("   ", "https://api.tunethemodel.com"),
        ("api.example.test", "https://api.example.test"),
        ("api.example.test/", "https://api.example.test"),
        (" https://api.example.test/ ", "https://api.example.test"),
        ("https://api.example.test", "https://api.example.test"),
        ("https://api.example.test:8443/", "https://api.example.test:8443"),
        ("api.example.test:8443", "https://api.example.test:8443"),
        ("https://gateway.example.test/ttm/", "https://gateway.example.test/ttm"),
        ("https://gateway.example.test/ttm///", "https://gateway.example.test/ttm"),
        ("HTTPS://api.example.test", "https://api.example.test"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://localhost:8765/", "http://localhost:8765"),
        ("http://[::1]:8765", "http://[::1]:8765"),
        ("https://[2001:db8::1]:8443/", "https://[2001:db8::1]:8443"),
    ],
)
def test_base_url_normalisation(host: str | None, base_url: str) -> None:
    assert normalize_base_url(host, conn_id=CONN) == base_url
    assert _settings(host=host).base_url == base_url


@pytest.mark.parametrize(
    "host",
    [
        "http://api.example.test",
        "http://10.0.0.5:8080",
        "http://[::ffff:10.0.0.5]",
        "http://localhost.evil.test",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(host=host)

    message = str(raised.value)
    assert message.startswith(f"Connection {CONN!r}: plain http:// to ")
    assert "would send the API key unencrypted" in message
    assert "'allow_insecure_http'" in message
    assert KEY not in message


@pytest.mark.parametrize("allow", [True, "true", "True", "yes", "on", "1", 1])
def test_plain_http_to_a_remote_host_is_allowed_when_asked(allow: object) -> None:
    settings = _settings(host="http://api.example.test/", allow_insecure_http=allow)

    assert settings.base_url == "http://api.example.test"


@pytest.mark.parametrize(
    ("host", "cause"),
    [
        ("ftp://api.example.test", "scheme 'ftp' is not http or https"),
        ("://api.example.test", "scheme '' is not http or https"),
        ("https://", "it has no host name"),
        ("https:///v0", "it has no host name"),
        ("https://api.example.test/?key=1", "it has a query or fragment"),
        ("https://api.example.test#top", "it has a query or fragment"),
        (
            "https://api.example.test:port",
            "it cannot be parsed: Port could not be cast to integer value as 'port'",
        ),
        ("https://api.example.test:99999", "it cannot be parsed: Port out of range 0-65535"),
    ],
)
def test_malformed_base_urls_are_refused_naming_connection_host_and_cause(host: str, cause: str) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(host=host)

    assert str(raised.value) == (
        f"Connection {CONN!r}: host {host!r} is not a usable base URL ({cause}); "
        "expected something like 'https://api.tunethemodel.com'."
    )


@pytest.mark.parametrize("host", ["http://[::1", "https://[api.example.test/"])
def test_an_unclosed_ipv6_bracket_is_a_connection_config_error(host: str) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError, match=CONN):
        _settings(host=host)


# ---- extras ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "attribute", "expected"),
    [
        ({"timeout": 12.5}, "timeout", 12.5),
        ({"timeout": "7"}, "timeout", 7.0),
        ({"timeout": 0.001}, "timeout", 0.001),
        ({"timeout": ""}, "timeout", 30.0),
        ({"timeout": None}, "timeout", 30.0),
        ({"verify": False}, "verify", False),
        ({"verify": "false"}, "verify", False),
        ({"verify": "TRUE"}, "verify", True),
        ({"verify": 0}, "verify", False),
        ({"verify": " /etc/ssl/ca.pem "}, "verify", "/etc/ssl/ca.pem"),
        ({"verify": ""}, "verify", True),
    ],
)
def test_transport_extras(extra: dict[str, Any], attribute: str, expected: object) -> None:
    assert getattr(_settings(**extra), attribute) == expected


@pytest.mark.parametrize(
    ("extra", "max_attempts", "backoff_cap"),
    [
        ({"max_attempts": 1}, 1, 60.0),
        ({"max_attempts": "3"}, 3, 60.0),
        ({"max_attempts": " 20 "}, 20, 60.0),
        ({"backoff_cap": 0}, 5, 0.0),
        ({"backoff_cap": "2.5"}, 5, 2.5),
        ({"max_attempts": "", "backoff_cap": ""}, 5, 60.0),
    ],
)
def test_retry_extras(extra: dict[str, Any], max_attempts: int, backoff_cap: float) -> None:
    retry = _settings(**extra).retry

    assert (retry.max_attempts, retry.backoff_cap) == (max_attempts, backoff_cap)


def test_prefixed_extra_names_are_read() -> None:
    settings = _settings(
        **{
            "extra__ttm__timeout": "9",
            "extra__ttm__max_attempts": "2",
            "extra__ttm__backoff_cap": "4",
            "extra__ttm__verify": "false",
        }
    )

    assert (settings.timeout, settings.retry.max_attempts, settings.retry.backoff_cap) == (9.0, 2, 4.0)
    assert settings.verify is False


def test_plain_extra_names_win_over_prefixed_ones() -> None:
    assert _settings(timeout=5, extra__ttm__timeout=9).timeout == 5.0


# Every invalid value of every extra, and what the error must say is expected.
BAD_EXTRAS: list[tuple[str, object, str]] = [
    ("timeout", 0, "a number greater than 0"),
    ("timeout", "0", "a number greater than 0"),
    ("timeout", -1, "a number greater than 0"),
    ("timeout", "soon", "a number"),
    ("timeout", [30], "a number"),
    ("timeout", {"read": 3}, "a number"),
    ("timeout", True, "a number greater than 0"),
    ("max_attempts", 0, "a whole number from 1 to 20"),
    ("max_attempts", "0", "a whole number from 1 to 20"),
    ("max_attempts", -1, "a whole number from 1 to 20"),
    ("max_attempts", "-1", "a whole number from 1 to 20"),
    ("max_attempts", 2.5, "a whole number from 1 to 20"),
    ("max_attempts", "three", "a whole number from 1 to 20"),
    ("max_attempts", True, "a whole number from 1 to 20"),
    ("backoff_cap", -0.5, "a number at least 0"),
    ("backoff_cap", "later", "a number"),
    ("backoff_cap", False, "a number at least 0"),
    ("verify", "   ", "true, false or a CA bundle path"),
    ("verify", 5, "true, false or a CA bundle path"),
    ("verify", ["ca.pem"], "true, false or a CA bundle path"),
    ("allow_insecure_http", "maybe", "true or false"),
    ("allow_insecure_http", 2, "true or false"),
    ("allow_insecure_http", [], "true or false"),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD_EXTRAS)
def test_bad_extras_are_refused_naming_the_extra_and_the_connection(
    name: str, value: object, expected: str
) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(**{name: value})

    assert str(raised.value) == f"Connection {CONN!r}: extra {name!r} must be {expected}, got {value!r}."


@pytest.mark.parametrize(("name", "value", "expected"), BAD_EXTRAS)
def test_bad_prefixed_extras_are_refused_too(name: str, value: object, expected: str) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError, match=f"extra '{name}' must be"):
        _settings(**{f"extra__ttm__{name}": value})


@pytest.mark.parametrize("name", ["timeout", "backoff_cap"])
@pytest.mark.parametrize("value", ["nan", float("nan")])
def test_a_nan_number_extra_is_refused(name: str, value: object) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError, match=f"extra '{name}'"):
        _settings(**{name: value})


def test_a_non_decimal_digit_max_attempts_is_a_connection_config_error() -> None:
    with pytest.raises(TuneTheModelConnectionConfigError, match="extra 'max_attempts'"):
        _settings(max_attempts="²")


def test_max_attempts_above_the_declared_maximum_is_refused() -> None:
    with pytest.raises(TuneTheModelConnectionConfigError, match="extra 'max_attempts'"):
        _settings(max_attempts=21)


def test_repr_and_str_hide_the_api_key() -> None:
    settings = _settings()

    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        assert KEY not in text
        assert "api_key=***" in text
    assert repr(settings) == (
        "ConnectionSettings(conn_id='ttm_settings', base_url='https://api.example.test', api_key=***)"
    )


def test_errors_never_show_the_api_key() -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(timeout="bad")

    assert KEY not in str(raised.value)


# ---- the declared fields and the reader agree -------------------------------------------------


def test_every_declared_extra_is_read_by_the_hook() -> None:
    for name, bad in {
        "timeout": "x",
        "max_attempts": "x",
        "backoff_cap": "x",
        "verify": 5,
        "proxy": "socks5://proxy.example.test:1080",
        "allow_insecure_http": "x",
    }.items():
        assert name in CONNECTION_EXTRA_FIELDS
        with pytest.raises(TuneTheModelConnectionConfigError, match=f"extra '{name}'"):
            _settings(**{name: bad})
    assert set(CONNECTION_EXTRA_FIELDS) == {
        "timeout",
        "max_attempts",
        "backoff_cap",
        "verify",
        "proxy",
        "allow_insecure_http",
    }


def test_declared_defaults_are_the_defaults_the_hook_uses() -> None:
    settings = _settings()
    declared = {name: field.schema["default"] for name, field in CONNECTION_EXTRA_FIELDS.items()}

    assert declared["timeout"] == settings.timeout
    assert declared["max_attempts"] == settings.retry.max_attempts
    assert declared["backoff_cap"] == settings.retry.backoff_cap
    assert declared["verify"] == settings.verify
    assert declared["proxy"] is settings.proxy is None
    assert declared["allow_insecure_http"] is False
    with pytest.raises(TuneTheModelConnectionConfigError):
        _settings(host="http://api.example.test")


def test_every_declared_extra_has_a_label_description_and_nullable_schema() -> None:
    for name, field in CONNECTION_EXTRA_FIELDS.items():
        assert field.label, name
        assert field.description, name
        assert "null" in field.schema["type"], name


def test_ui_field_behaviour_relabels_host_password_and_port_and_hides_the_rest() -> None:
    assert UI_FIELD_BEHAVIOUR["relabeling"] == {
        "host": "Base URL",
        "password": "API Key",
        "port": "Base URL port",
    }
    assert set(UI_FIELD_BEHAVIOUR["hidden-fields"]) == {"schema", "login", "extra"}
    assert UI_FIELD_BEHAVIOUR["placeholders"]["host"] == DEFAULT_BASE_URL


# ---- the proxy extra ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "proxy"),
    [
        ("http://proxy.example.test:3128", "http://proxy.example.test:3128"),
        (" proxy.example.test:8080 ", "http://proxy.example.test:8080"),
        ("https://proxy.example.test:443/", "https://proxy.example.test:443"),
        ("http://user:p%40ss@proxy.example.test:3128", "http://user:p%40ss@proxy.example.test:3128"),
        ("http://[::1]:3128", "http://[::1]:3128"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_the_proxy_extra_is_read_and_normalised(value: str | None, proxy: str | None) -> None:
    assert _settings(proxy=value).proxy == proxy
    assert _settings(extra__ttm__proxy=value).proxy == proxy


PASSWORD = "hunter2-proxy-secret"
UNPARSABLE = "it cannot be parsed (an invalid port or an unclosed '[')"


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (f"socks5://user:{PASSWORD}@proxy.example.test:1080", "scheme 'socks5' is not http or https"),
        (f"http://user:{PASSWORD}@proxy.example.test", "it has no port"),
        (f"http://user:{PASSWORD}@:3128", "it has no host name"),
        (f"http://user:{PASSWORD}@proxy.example.test:99999", UNPARSABLE),
        (f"http://user:{PASSWORD}@[::1:3128", UNPARSABLE),
        (f"http://user:{PASSWORD}@proxy.example.test:3128/path", "it has a path, query or fragment"),
        (f"http://user:{PASSWORD}@proxy.example.test:3128?{PASSWORD}", "it has a path, query or fragment"),
        (3128, "it is not text"),
        (True, "it is not text"),
        ([f"http://user:{PASSWORD}@proxy.example.test:3128"], "it is not text"),
        ({"url": f"http://user:{PASSWORD}@proxy.example.test:3128"}, "it is not text"),
    ],
)
def test_a_bad_proxy_extra_is_refused_without_quoting_it(value: object, cause: str) -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _settings(proxy=value)

    message = str(raised.value)
    assert message.startswith(
        f"Connection {CONN!r}: extra 'proxy' must be an http:// or https:// proxy URL with a port"
    )
    assert message.endswith(f"but {cause}.")
    assert PASSWORD not in message
    assert "proxy.example.test" not in message


def test_repr_hides_the_proxy_and_its_password() -> None:
    settings = _settings(proxy=f"http://user:{PASSWORD}@proxy.example.test:3128")

    assert settings.proxy == f"http://user:{PASSWORD}@proxy.example.test:3128"
    assert "proxy" not in repr(settings)
    assert PASSWORD not in repr(settings)
