"""Resolving a proxy and CA bundle from the connection and the environment (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import TuneTheModelConnectionConfigError
from airflow_provider_ttm.network import Egress, ProxyFailure, describe_proxy

#: No proxy or CA bundle from the machine running the tests: each test sets its own.
pytestmark = pytest.mark.usefixtures("clean_environment")

API = "https://api.example.test"
PROXY = "http://proxy.corp.test:3128"


def _egress(env: dict[str, str], **extra: Any) -> Egress:
    settings = ConnectionSettings.from_connection("ttm_egress", API, "key", extra)
    return Egress.resolve(settings, env)


@pytest.mark.parametrize(
    ("env", "url", "proxy"),
    [
        ({"HTTPS_PROXY": PROXY}, API, PROXY),
        ({"https_proxy": PROXY}, API, PROXY),
        ({"https_proxy": PROXY, "HTTPS_PROXY": "http://upper.test:1"}, API, PROXY),  # lower case first
        ({"HTTPS_PROXY": " proxy.corp.test:3128 "}, API, PROXY),  # no scheme: http://
        ({"HTTPS_PROXY": "http://proxy.corp.test"}, API, "http://proxy.corp.test"),  # default port
        ({"HTTP_PROXY": PROXY}, API, None),  # an http:// proxy variable is for http:// URLs
        ({"HTTP_PROXY": PROXY}, "http://127.0.0.1:8080/v0", PROXY),
        ({"HTTPS_PROXY": PROXY}, "http://127.0.0.1:8080/v0", None),
        ({"ALL_PROXY": PROXY, "all_proxy": PROXY}, API, None),  # not read
        ({"HTTPS_PROXY": ""}, API, None),
        ({}, API, None),
    ],
)
def test_the_environment_proxy_for_each_scheme(env: dict[str, str], url: str, proxy: str | None) -> None:
    assert _egress(env).proxy_for(url) == proxy


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("api.example.test", API),
        ("API.Example.TEST", API),
        ("example.test", API),  # a domain covers its subdomains
        (".example.test", API),
        ("*.example.test", API),
        ("other.test, example.test", API),
        ("*", API),
        ("api.example.test:443", API),  # the URL's default port
        ("api.example.test:8443", "https://api.example.test:8443/v0"),
        ("127.0.0.1", "https://127.0.0.1:8443"),
        ("127.0.0.0/8", "https://127.0.0.1:8443"),
        ("127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("::1", "https://[::1]:8443"),
        ("[::1]:8443", "https://[::1]:8443"),
        ("::1/128", "https://[::1]:8443"),
    ],
)
@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
def test_no_proxy_entries_that_bypass_the_environment_proxy(no_proxy: str, url: str, variable: str) -> None:
    egress = _egress({"HTTPS_PROXY": PROXY, variable: no_proxy})

    assert egress.proxy_for(url) is None
    assert egress.requests_proxies(url) == {}


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("example.test", "https://notexample.test"),  # a suffix only at a dot
        ("api.example.test:8443", API),  # another port
        ("127.0.0.1:1", "https://127.0.0.1:8443"),
        ("10.0.0.0/8", "https://127.0.0.1:8443"),
        ("localhost", "https://127.0.0.1:8443"),  # names are not resolved
        ("127.0.0.1", "https://localhost:8443"),
        ("api.example.test.evil.test", API),
        (",  ,", API),
    ],
)
def test_no_proxy_entries_that_do_not_match(no_proxy: str, url: str) -> None:
    egress = _egress({"HTTPS_PROXY": PROXY, "NO_PROXY": no_proxy})

    assert egress.proxy_for(url) == PROXY
    assert egress.requests_proxies(url) == {"https": PROXY}


def test_the_proxy_extra_wins_over_the_environment_and_ignores_no_proxy() -> None:
    extra_proxy = "https://user:pass@extra-proxy.test:8443"
    env = {"HTTPS_PROXY": PROXY, "HTTP_PROXY": PROXY, "NO_PROXY": "*"}

    egress = _egress(env, proxy=extra_proxy)

    for url in (API, "http://127.0.0.1:8080", "https://uploads.storage.test/bucket/file?signature=s"):
        assert egress.proxy_for(url) == extra_proxy


def test_a_bad_environment_proxy_is_refused_naming_the_variable_not_the_password() -> None:
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _egress({"https_proxy": "socks5://user:hunter2@proxy.corp.test:1080"})

    message = str(raised.value)
    assert message.startswith("The environment variable https_proxy must be an http:// or https:// proxy URL")
    assert message.endswith("but scheme 'socks5' is not http or https.")
    assert "hunter2" not in message
    assert "proxy.corp.test" not in message


def test_a_bad_environment_proxy_is_ignored_when_the_extra_names_one() -> None:
    assert _egress({"HTTPS_PROXY": "socks5://proxy.corp.test:1080"}, proxy=PROXY).proxy_for(API) == PROXY


@pytest.mark.parametrize(
    ("variables", "chosen"),
    [
        (("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"), "REQUESTS_CA_BUNDLE"),
        (("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"), "CURL_CA_BUNDLE"),
        (("SSL_CERT_FILE", "SSL_CERT_DIR"), "SSL_CERT_FILE"),
        (("SSL_CERT_DIR",), "SSL_CERT_DIR"),
    ],
)
def test_the_ca_bundle_from_the_environment(tmp_path: Any, variables: tuple[str, ...], chosen: str) -> None:
    env = {}
    for name in variables:
        path = tmp_path / name
        path.mkdir() if name == "SSL_CERT_DIR" else path.write_text("")
        env[name] = str(path)

    assert _egress(env).verify == env[chosen]
    assert _egress(env, verify=True).verify == env[chosen]  # true is what the form saves by default
    assert _egress(env, verify=False).verify is False
    assert _egress(env, verify="/etc/our-ca.pem").verify == "/etc/our-ca.pem"


def test_without_a_ca_bundle_variable_the_built_in_one_is_used() -> None:
    assert _egress({}).verify is True
    assert _egress({"REQUESTS_CA_BUNDLE": "  "}).verify is True


def test_a_ca_bundle_variable_naming_nothing_is_refused_naming_the_variable(tmp_path: Any) -> None:
    missing = str(tmp_path / "missing.pem")

    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        _egress({"SSL_CERT_FILE": missing})

    assert str(raised.value).startswith(
        f"The environment variable SSL_CERT_FILE names the CA bundle {missing!r}"
    )
    assert _egress({"SSL_CERT_FILE": missing}, verify=False).verify is False


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@proxy.corp.test:3128", "http://proxy.corp.test:3128"),
        ("https://u:p%40ss@[::1]:8443", "https://[::1]:8443"),
        ("http://proxy.corp.test:3128", "http://proxy.corp.test:3128"),
    ],
)
def test_describe_proxy_drops_the_credentials(url: str, shown: str) -> None:
    assert describe_proxy(url) == shown


@pytest.mark.parametrize(
    ("proxy", "said", "wants_credentials"),
    [
        ("http://127.0.0.1:3128", "Tunnel connection failed: 407 Proxy Authentication Required", True),
        ("http://127.0.0.1:3128", "407 Proxy Authentication Required", True),
        # A 407 with no reason phrase, as http.client and httpcore write it.
        ("http://127.0.0.1:3128", "Tunnel connection failed: 407 ", True),
        ("http://127.0.0.1:3128", "407 ", True),
        # The digits in an address or a port, not as the answer's status.
        ("http://127.0.0.1:407", "Cannot connect to proxy 127.0.0.1:407: 502 Bad Gateway", False),
        ("http://127.0.0.1:407", "HTTPConnectionPool(host='127.0.0.1', port=407): 503 ", False),
        # A proxy whose port holds the digits 407 and that answered something else.
        ("http://127.0.0.1:40781", "502 Bad Gateway", False),
        ("http://proxy.example:8407", "Tunnel connection failed: 503 Service Unavailable", False),
        ("http://127.0.0.1:3128", "[Errno 111] Connection refused", False),
    ],
)
def test_a_proxy_wants_credentials_only_when_it_answered_407(
    proxy: str, said: str, wants_credentials: bool
) -> None:
    failure = ProxyFailure(proxy, said)

    assert failure.wants_credentials is wants_credentials
    assert str(failure) == f"through the proxy {proxy}: {said}"
