"""The emulator faults a request may be retried after, for the tests that count attempts."""

from __future__ import annotations

from typing import Any

#: Fault rules (``EmulatorControl.add_fault`` keywords, the route aside) by the name of the failure.
RETRYABLE_FAULTS: dict[str, dict[str, Any]] = {
    "503": {"kind": "error", "status": 503},
    "429": {"kind": "rate_limit", "retry_after": "0"},
    "dropped connection": {"kind": "drop"},
}
