"""Sensors of the Tune The Model provider."""
