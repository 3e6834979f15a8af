"""A private, throw-away PostgreSQL cluster on loopback, from Debian's ``postgresql`` package; its
postmaster runs in the foreground, a child of the test run (it ends with it)."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_ttm.testing.lifetime import die_with_parent, forget, signal_pid

from .airflow_home import tail
from .debian import apt_install
from .processes import Component, start_component

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"
INITDB_FLAGS = ("-E", "UTF8", "--no-locale", "--no-sync")
SETTINGS = (
    "listen_addresses=127.0.0.1",
    *("fsync=off", "synchronous_commit=off", "full_page_writes=off"),
    "max_connections=200",
)


def find_pg_bin() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` holding ``postgres``, if any."""
    found = [p.parent for p in PG_ROOT.glob("*/bin/postgres") if p.is_file()]
    return max(found, key=lambda d: _version_key(d.parent.name), default=None)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def ensure_postgres_installed() -> Path:
    """Return PostgreSQL's bin dir, installing Debian's ``postgresql`` package first if it is missing.

    The package's own cluster service is kept from starting (``policy-rc.d``), and stopped
    should it run anyway: tests only ever use a private cluster.
    """
    bin_dir = find_pg_bin()
    if bin_dir is not None:
        return bin_dir
    apt_install("postgresql")
    _stop_debian_clusters()
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError(f"apt-get installed postgresql but no postgres under {PG_ROOT}/*/bin")
    return bin_dir


def _stop_debian_clusters() -> None:
    try:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return
    for line in listing.splitlines():
        version, name, _port, status, *_ = [*line.split(), "", "", "", ""]
        if status.startswith("online"):
            subprocess.run(["pg_ctlcluster", version, name, "stop"], check=False, timeout=60)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in ``root/pgdata``, listening on 127.0.0.1:``port`` only, trusting everyone.

    :param root: directory for the data, socket and log (must be traversable by ``postgres``)
    :param port: TCP port on 127.0.0.1
    :param bin_dir: PostgreSQL's bin dir (``postgres``, ``initdb``, ``createdb``, ``pg_isready``)
    :param env: environment for the server processes
    """

    root: Path
    port: int
    bin_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    server: Component | None = field(default=None, init=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.root / "pgsock"

    @property
    def log_path(self) -> Path:
        return self.root / "postgresql.log"

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL of ``database`` over TCP."""
        return f"postgresql+{driver}://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def start(self, database: str, timeout: float = 60.0) -> None:
        """Create the cluster, start the postmaster in the foreground (ours to stop) and create ``database``.

        :param database: the database to create.
        :param timeout: seconds the server may take to accept connections.
        """
        for path in (self.data_dir, self.socket_dir):
            path.mkdir(mode=0o700)
            self._own(path)
        self.log_path.touch()
        self._own(self.log_path)
        self._run("initdb", "-D", self.data_dir, "-A", "trust", "-U", PG_USER, *INITDB_FLAGS)
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-k", str(self.socket_dir), *(arg for setting in SETTINGS for arg in ("-c", setting))]
        # Not pg_ctl, which daemonizes it: the postmaster stays our child, in a group of its own, and
        # gets SIGQUIT (immediate shutdown: it stops its backends) should the test run die first.
        self.server = start_component(
            "postgres", argv, self.env, self.root, self.log_path, signal.SIGQUIT, **self._as_postgres()
        )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.server.exited() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres did not start:\n{tail(self.log_path)}")
            time.sleep(0.2)
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, database)

    def _accepts(self) -> bool:
        ready = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        return ready.returncode == 0

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server: fast shutdown; immediate shutdown if that takes longer than ``timeout``
        seconds, then SIGKILL. Idempotent.

        :param timeout: seconds for each step.
        """
        if self.server is None:
            return
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            signal_pid(self.server.pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.popen.wait(timeout=timeout)
                break
        forget(self.server.pgid)
        self.server = None

    def _as_postgres(self) -> dict[str, Any]:
        """The Popen arguments running a tool as ``postgres`` when we are root (initdb and postgres
        refuse to run as root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": PG_USER, "group": _pg_ids()[1], "extra_groups": []}

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, *_pg_ids())

    def _run(self, tool: str, *args: object, timeout: float = 120) -> None:
        """Run a PostgreSQL tool (as ``postgres`` when we are root), failing with its output."""
        proc = subprocess.run(
            [str(self.bin_dir / tool), *map(str, args)],
            env={**self.env, "PGHOST": str(self.socket_dir), "PGPORT": str(self.port)},
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=die_with_parent(signal.SIGKILL),
            **self._as_postgres(),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _pg_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid
