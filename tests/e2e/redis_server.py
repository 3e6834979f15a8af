"""A private, throw-away Redis on loopback (the Celery broker), from Debian's ``redis-server`` package."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from .debian import apt_install
from .processes import Component, start_component

REDIS_SERVER = "redis-server"


def ensure_redis_installed() -> Path:
    """Return the ``redis-server`` binary, installing Debian's ``redis-server`` package if it is missing.

    The package's own service is kept from starting: tests only ever run a private server.
    """
    found = shutil.which(REDIS_SERVER)
    if found is None:
        apt_install(REDIS_SERVER)
        found = shutil.which(REDIS_SERVER)
    if found is None:
        raise RuntimeError(f"apt-get installed {REDIS_SERVER} but it is not on PATH")
    return Path(found)


def start_redis(root: Path, port: int, env: dict[str, str], timeout: float = 30.0) -> Component:
    """Start ``redis-server`` on 127.0.0.1:``port`` without persistence, in ``root/redis``; wait until it answers.

    :param root: the deployment's temp dir (``redis.log`` goes there too).
    :param port: TCP port on 127.0.0.1.
    :param env: the server's environment (with the deployment's marker).
    :param timeout: seconds it may take to answer ``PING``.
    :raises RuntimeError: when it exits or does not answer in time.
    """
    data = root / "redis"
    data.mkdir()
    argv = [
        str(ensure_redis_installed()),
        *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(data)),
        *("--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"),
    ]
    server = start_component("redis", argv, env, root, root / "redis.log")
    deadline = time.monotonic() + timeout
    while not _answers_ping(port):
        if server.exited() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start (exit {server.exited()}); see {server.log_path}")
        time.sleep(0.1)
    return server


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
