"""Triggers of the Tune The Model provider."""
