"""How a Tune The Model connection is read: base URL, API key and transport options (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_ttm.api.endpoints import API_PREFIX, read_integer
from airflow_provider_ttm.api.errors import TuneTheModelConnectionConfigError
from airflow_provider_ttm.api.parsing import is_loopback_host
from airflow_provider_ttm.api.retry import RetryPolicy
from airflow_provider_ttm.connection_fields import (
    CONNECTION_EXTRA_FIELDS,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT_SECONDS,
)
from airflow_provider_ttm.network import PROXY_EXPECTED, parse_proxy_url

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the transports need, read from one Airflow connection.

    :param conn_id: the connection's id, for messages.
    :param base_url: scheme and host (and optional path prefix) without a trailing slash.
    :param api_key: the secret sent as ``Authorization``; never printed by ``repr``.
    :param timeout: seconds per request.
    :param verify: TLS verification: True, False or a CA bundle path.
    :param retry: the retry policy for failed requests.
    :param proxy: the proxy URL every request goes through (the ``proxy`` extra), or None for the
        environment's (see ``airflow_provider_ttm.network``); may hold credentials, never printed.
    """

    conn_id: str
    base_url: str
    api_key: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    verify: bool | str = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    proxy: str | None = None

    def __repr__(self) -> str:
        return f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, api_key=***)"

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        host: str | None,
        password: str | None,
        extra: Mapping[str, Any],
        port: int | None = None,
    ) -> ConnectionSettings:
        """Validate and read a connection's fields.

        :param conn_id: the connection's id, named in every error.
        :param host: the connection's host field: the base URL (scheme optional).
        :param password: the connection's password field: the API key.
        :param extra: the connection's extras (plain or ``extra__ttm__`` prefixed names).
        :param port: the connection's port field, used when the host names no port (0 = none).
        :raises TuneTheModelConnectionConfigError: naming the field that is wrong.
        """
        if not password or not password.strip():
            raise TuneTheModelConnectionConfigError(
                f"Connection {conn_id!r} has no API key: put it in the connection's password "
                "field (shown as 'API Key')."
            )
        problem = _api_key_problem(password.strip())
        if problem:
            del password  # not in this frame's locals when a traceback is logged with them
            raise TuneTheModelConnectionConfigError(
                f"Connection {conn_id!r}: the API key holds {problem}; an API key is printable ASCII. "
                "Paste it again into the connection's password field (shown as 'API Key')."
            )
        options = _ExtraReader(conn_id, extra)
        allow_http = options.boolean("allow_insecure_http", False)
        retry = RetryPolicy(
            max_attempts=options.integer("max_attempts", 5),
            backoff_cap=options.number("backoff_cap", 60.0, minimum=0.0),
        )
        return cls(
            conn_id=conn_id,
            base_url=normalize_base_url(host, conn_id=conn_id, allow_insecure_http=allow_http, port=port),
            api_key=password.strip(),
            timeout=options.number("timeout", DEFAULT_TIMEOUT_SECONDS, minimum=0.0, exclusive=True),
            verify=options.verify(),
            retry=retry,
            proxy=options.proxy(),
        )


def _api_key_problem(key: str) -> str | None:
    """What makes ``key`` unfit for an HTTP header, without quoting it; None when it is fit.

    Line breaks, other control characters and non-ASCII characters would make the HTTP libraries
    fail on every request with a message (and a log line) that quotes the key.
    """
    for position, char in enumerate(key, start=1):
        if char in "\r\n":
            problem = "a line break"
        elif not char.isascii():
            problem = "a non-ASCII character"
        elif not char.isprintable():
            problem = "a control character"
        else:
            continue
        return f"{problem} (character {position} of {len(key)})"
    return None


def normalize_base_url(
    host: str | None, *, conn_id: str, allow_insecure_http: bool = False, port: int | None = None
) -> str:
    """Turn the connection's host field into a base URL.

    Accepts ``api.example.com``, ``https://api.example.com/`` or ``http://127.0.0.1:8765``. Plain
    ``http://`` is refused for non-loopback hosts unless ``allow_insecure_http``, so the API key is
    not sent in clear text by mistake. A trailing ``/v0`` (the API's version prefix) is dropped, and
    ``port`` is added when the host names none.
    """
    text = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        host_port = parts.port
        problem = _url_problem(parts.scheme, parts.hostname, parts.query, parts.fragment)
    except ValueError as error:
        problem = f"it cannot be parsed: {error}"
    else:
        if host_port is None and port:
            parts = parts._replace(netloc=f"{parts.netloc}:{port}")
    if problem:
        raise TuneTheModelConnectionConfigError(
            f"Connection {conn_id!r}: host {host!r} is not a usable base URL ({problem}); "
            f"expected something like {DEFAULT_BASE_URL!r}."
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname or ""):
        raise TuneTheModelConnectionConfigError(
            f"Connection {conn_id!r}: plain http:// to {parts.hostname!r} would send the API key "
            "unencrypted; use https://, or set the extra 'allow_insecure_http' to true."
        )
    path = parts.path.rstrip("/")
    path = path.removesuffix(API_PREFIX)
    return f"{parts.scheme}://{parts.netloc}{path}"


def _url_problem(scheme: str, hostname: str | None, query: str, fragment: str) -> str | None:
    if scheme not in ("http", "https"):
        return f"scheme {scheme!r} is not http or https"
    if not hostname:
        return "it has no host name"
    if query or fragment:
        return "it has a query or fragment"
    return None


class _ExtraReader:
    """Typed access to connection extras, with errors that name the extra and the connection."""

    def __init__(self, conn_id: str, extra: Mapping[str, Any]) -> None:
        self._conn_id = conn_id
        self._extra = extra

    def _raw(self, name: str) -> Any:
        value = self._extra.get(name, self._extra.get(f"extra__ttm__{name}"))
        return None if value == "" else value

    def _error(self, name: str, expected: str, value: Any) -> TuneTheModelConnectionConfigError:
        return TuneTheModelConnectionConfigError(
            f"Connection {self._conn_id!r}: extra {name!r} must be {expected}, got {value!r}."
        )

    def number(self, name: str, default: float, *, minimum: float, exclusive: bool = False) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._error(name, "a number", value) from None
        finite = math.isfinite(number)
        if isinstance(value, bool) or not finite or number < minimum or (exclusive and number == minimum):
            bound = f"greater than {minimum:g}" if exclusive else f"at least {minimum:g}"
            raise self._error(name, f"a number {bound}", value)
        return number

    def integer(self, name: str, default: int) -> int:
        """A whole number within the bounds the connection form declares for ``name``."""
        schema = CONNECTION_EXTRA_FIELDS[name].schema
        minimum, maximum = int(schema["minimum"]), int(schema["maximum"])
        value = self._raw(name)
        if value is None:
            return default
        number = read_integer(value)
        if isinstance(number, bool) or not isinstance(number, int) or not minimum <= number <= maximum:
            raise self._error(name, f"a whole number from {minimum} to {maximum}", value)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        parsed = _as_bool(value)
        if parsed is None:
            raise self._error(name, "true or false", value)
        return parsed

    def verify(self) -> bool | str:
        value = self._raw("verify")
        if value is None:
            return True
        parsed = _as_bool(value)
        if parsed is not None:
            return parsed
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise self._error("verify", "true, false or a CA bundle path", value)

    def proxy(self) -> str | None:
        """The ``proxy`` extra, validated; errors never quote it (it may hold a password)."""
        value = self._raw("proxy")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            if not isinstance(value, str):
                raise ValueError("it is not text")
            return parse_proxy_url(value)
        except ValueError as error:
            raise TuneTheModelConnectionConfigError(
                f"Connection {self._conn_id!r}: extra 'proxy' must be {PROXY_EXPECTED}, but {error}."
            ) from None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    return None
