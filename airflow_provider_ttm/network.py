"""How requests leave this machine: the proxy for each URL and the CA bundle TLS trusts.

Resolved once when a transport is built, from the connection's ``proxy`` and ``verify`` extras and
the standard environment, and then handed to ``requests``/``httpx`` explicitly (their own
``trust_env`` stays off, so no request looks at the environment again):

- proxy: the ``proxy`` extra when set; otherwise ``https_proxy``/``HTTPS_PROXY`` for ``https://``
  URLs and ``http_proxy``/``HTTP_PROXY`` for ``http://`` ones (lower case first, as ``requests``
  reads them), unless ``no_proxy``/``NO_PROXY`` names the URL's host. The extra is not subject to
  ``NO_PROXY``: it is this connection's own choice, while ``NO_PROXY`` is the machine's list of
  exceptions to the machine's proxy (``requests`` treats explicit proxies the same way).
- CA bundle: the ``verify`` extra when it is false or a path; otherwise the first of
  ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR`` that is set;
  otherwise ``True`` (certifi's bundle).

Pure: no HTTP library is imported here. A proxy URL may hold credentials; no message quotes it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_ttm.api.errors import TuneTheModelConnectionConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_ttm.connection_settings import ConnectionSettings

#: What a proxy setting must look like, for messages.
PROXY_EXPECTED = "an http:// or https:// proxy URL with a port, like 'http://proxy.example.com:3128'"
#: Proxy variables per URL scheme, in the order they are read.
PROXY_VARIABLES: dict[str, tuple[str, str]] = {
    "https": ("https_proxy", "HTTPS_PROXY"),
    "http": ("http_proxy", "HTTP_PROXY"),
}
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_proxy_url(value: str, *, require_port: bool = True) -> str:
    """The proxy URL ``value`` normalised (``http://`` added when it names no scheme).

    :param value: ``[scheme://][user:password@]host[:port]``; credentials percent-encoded.
    :param require_port: refuse a URL without a port (else the scheme's default port is used).
    :raises ValueError: saying what is wrong, never quoting ``value`` (it may hold a password).
    """
    text = value.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("it cannot be parsed (an invalid port or an unclosed '[')") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise ValueError("it has no host name")
    if port is None and require_port:
        raise ValueError("it has no port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("it has a path, query or fragment")
    return f"{parts.scheme}://{parts.netloc}"


def describe_proxy(url: str) -> str:
    """``scheme://host:port`` of a proxy URL: what messages may show (never its credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and what caused it, as HTTP libraries wrap their errors: ``__cause__``,
    ``__context__``, a ``reason`` attribute and exception arguments, each once (at most 32)."""
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending and len(seen) < 32:
        cause = pending.pop()
        if not isinstance(cause, BaseException) or any(cause is known for known in seen):
            continue
        seen.append(cause)
        pending.extend((cause.__context__, cause.__cause__, getattr(cause, "reason", None), *cause.args))
    return seen


@dataclass(frozen=True)
class ProxyFailure:
    """A proxy failed a request: which proxy (its password left out), and what it said.

    :param proxy: the proxy, as ``describe_proxy`` shows it.
    :param said: the proxy error's own text (e.g. ``Tunnel connection failed: 407 Proxy
        Authentication Required``).
    """

    proxy: str
    said: str

    def __str__(self) -> str:
        return f"through the proxy {self.proxy}: {self.said}"

    @property
    def wants_credentials(self) -> bool:
        """Whether the proxy refused our credentials (407): the same request would be refused again.

        The status stands alone in the proxy's answer (``http.client`` and ``httpcore`` write
        ``"<code> <reason>"``, the reason possibly empty), unlike a port or address holding the digits.
        """
        return re.search(r"(?<!\S)407(?!\S)", self.said) is not None


def proxy_failure(error: BaseException, proxy: str | None) -> ProxyFailure | None:
    """Why ``proxy`` failed the request, when ``error`` says the proxy did (else None).

    A proxy that refuses the tunnel (407, 502...) raises a ``ProxyError`` in ``requests``,
    ``urllib3``, ``httpx`` and ``httpcore`` alike (``requests`` also for a proxy it cannot reach):
    matched by name along the causes, so no HTTP library is imported here. The request then never
    reached the service. The text is the innermost ``ProxyError``'s own, which quotes no URL, so
    neither a presigned signature nor the proxy's password.

    :param error: what the HTTP library raised.
    :param proxy: the proxy the request went through (None: there was none).
    """
    if proxy is None:
        return None
    refusals = [cause for cause in causes(error) if type(cause).__name__ == "ProxyError"]
    if not refusals:
        return None
    innermost = refusals[-1]
    inner = [arg for arg in innermost.args if isinstance(arg, BaseException)]
    said = str(inner[-1] if inner else innermost) or type(innermost).__name__
    return ProxyFailure(describe_proxy(proxy), said)


@dataclass(frozen=True)
class Egress:
    """The proxy and TLS trust of one transport, fixed when it is built.

    :param verify: TLS verification for ``requests``/``tls_verification``: False, True or a CA path.
    :param proxy: the connection's ``proxy`` extra, used for every URL.
    :param env_proxies: the environment's proxy per URL scheme (used when ``proxy`` is None).
    :param no_proxy: the environment's ``NO_PROXY`` entries, lower case.
    """

    verify: bool | str = True
    proxy: str | None = None
    env_proxies: Mapping[str, str] | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, settings: ConnectionSettings, environ: Mapping[str, str] | None = None) -> Egress:
        """Read the connection's extras and the environment (``os.environ`` unless given) once.

        :param settings: the connection's settings (its ``proxy`` and ``verify``).
        :param environ: the environment to read.
        :raises TuneTheModelConnectionConfigError: naming the variable that holds an unusable value.
        """
        env = os.environ if environ is None else environ
        proxies = {} if settings.proxy else _environment_proxies(env)
        no_proxy = "" if settings.proxy else _first_set(env, NO_PROXY_VARIABLES)[1]
        return cls(
            verify=_ca_bundle(settings.verify, env),
            proxy=settings.proxy,
            env_proxies=proxies,
            no_proxy=tuple(entry.strip().lower() for entry in no_proxy.split(",") if entry.strip()),
        )

    def proxy_for(self, url: str) -> str | None:
        """The proxy to reach ``url`` through, or None to connect directly."""
        if self.proxy:
            return self.proxy
        parts = urlsplit(url)
        proxy = (self.env_proxies or {}).get(parts.scheme)
        if proxy is None:
            return None
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        if any(_no_proxy_matches(entry, host, port) for entry in self.no_proxy):
            return None
        return proxy

    def requests_proxies(self, url: str) -> dict[str, str]:
        """``proxy_for(url)`` as the ``proxies`` mapping of ``requests`` (empty: connect directly)."""
        proxy = self.proxy_for(url)
        return {urlsplit(url).scheme: proxy} if proxy else {}


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str]:
    """The first of ``names`` set to a non-blank value, and that value (``("", "")`` if none)."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return "", ""


def _environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    proxies = {}
    for scheme, names in PROXY_VARIABLES.items():
        name, value = _first_set(env, names)
        if not value:
            continue
        try:
            # Without a port, the scheme's default, as requests and httpx read the same variable.
            proxies[scheme] = parse_proxy_url(value, require_port=False)
        except ValueError as error:
            raise TuneTheModelConnectionConfigError(
                f"The environment variable {name} must be {PROXY_EXPECTED}, but {error}."
            ) from None
    return proxies


def _ca_bundle(verify: bool | str, env: Mapping[str, str]) -> bool | str:
    """The connection's ``verify`` unless it is True, which the environment's CA bundle refines."""
    if verify is not True:
        return verify
    name, path = _first_set(env, CA_BUNDLE_VARIABLES)
    if not path:
        return True
    if not os.path.exists(path):
        raise TuneTheModelConnectionConfigError(
            f"The environment variable {name} names the CA bundle {path!r}, which does not exist; "
            "fix or unset it, or set the connection's extra 'verify'."
        )
    return path


def _no_proxy_matches(entry: str, host: str, port: int) -> bool:
    """Whether a ``NO_PROXY`` entry (``*``, a domain, ``.domain``, an IP or network, with an
    optional ``:port``) covers ``host`` (as written in the URL; no name is resolved) on ``port``."""
    if entry == "*":
        return True
    name, entry_port = _split_entry(entry)
    if entry_port is not None and entry_port != port:
        return False
    try:
        network = ipaddress.ip_network(name, strict=False)
    except ValueError:
        suffix = name.lstrip("*").lstrip(".")
        return bool(suffix) and (host == suffix or host.endswith(f".{suffix}"))
    try:
        return ipaddress.ip_address(host) in network
    except ValueError:
        return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``(host, port)`` of ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdecimal() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdecimal():
            return name, int(port)
    return entry, None
