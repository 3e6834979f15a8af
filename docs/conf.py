"""Sphinx configuration of the provider's documentation: ``make docs`` builds it into build/docs/html.

The pages are Markdown (MyST) and reStructuredText; the API reference is read from the docstrings
(autodoc imports the provider, hence Airflow, with a throwaway Airflow home). No intersphinx: the
build never goes to the network, so references to Airflow's own classes stay plain text.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Importing Airflow writes airflow.cfg into its home: keep it out of the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / "build" / "docs" / "airflow-home"))
sys.path.insert(0, str(ROOT))

from airflow_provider_ttm import __version__  # noqa: E402

project = "airflow-provider-ttm"
author = "airflow-provider-ttm developers"
copyright = "the airflow-provider-ttm developers, Apache License 2.0"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["screenshots"]
# Anchors for Markdown headings, so `page.md#a-heading` links resolve (and are checked).
myst_heading_anchors = 3

# Every reference must resolve (-n), except those to types outside this provider: without
# intersphinx (no network) Sphinx cannot link Airflow's, the standard library's or httpx's classes.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!airflow_provider_ttm\.).*"),
    # The private base of the inference operators (each subclass documents every parameter).
    (r"py:class", r"airflow_provider_ttm\..*\._\w+"),
]
# Internals that appear in signatures of the hook: not part of the documented API.
nitpick_ignore = [
    ("py:class", "airflow_provider_ttm.connection_settings.ConnectionSettings"),
    ("py:class", "airflow_provider_ttm.hooks.transport.SyncTransport"),
    ("py:class", "airflow_provider_ttm.hooks.transport.AsyncTransport"),
    ("py:class", "airflow_provider_ttm.hooks.upload.UploadTransport"),
]

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = f"{project} {release}"
html_show_sourcelink = False
