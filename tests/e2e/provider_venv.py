"""A venv with the pinned Airflow whose provider wheel can be swapped for another one (an upgrade).

A past release's wheel is built from its commit's tree (``git archive``), the current one is what
``make`` built (``TTM_WHEEL``) or is built from the checkout; both with the test venv's setuptools,
without build isolation, so no build needs the network. The venv is made by uv from the package
cache (about a second).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from airflow_provider_ttm.testing.lifetime import die_with_parent
from airflow_provider_ttm.version_compat import get_base_airflow_version_tuple

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_ttm"
DISTRIBUTION = "airflow-provider-ttm"
COMMAND_TIMEOUT = 300.0  # seconds for any one build or install


def uv() -> Path:
    """The uv that ``make`` installs (``.venv-tools``), else the one on PATH."""
    found = REPO / ".venv-tools" / "bin" / "uv"
    if found.is_file():
        return found
    on_path = shutil.which("uv")
    if on_path is None:
        raise RuntimeError(
            "uv is needed to make the upgrade venv: run `make venv` (installs it in .venv-tools)"
        )
    return Path(on_path)


def _run(*argv: str | Path) -> None:
    done = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


def _build_wheel(source: Path, out_dir: Path) -> Path:
    """Build ``source``'s sdist, then the wheel from it (as ``make wheel`` does), into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _run(
        uv(),
        "build",
        "--quiet",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "--out-dir",
        out_dir,
        source,
    )
    (wheel,) = out_dir.glob("*.whl")
    return wheel


def release_wheel(commit: str, work_dir: Path) -> Path:
    """The provider's wheel as it was at ``commit``, built from that commit's tree.

    :param commit: a commit of this repository (a full clone has them all).
    :param work_dir: an empty directory for the tree and the wheel.
    """
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit],
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    if archive.returncode != 0:
        raise RuntimeError(f"git archive {commit} failed (a shallow clone?): {archive.stderr.decode()}")
    source = work_dir / f"src-{commit}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(source, filter="data")
    return _build_wheel(source, work_dir / f"dist-{commit}")


def current_wheel(work_dir: Path) -> Path:
    """The wheel ``make`` built (``TTM_WHEEL``), else one built from the checkout into ``work_dir``."""
    built = os.environ.get("TTM_WHEEL")
    return Path(built) if built else _build_wheel(REPO, work_dir / "dist-current")


def wheel_sources(wheel: Path) -> dict[str, str]:
    """The provider's ``.py`` files in ``wheel``: path in the package -> sha256."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if name.startswith(f"{PACKAGE}/") and name.endswith(".py")
        }


class ProviderVenv:
    """A venv in ``root`` with exactly the pins of the running Airflow line, then one provider wheel.

    :param root: where the venv goes (made by :meth:`create`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        major, minor = get_base_airflow_version_tuple()[:2]
        self.pins = REPO / "requirements" / f"airflow-{major}.{minor}.txt"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def create(self, wheel: Path) -> None:
        """Make the venv: the pinned set, then ``wheel`` with its requirements (which the pins must meet)."""
        _run(uv(), "venv", "--quiet", "--python", sys.executable, self.root)
        _run(uv(), "pip", "sync", "--quiet", "--python", self.bin_dir / "python", self.pins)
        self.install(wheel)

    def install(self, wheel: Path) -> None:
        """Install ``wheel`` over the provider there (the same version number or not), as ``pip install
        -U`` does; nothing else may move (``-c`` the pins)."""
        _run(
            uv(), "pip", "install", "--quiet", "--python", self.bin_dir / "python", "-c", self.pins,
            "--reinstall-package", DISTRIBUTION, wheel,
        )  # fmt: skip

    def installed_sources(self) -> dict[str, str]:
        """The provider's installed ``.py`` files: path in the package -> sha256."""
        (site,) = self.root.glob("lib/python*/site-packages")
        return {
            path.relative_to(site).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in (site / PACKAGE).rglob("*.py")
        }
