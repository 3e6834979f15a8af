"""Through a real CONNECT proxy to the emulator over TLS: the API (sync and async) and the upload.

The proxy and the emulator run on 127.0.0.1, started by these tests; the proxy records every byte
it sees, so the tests can tell that the API key, the request and the upload signature only ever
crossed it inside TLS.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from support.proxy import API_KEY, ConnectProxy

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.datasets import Dataset
from airflow_provider_ttm.exceptions import TuneTheModelConnectionConfigError, TuneTheModelTransportError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

#: No proxy or CA bundle from the machine running the tests: each test sets its own.
pytestmark = pytest.mark.usefixtures("clean_environment")

if TYPE_CHECKING:
    from airflow_provider_ttm.emulator import EmulatorServer

LIST = "GET /v0/models"
DATASET = Dataset("generator", ("a question",), ("an answer",))


def _sync(conn_id: str) -> Any:
    """A call of a task: the hook's pooled ``requests`` session."""
    return TuneTheModelHook(ttm_conn_id=conn_id).list_models()


def _async(conn_id: str) -> Any:
    """A call of a trigger: ``hook.async_transport()`` (httpx)."""

    async def go() -> Any:
        transport = await TuneTheModelHook(ttm_conn_id=conn_id).async_transport()
        try:
            return await transport.send(endpoints.list_models())
        finally:
            await transport.aclose()

    return asyncio.run(go())


CALLS = pytest.mark.parametrize("call", [_sync, _async], ids=["sync", "async"])


def _target(emulator: EmulatorServer) -> str:
    return f"127.0.0.1:{emulator.port}"


def _assert_tunnelled(proxy: ConnectProxy, emulator: EmulatorServer, *secrets: str) -> None:
    """The proxy opened a tunnel to the emulator and saw nothing in clear but the CONNECT."""
    assert proxy.targets and set(proxy.targets) == {_target(emulator)}
    seen = proxy.seen()
    assert len(proxy.relayed) > 300  # TLS handshakes and records went through
    for secret in (API_KEY, *secrets):
        assert secret.encode() not in seen
    assert b"/v0/" not in seen  # even the request line was encrypted


# ---- the API, sync and async ------------------------------------------------------------------


@CALLS
@pytest.mark.parametrize("proxy_variable", ["HTTPS_PROXY", "https_proxy"])
@pytest.mark.parametrize("ca_variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_environment_proxy_and_ca_bundle_are_used(
    call: Any,
    proxy_variable: str,
    ca_variable: str,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(proxy_variable, proxy.url)
    monkeypatch.setenv(ca_variable, tls_files.cert)

    call(connect())

    assert tls_emulator.control.count(LIST) == 1
    _assert_tunnelled(proxy, tls_emulator)


@CALLS
@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "example.test,127.0.0.1", "127.0.0.0/8", "*", "port"])
def test_no_proxy_makes_the_call_bypass_the_proxy(
    call: Any,
    no_proxy: str,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", _target(tls_emulator) if no_proxy == "port" else no_proxy)
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)

    call(connect())

    assert tls_emulator.control.count(LIST) == 1
    assert proxy.seen() == b""


@CALLS
def test_no_proxy_by_name_for_a_connection_to_localhost(
    call: Any,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)
    host = f"https://localhost:{tls_emulator.port}"

    monkeypatch.setenv("no_proxy", "localhost")
    call(connect(host=host))
    assert proxy.seen() == b""

    monkeypatch.setenv("no_proxy", "127.0.0.1")  # the host as the URL names it: not resolved
    call(connect(host=host))
    assert proxy.targets == [f"localhost:{tls_emulator.port}"]
    assert tls_emulator.control.count(LIST) == 2


@CALLS
def test_no_proxy_for_another_port_or_host_keeps_the_proxy(
    call: Any,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{tls_emulator.port + 1},localhost,example.test")
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)

    call(connect())

    _assert_tunnelled(proxy, tls_emulator)


@CALLS
def test_the_proxy_extra_works_without_the_environment(
    call: Any, proxy: ConnectProxy, tls_emulator: EmulatorServer, tls_files: Any, connect: Any
) -> None:
    call(connect(proxy=proxy.url, verify=tls_files.cert))

    assert tls_emulator.control.count(LIST) == 1
    _assert_tunnelled(proxy, tls_emulator)


@CALLS
def test_the_proxy_extra_wins_over_the_environment_and_no_proxy(
    call: Any,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusing = ConnectProxy(refuse="502 Bad Gateway").start()
    try:
        monkeypatch.setenv("HTTPS_PROXY", refusing.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)

        call(connect(proxy=proxy.url))

        assert refusing.seen() == b""
    finally:
        refusing.stop()
    _assert_tunnelled(proxy, tls_emulator)


@CALLS
def test_proxy_credentials_from_the_extra_are_sent_to_the_proxy(
    call: Any, tls_emulator: EmulatorServer, tls_files: Any, connect: Any
) -> None:
    guarded = ConnectProxy(credentials=("airflow", "pr@xy pass")).start()
    try:
        call(connect(proxy=f"http://airflow:pr%40xy%20pass@127.0.0.1:{guarded.port}", verify=tls_files.cert))
        _assert_tunnelled(guarded, tls_emulator)
        assert b"\r\nProxy-Authorization: Basic YWlyZmxvdzpwckB4eSBwYXNz\r\n" in guarded.heads[0]
    finally:
        guarded.stop()


@CALLS
@pytest.mark.parametrize("trust", ["verify", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_an_https_proxy_is_verified_with_the_connections_ca_bundle(
    call: Any,
    trust: str,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls_proxy = ConnectProxy(tls=tls_files).start()
    try:
        if trust != "verify":
            monkeypatch.setenv(trust, tls_files.cert)
        call(connect(proxy=tls_proxy.url, **({"verify": tls_files.cert} if trust == "verify" else {})))
        _assert_tunnelled(tls_proxy, tls_emulator)
    finally:
        tls_proxy.stop()


@CALLS
def test_an_https_proxy_with_an_untrusted_certificate_is_refused(
    call: Any, tls_emulator: EmulatorServer, tls_files: Any, other_tls: Any, connect: Any
) -> None:
    tls_proxy = ConnectProxy(tls=other_tls).start()
    try:
        with pytest.raises(TuneTheModelTransportError, match="CERTIFICATE_VERIFY_FAILED"):
            call(connect(proxy=tls_proxy.url, verify=tls_files.cert))
        assert tls_proxy.targets == []
    finally:
        tls_proxy.stop()
    assert tls_emulator.control.counters() == {}


# ---- the CA bundle ----------------------------------------------------------------------------


@CALLS
def test_without_the_ca_bundle_the_emulator_certificate_is_refused(
    call: Any,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control for the tests above: it is the environment's bundle that made TLS work."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)

    with pytest.raises(TuneTheModelTransportError, match="CERTIFICATE_VERIFY_FAILED"):
        call(connect())

    assert tls_emulator.control.count(LIST) == 0
    assert proxy.targets == [_target(tls_emulator)]


@CALLS
@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_an_explicit_verify_extra_wins_over_the_environment_ca_bundle(
    call: Any,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    other_tls: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_tls.cert)
    monkeypatch.setenv("SSL_CERT_FILE", other_tls.cert)
    call(connect(verify=tls_files.cert))
    call(connect(verify=False))

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_files.cert)
    with pytest.raises(TuneTheModelTransportError, match="CERTIFICATE_VERIFY_FAILED"):
        call(connect(verify=other_tls.cert))
    call(connect(verify=True))  # true: verify, with the environment's bundle

    assert tls_emulator.control.count(LIST) == 3


@CALLS
def test_a_ca_bundle_variable_naming_no_file_is_a_clear_error_before_any_request(
    call: Any, tls_emulator: EmulatorServer, tmp_path: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))

    with pytest.raises(
        TuneTheModelConnectionConfigError, match="The environment variable SSL_CERT_FILE names"
    ):
        call(connect())

    assert tls_emulator.control.counters() == {}


# ---- a proxy that refuses ---------------------------------------------------------------------


@CALLS
@pytest.mark.parametrize(
    ("refusal", "credentials"),
    [
        ("502 Bad Gateway", None),
        ("503 Service Unavailable", None),
        (None, ("airflow", "the-right-password")),  # 407: the extra's password is wrong
        ("407", None),  # a 407 with no reason phrase
    ],
)
def test_a_refusing_proxy_is_a_clear_error_without_the_key_or_the_proxy_password(
    call: Any,
    refusal: str | None,
    credentials: tuple[str, str] | None,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
) -> None:
    refusing = ConnectProxy(refuse=refusal, credentials=credentials).start()
    password = "wrong-proxy-password-3f9"
    try:
        with pytest.raises(TuneTheModelTransportError) as raised:
            call(connect(proxy=f"http://airflow:{password}@127.0.0.1:{refusing.port}", verify=tls_files.cert))
    finally:
        refusing.stop()

    message = str(raised.value)
    status = (refusal or "407").split()[0]
    assert status in message
    assert "proxy" in message.lower()
    assert API_KEY not in message
    assert password not in message
    assert not raised.value.sent  # refused before the request: safe to send again
    assert raised.value.retryable is (status != "407")  # wrong credentials stay wrong
    assert refusing.targets == [_target(tls_emulator)]
    assert tls_emulator.control.counters() == {}


# ---- the upload -------------------------------------------------------------------------------


def _signature(file: Any) -> str:
    """The signature of a file's presigned upload URL: a secret of its own."""
    assert file.upload_url
    signature: str = file.upload_url.rpartition("signature=")[2]
    assert signature
    return signature


def _created_file(conn_id: str) -> Any:
    """A dataset file created on a hook of its own, before any proxy is set."""
    return TuneTheModelHook(ttm_conn_id=conn_id).create_file("egress.train", "generator")


def test_the_upload_goes_through_the_environment_proxy(
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_id = connect(verify=tls_files.cert)
    file = _created_file(conn_id)
    signature = _signature(file)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)

    TuneTheModelHook(ttm_conn_id=conn_id).upload_dataset(file, DATASET)

    assert tls_emulator.control.count("PUT /_upload/{id}") == 1
    _assert_tunnelled(proxy, tls_emulator, signature, "a question")


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "port"])
def test_no_proxy_applies_to_the_upload_host(
    no_proxy: str,
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn_id = connect(verify=tls_files.cert)
    file = _created_file(conn_id)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", _target(tls_emulator) if no_proxy == "port" else no_proxy)

    TuneTheModelHook(ttm_conn_id=conn_id).upload_dataset(file, DATASET)

    assert tls_emulator.control.count("PUT /_upload/{id}") == 1
    assert proxy.seen() == b""


def test_the_upload_and_the_api_go_through_the_proxy_extra(
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")  # not for the extra
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)
    hook = TuneTheModelHook(ttm_conn_id=connect(proxy=proxy.url))

    file = hook.create_file("egress.train", "generator")
    hook.upload_dataset(file, DATASET)

    assert tls_emulator.control.count("PUT /_upload/{id}") == 1
    _assert_tunnelled(proxy, tls_emulator, _signature(file), "a question")


def test_a_refusing_proxy_fails_the_upload_clearly(
    tls_emulator: EmulatorServer, tls_files: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = connect(verify=tls_files.cert)
    file = _created_file(conn_id)
    signature = _signature(file)
    refusing = ConnectProxy(credentials=("airflow", "right")).start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://airflow:wrong-password-77@127.0.0.1:{refusing.port}")
    try:
        with pytest.raises(TuneTheModelTransportError) as raised:
            TuneTheModelHook(ttm_conn_id=conn_id).upload_dataset(file, DATASET)
    finally:
        refusing.stop()

    assert not raised.value.sent
    message = str(raised.value)
    assert "407" in message
    assert "proxy" in message.lower()
    for secret in (API_KEY, "wrong-password-77", signature):
        assert secret not in message
    assert tls_emulator.control.count("PUT /_upload/{id}") == 0


# ---- read once ---------------------------------------------------------------------------------


#: What the names of the environment variables of proxies and CA bundles hold.
_EGRESS_NAMES = ("PROXY", "CA_BUNDLE", "SSL_CERT")


class _WatchedEnvironment(dict):  # type: ignore[type-arg]
    """An ``os.environ`` stand-in that records the proxy and TLS names looked up (others, such as the
    logging's colour switches, do not concern the transports)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.all_looked_up: list[str] = []

    @property
    def looked_up(self) -> list[str]:
        return [name for name in self.all_looked_up if any(mark in name.upper() for mark in _EGRESS_NAMES)]

    def __getitem__(self, name: str) -> str:
        self.all_looked_up.append(name)
        return str(super().__getitem__(name))

    def get(self, name: str, default: Any = None) -> Any:
        self.all_looked_up.append(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        self.all_looked_up.append(str(name))
        return super().__contains__(name)


def test_the_environment_is_read_once_per_session_not_per_request(
    proxy: ConnectProxy,
    tls_emulator: EmulatorServer,
    tls_files: Any,
    connect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", tls_files.cert)
    hook = TuneTheModelHook(ttm_conn_id=connect())
    hook.list_models()  # reads the connection and builds the session

    async def three_calls() -> None:
        transport = await hook.async_transport()
        watched = _WatchedEnvironment(os.environ)
        with monkeypatch.context() as patch:
            patch.setattr(os, "environ", watched)
            for _ in range(3):
                await transport.send(endpoints.list_models())
        await transport.aclose()
        assert watched.looked_up == []

    watched = _WatchedEnvironment(os.environ)
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", watched)
        for _ in range(3):
            hook.list_models()
    asyncio.run(three_calls())

    assert watched.looked_up == []
    assert tls_emulator.control.count(LIST) == 7
    assert set(proxy.targets) == {_target(tls_emulator)}
