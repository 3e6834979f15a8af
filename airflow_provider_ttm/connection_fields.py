"""The connection type's fields: what Airflow's form shows and the hook reads.

Plain data with no Airflow import, because ``get_provider_info`` loads it while Airflow itself is
still starting up. One table serves the form (``conn-fields``) and the hook, so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_BASE_URL = "https://api.tunethemodel.com"
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ExtraField:
    """One connection extra: its form label, description and JSON schema."""

    label: str
    description: str
    schema: dict[str, Any]


CONNECTION_EXTRA_FIELDS: dict[str, ExtraField] = {
    "timeout": ExtraField(
        "Request timeout (seconds)",
        "Seconds to wait for the service to answer one request.",
        {"type": ["number", "null"], "minimum": 0, "exclusiveMinimum": 0, "default": DEFAULT_TIMEOUT_SECONDS},
    ),
    "max_attempts": ExtraField(
        "Attempts per request",
        "Total attempts of a request the service failed to serve (429, 5xx, network errors).",
        {"type": ["integer", "null"], "minimum": 1, "maximum": 20, "default": 5},
    ),
    "backoff_cap": ExtraField(
        "Longest wait between attempts (seconds)",
        "Cap of the exponential backoff and of the service's Retry-After.",
        {"type": ["number", "null"], "minimum": 0, "default": 60},
    ),
    "verify": ExtraField(
        "TLS verification",
        "true (default: the CA bundle REQUESTS_CA_BUNDLE or SSL_CERT_FILE names, else the built-in "
        "one), false, or the path of a CA bundle to trust.",
        {"type": ["string", "boolean", "null"], "default": True},
    ),
    "proxy": ExtraField(
        "Proxy URL",
        "http://[user:password@]host:port of the HTTP proxy to go through; empty: the environment's "
        "HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY.",
        {"type": ["string", "null"], "default": None},
    ),
    "allow_insecure_http": ExtraField(
        "Allow plain http:// to non-loopback hosts",
        "Off by default: the API key then only travels over TLS, or to this machine.",
        {"type": ["boolean", "null"], "default": False},
    ),
}


# The port stays in the form: Airflow 3.3.2's Test action sends a saved connection's empty port as 0,
# which the api-server refuses as "differs from the stored connection". A filled port (443 for the
# service) keeps Test working; the hook adds it to a Base URL that names no port of its own.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "extra"],
    "relabeling": {"host": "Base URL", "password": "API Key", "port": "Base URL port"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "password": "your Tune The Model API key",
        "port": "443 (fill in: Airflow 3.3.2's Test button needs it)",
    },
}
