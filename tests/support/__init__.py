"""Helpers shared by the unit tests (importable as ``support``): fakes, datasets, and test servers.

- ``fakes``: what Airflow and the service hand the provider (task instance, state store, recorded sleeps).
- ``datasets``: classifier rows and columns.
- ``hostile_server``: a scripted, deliberately hostile HTTP/1.1 server on loopback.
- ``proxy``: a CONNECT proxy and self-signed certificates, for the egress tests.
- ``emulator_client``: a requests client with shortcuts, for the emulator's own tests.
- ``conditions``: waiting in an event loop until a condition holds.

Fixtures built on them live in ``tests/unit/conftest.py``.
"""
