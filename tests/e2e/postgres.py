"""A private, throw-away PostgreSQL cluster on loopback, from Debian's ``postgresql`` package."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .debian import apt_install

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"
INITDB_FLAGS = ("-E", "UTF8", "--no-locale", "--no-sync")


def find_pg_bin() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` holding ``pg_ctl``, if any."""
    found = [p.parent for p in PG_ROOT.glob("*/bin/pg_ctl") if p.is_file()]
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
        raise RuntimeError(f"apt-get installed postgresql but no pg_ctl under {PG_ROOT}/*/bin")
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
    :param bin_dir: PostgreSQL's bin dir (``pg_ctl``, ``initdb``, ``createdb``)
    :param env: environment for the server processes
    """

    root: Path
    port: int
    bin_dir: Path
    env: dict[str, str] = field(default_factory=dict)

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

    def start(self, database: str) -> None:
        """Create the cluster, start it and create ``database``."""
        for path in (self.data_dir, self.socket_dir):
            path.mkdir(mode=0o700)
            self._own(path)
        self.log_path.touch()
        self._own(self.log_path)
        self._run("initdb", "-D", self.data_dir, "-A", "trust", "-U", PG_USER, *INITDB_FLAGS)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", self.data_dir, "-l", self.log_path, "-o", options, "-w", "-t", "60", "start"
        )
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, database)

    def stop(self) -> None:
        """Stop the server (fast shutdown); SIGKILL the postmaster if that fails. Idempotent."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", "30", "stop", timeout=45)
        except (RuntimeError, subprocess.SubprocessError, OSError):
            self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, *_pg_ids())

    def _run(self, tool: str, *args: object, timeout: float = 120) -> None:
        """Run a PostgreSQL tool (as ``postgres`` when we are root), failing with its output."""
        as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        proc = subprocess.run(
            [str(self.bin_dir / tool), *map(str, args)],
            env={**self.env, "PGHOST": str(self.socket_dir), "PGPORT": str(self.port)},
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=PG_USER if as_postgres else None,
            group=_pg_ids()[1] if as_postgres else None,
            extra_groups=[] if as_postgres else None,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _pg_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid
