"""Tests against a deliberately hostile server on loopback (importable as ``hostile.server``)."""
