"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ builds the connection form from ``conn-fields`` and ``ui-field-behaviour`` here,
without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ttm import __version__
from airflow_provider_ttm.connection_fields import CONNECTION_EXTRA_FIELDS, UI_FIELD_BEHAVIOUR

_MODULE = "airflow_provider_ttm"
_INTEGRATION = "Tune The Model"
#: The ``ttm://`` model URIs and their normaliser; Airflow 2.11 reads ``dataset-uris``, 3 ``asset-uris``.
_ASSET_URIS = [{"schemes": ["ttm"], "handler": f"{_MODULE}.assets.sanitize_uri"}]


def get_provider_info() -> dict[str, Any]:
    """Return the provider's description in the shape of Airflow's provider-info schema."""
    return {
        "package-name": "airflow-provider-ttm",
        "name": _INTEGRATION,
        "description": "`Tune The Model <https://tunethemodel.com>`__: fine-tuned text classifiers "
        "and generators, created, trained, called and deleted from Airflow tasks.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://tunethemodel.com",
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": [f"{_MODULE}.hooks.ttm"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    f"{_MODULE}.operators.base",
                    f"{_MODULE}.operators.data",
                    f"{_MODULE}.operators.ttm",
                    f"{_MODULE}.operators.training",
                    f"{_MODULE}.operators.inference",
                    f"{_MODULE}.operators.cleanup",
                ],
            }
        ],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": [f"{_MODULE}.sensors.ttm"]}],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [f"{_MODULE}.triggers.ttm", f"{_MODULE}.triggers.model_ready"],
            }
        ],
        "asset-uris": _ASSET_URIS,
        "dataset-uris": _ASSET_URIS,
        "connection-types": [
            {
                "connection-type": "ttm",
                "hook-class-name": f"{_MODULE}.hooks.ttm.TuneTheModelHook",
                "hook-name": _INTEGRATION,
                "conn-fields": {
                    name: {"label": spec.label, "description": spec.description, "schema": spec.schema}
                    for name, spec in CONNECTION_EXTRA_FIELDS.items()
                },
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
