"""The background server: ports, start and stop, TLS, and the connection it advertises."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import threading
import time

import pytest
import requests

from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer, FaultRule, ManualClock
from airflow_provider_ttm.emulator.config import DEFAULT_API_KEY


def test_port_zero_picks_a_free_port_and_serves_at_once():
    server = EmulatorServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url

    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        reply = requests.get(
            server.url + "/v0/public-models", headers={"Authorization": DEFAULT_API_KEY}, timeout=5
        )
        assert reply.status_code == 200
        with pytest.raises(RuntimeError, match="already started"):
            server.start()


def test_stop_is_quick_idempotent_and_closes_the_port():
    server = EmulatorServer().start()
    session = requests.Session()
    assert session.get(server.url + "/_emulator/state", timeout=5).status_code == 200

    started = time.monotonic()
    server.stop()
    server.stop()

    assert time.monotonic() - started < 3
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(server.url + "/_emulator/state", timeout=5)
    session.close()


def test_a_busy_port_is_an_error():
    with EmulatorServer() as first, pytest.raises(OSError):
        EmulatorServer(EmulatorConfig(port=first.port)).start()


def test_stop_is_quick_with_a_reply_in_flight():
    server = EmulatorServer(EmulatorConfig(faults=(FaultRule(kind="latency", delay_seconds=60),))).start()
    outcomes = []

    def call():
        try:
            reply = requests.get(
                server.url + "/v0/models", headers={"Authorization": server.api_key}, timeout=30
            )
            outcomes.append(reply.status_code)
        except requests.exceptions.RequestException as exc:
            outcomes.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while server.control.counters() == {} and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    server.stop()
    caller.join(10)

    assert time.monotonic() - started < 5
    assert not caller.is_alive()
    # The reply in flight is cut short: a 500 (uvicorn cancels the request) or a broken connection.
    assert len(outcomes) == 1
    assert outcomes[0] != 200


def test_conn_json_points_at_the_server_with_the_key():
    with EmulatorServer(EmulatorConfig(api_keys=("k1", "k2"))) as server:
        assert json.loads(server.conn_json) == {"conn_type": "ttm", "host": server.url, "password": "k1"}
        assert server.api_key == "k1"


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = EmulatorServer(EmulatorConfig(host="::1")).start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server:
        assert server.url == f"http://[::1]:{server.port}"
        assert requests.get(server.url + "/_emulator/state", timeout=5).status_code == 200


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(certfile), str(keyfile)


def test_tls(tmp_path):
    certfile, keyfile = _self_signed(tmp_path)
    config = EmulatorConfig(ssl_certfile=certfile, ssl_keyfile=keyfile)

    with EmulatorServer(config) as server:
        assert server.url.startswith("https://127.0.0.1:")
        headers = {"Authorization": server.api_key}
        created = requests.post(
            server.url + "/v0/files",
            json={"name": "f", "task_type": "generator"},
            headers=headers,
            verify=certfile,
        ).json()
        assert created["upload_url"].startswith(server.url + "/_upload/")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/v0/models", headers=headers, timeout=5)


def test_unreadable_tls_files_fail_the_start(tmp_path):
    missing = str(tmp_path / "missing.pem")

    with pytest.raises(RuntimeError, match="did not start"):
        EmulatorServer(EmulatorConfig(ssl_certfile=missing, ssl_keyfile=missing)).start()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_keys": ()}, "api_keys"),
        ({"api_keys": "one-key"}, "api_keys"),
        ({"api_keys": ("",)}, "API key"),
        ({"train_seconds": -1}, "negative"),
        ({"fit_failure_rate": 1.5}, "fit_failure_rate"),
        ({"id_spelling": "camel"}, "id_spelling"),
        ({"ssl_certfile": "cert.pem"}, "ssl_keyfile"),
    ],
)
def test_invalid_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(**changes)


def test_start_settings_cannot_change_at_run_time():
    with pytest.raises(ValueError, match="port"):
        EmulatorConfig().replace(port=8080)


def test_a_manual_clock_does_not_go_backward():
    clock = ManualClock(100.0)

    assert clock.advance(5) == clock() == 105.0
    with pytest.raises(ValueError, match="backward"):
        clock.advance(-1)
