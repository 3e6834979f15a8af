"""A real HTTP CONNECT proxy and self-signed certificates on loopback, for the egress tests.

Their fixtures (``proxy``, ``tls_emulator``, ``connect``, ``clean_environment``) are in ``tests/unit/conftest.py``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.network import CA_BUNDLE_VARIABLES, NO_PROXY_VARIABLES, PROXY_VARIABLES

if TYPE_CHECKING:
    pass

#: Long and distinctive, so finding it among the relayed bytes means it travelled in clear.
API_KEY = "ttm-egress-key-5b0d9e2c41f7a6"
CONN_ID = "ttm_egress"
#: Every variable the provider reads, plus the ones it deliberately ignores.
ENVIRONMENT = (
    *(name for names in PROXY_VARIABLES.values() for name in names),
    *NO_PROXY_VARIABLES,
    *CA_BUNDLE_VARIABLES,
    "all_proxy",
    "ALL_PROXY",
)


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for ``127.0.0.1`` and ``localhost`` (its own CA) and its key."""

    cert: str
    key: str


def make_self_signed(folder: Path, name: str) -> TlsFiles:
    """Write a self-signed server certificate (which is also its CA) and its key into ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=str(folder / f"{name}.pem"), key=str(folder / f"{name}.key"))
    Path(files.cert).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(files.key).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


class ConnectProxy:
    """An HTTP CONNECT proxy on ``127.0.0.1`` served by an asyncio loop on a daemon thread; it also
    forwards plain-HTTP requests (``GET http://host:port/path``), as a forward proxy does.

    It records every request head it reads, every CONNECT target, and every byte it relays
    (both directions), so a test can tell what a proxy operator would see.

    :param refuse: a status line (``"502 Bad Gateway"``) to answer every CONNECT with.
    :param credentials: ``(user, password)`` it demands in ``Proxy-Authorization`` (else 407).
    :param tls: serve ``https://`` (TLS to the proxy itself) with this certificate.
    """

    def __init__(
        self,
        *,
        refuse: str | None = None,
        credentials: tuple[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.refuse = refuse
        self.credentials = credentials
        self.tls = tls
        self.heads: list[bytes] = []
        self.targets: list[str] = []
        self.relayed = bytearray()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="connect-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def seen(self) -> bytes:
        """Every byte the proxy read or relayed: request heads and tunnelled traffic."""
        with self._lock:
            return b"".join(self.heads) + bytes(self.relayed)

    def start(self) -> ConnectProxy:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert, self.tls.key)
        self._thread.start()
        serving = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=context), self._loop
        )
        self._server = serving.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            with self._lock:
                self.heads.append(head)
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            forward = method != "CONNECT" and target.startswith("http://")
            if method != "CONNECT" and not forward:
                await self._answer(writer, "405 Method Not Allowed")
                return
            if forward:  # relayed as it came: the first request names the connection's target
                target = target.removeprefix("http://").partition("/")[0]
            with self._lock:
                self.targets.append(target)
            refusal = self.refuse or self._authorization_problem(header_lines)
            if refusal:
                await self._answer(writer, refusal)
                return
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), timeout=10
            )
            if forward:
                upstream_writer.write(head)
                await upstream_writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError, ValueError):
            pass  # the client went away, or the proxy is stopping
        finally:
            writer.close()
            self._tasks.discard(task)

    def _authorization_problem(self, header_lines: list[str]) -> str | None:
        if self.credentials is None:
            return None
        expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization" and value.strip() == expected:
                return None
        return "407 Proxy Authentication Required"

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: str) -> None:
        extra = 'Proxy-Authenticate: Basic realm="test"\r\n' if status.startswith("407") else ""
        writer.write(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(64 * 1024):
                with self._lock:
                    self.relayed.extend(chunk)
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
