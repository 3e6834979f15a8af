"""Apache Airflow provider for the Tune The Model API."""

from __future__ import annotations

__version__ = "0.1.0"
