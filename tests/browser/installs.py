"""What the browser tests need outside the pinned venv: Debian's Chromium, and Playwright for Python.

Both are installed on first use when missing, so a fresh machine runs the tests with no manual step.
Playwright's own browser download (``playwright install``) is never used: it cannot reach its
servers here, and Debian's Chromium is driven through ``executable_path`` instead.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PINNED = Path(__file__).resolve().parents[2] / "requirements" / "airflow-3.3.txt"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
"""Chromium's flags: headless, as root, and without reaching out to the (closed) network."""


def ensure_chromium() -> Path:
    """Return Debian's Chromium, installing the ``chromium`` package first if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        raise RuntimeError(f"{CHROMIUM} is missing and we are not root: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=True, timeout=900)
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


def pinned_requirement(name: str, pinned: Path = PINNED) -> str:
    """The ``name==version`` line of the pinned requirements file."""
    pattern = re.compile(rf"^{re.escape(name)}==\S+$", re.IGNORECASE)
    for line in pinned.read_text().splitlines():
        if pattern.match(line.strip()):
            return line.strip()
    raise RuntimeError(f"{name} is not pinned in {pinned}")


def ensure_playwright() -> None:
    """Make ``playwright`` importable, pip-installing its pinned version into this venv if needed."""
    try:
        importlib.import_module("playwright.sync_api")
        return
    except ImportError:
        pass
    requirements = [pinned_requirement(name) for name in ("playwright", "greenlet")]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=900,
    )
    importlib.invalidate_caches()
    importlib.import_module("playwright.sync_api")
