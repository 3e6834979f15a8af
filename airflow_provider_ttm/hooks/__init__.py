"""Hooks of the Tune The Model provider."""
