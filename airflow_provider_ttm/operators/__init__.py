"""Operators of the Tune The Model provider."""
