"""Installing a Debian package for a test service, without letting the package start its own service."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def apt_install(package: str) -> None:
    """``apt-get update`` and ``apt-get install -y <package>``, its services kept from starting.

    :param package: the Debian package.
    :raises RuntimeError: when we are not root (and cannot install).
    """
    if os.geteuid() != 0:
        raise RuntimeError(f"{package} is not installed and we are not root: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    own_policy = not POLICY_RC_D.exists()
    if own_policy:  # Debian's way to say "do not start services from maintainer scripts"
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
            subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=True, timeout=900)
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
