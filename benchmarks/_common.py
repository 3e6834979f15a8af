"""What the benchmarks share: the emulator in a process of its own, a TLS certificate, the machine.

The emulator runs in a child process so that its CPU time is not counted as the client's. The
parent steers it over a pipe: create models, read the request counters and the time of every
status and list request, turn models Ready at set times (from a thread inside the emulator
process, so no request of the parent's does it).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import importlib.metadata
import ipaddress
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

API_KEY = "ttm-benchmark-key-0123456789"
REPO_ROOT = Path(__file__).resolve().parent.parent


def scratch_dir(prefix: str) -> str:
    """A temporary folder removed when this process exits."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def isolated_airflow_home() -> str:
    """Point Airflow at a throwaway home (no ~/airflow is written), before it is imported."""
    home = scratch_dir("ttm-bench-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return home


def raise_open_file_limit() -> None:
    """A thousand clients hold a thousand sockets: lift the soft limit to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the emulator in a child process ------------------------------------------------------------


def _serve(pipe: Connection, certfile: str | None, keyfile: str | None) -> None:
    """The child: serve the emulator and answer the parent's commands until told to stop."""
    raise_open_file_limit()
    from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer
    from airflow_provider_ttm.emulator.payloads import NewModel

    config = EmulatorConfig(api_keys=(API_KEY,), ssl_certfile=certfile, ssl_keyfile=keyfile)
    with EmulatorServer(config) as server:
        calls = _record_reads(server.state)
        pipe.send(server.url)
        while True:
            command, argument = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "create":
                new = NewModel("classifier", "bench", {"num_classes": 2}, None)
                pipe.send([server.state.create_model(API_KEY, new)["model_name"] for _ in range(argument)])
            elif command == "counters":
                pipe.send(server.control.counters())
            elif command == "reads":
                pipe.send(list(calls))
            elif command == "list_bytes":
                reply = server.state.list_models(API_KEY)
                pipe.send(len(json.dumps(reply, separators=(",", ":")).encode()))
            elif command == "ready_at":
                threading.Thread(target=_turn_ready, args=(server, argument), daemon=True).start()
                pipe.send(None)
            elif command == "reset":
                server.control.reset()
                calls.clear()
                pipe.send(None)


def _record_reads(state: Any) -> list[tuple[float, str]]:
    """Note the time of every status read (with the model's id) and list read (``"list"``)."""
    calls: list[tuple[float, str]] = []
    read_one, read_all = state.model_status, state.list_models

    def model_status(key: str, model_id: str) -> Any:
        calls.append((time.time(), model_id))
        return read_one(key, model_id)

    def list_models(key: str) -> Any:
        calls.append((time.time(), "list"))
        return read_all(key)

    state.model_status, state.list_models = model_status, list_models
    return calls


def _turn_ready(server: Any, schedule: list[tuple[str, float]]) -> None:
    for model_name, at in sorted(schedule, key=lambda item: item[1]):
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)
        server.control.force_status(model_name, "Ready")


class EmulatorProcess:
    """The emulator served by a child process (``with EmulatorProcess() as emulator:``).

    :param certfile: serve HTTPS with this certificate (and ``keyfile``).
    :param keyfile: the certificate's private key.
    """

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, certfile, keyfile), daemon=True)
        self.url = ""
        self.pid = 0

    def __enter__(self) -> EmulatorProcess:
        self._process.start()
        if not self._pipe.poll(60):
            self._process.kill()
            raise RuntimeError("the emulator process did not start")
        self.url = self._pipe.recv()
        self.pid = self._process.pid or 0
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def _call(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def create_models(self, count: int) -> list[str]:
        """Create ``count`` classifiers (status Created) for the benchmark key; return their ids."""
        return list(self._call("create", count))

    def counters(self) -> dict[str, int]:
        """Requests per route since the last reset."""
        return dict(self._call("counters"))

    def reads(self) -> list[tuple[float, str]]:
        """``(time, model id or "list")`` of every status and list request since the last reset."""
        return [(float(at), str(source)) for at, source in self._call("reads")]

    def list_bytes(self) -> int:
        """The size of the key's ``GET /v0/models`` reply body now."""
        return int(self._call("list_bytes"))

    def turn_ready_at(self, schedule: list[tuple[str, float]]) -> None:
        """Make each model Ready at its wall-clock time (seconds since the epoch)."""
        self._call("ready_at", schedule)

    def reset(self) -> None:
        """Forget every model and counter."""
        self._call("reset")

    def connection_json(self, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_...`` value for this emulator."""
        fields: dict[str, Any] = {"conn_type": "ttm", "host": self.url, "password": API_KEY}
        if extra:
            fields["extra"] = extra
        return json.dumps(fields)


# --- TLS ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A certificate authority and a server certificate for 127.0.0.1 it signed (PEM files)."""

    ca_file: str
    cert_file: str
    key_file: str


def make_certificate(folder: str) -> Certificate:
    """Make a throwaway CA and a server certificate for ``127.0.0.1`` and ``localhost``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ttm benchmark CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificate(
        ca_file=os.path.join(folder, "ca.pem"),
        cert_file=os.path.join(folder, "server.pem"),
        key_file=os.path.join(folder, "server.key"),
    )
    Path(paths.ca_file).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    Path(paths.cert_file).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(paths.key_file).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# --- the machine ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus": str(cores),
        "cpu_model": cpu_model,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "airflow": _version("apache-airflow"),
        "httpx": _version("httpx"),
        "requests": _version("requests"),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def median(values: list[float]) -> float:
    """The median (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
