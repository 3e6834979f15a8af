"""Event-driven scheduling: a DAG run when a model becomes Ready, whoever trained it (Airflow 3 only).

An ``AssetWatcher`` runs ``TuneTheModelModelReadyEventTrigger`` in the triggerer: each classifier
whose ``user_name`` starts with ``support-tickets-`` and that becomes Ready (trained by another DAG,
a notebook or the vendor's CLI) fires once, and Airflow starts this DAG for it. The task reads the
models from the triggering asset events. Models already Ready when the watcher first starts do not
fire. ``TTM_EXAMPLE_POKE_INTERVAL`` (seconds, default 60) lets the demo poll the emulator quickly.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_ttm.triggers.model_ready import TuneTheModelModelReadyEventTrigger, ready_models

POLL_INTERVAL = float(os.environ.get("TTM_EXAMPLE_POKE_INTERVAL", "60"))
log = logging.getLogger(__name__)

# [START howto_ttm_model_ready_watcher]
ready_classifiers = Asset(
    name="ttm_support_ticket_classifiers_ready",
    watchers=[
        AssetWatcher(
            name="ttm_support_ticket_classifier_ready",
            trigger=TuneTheModelModelReadyEventTrigger(
                ttm_conn_id="ttm_default",
                user_name_prefix="support-tickets-",
                model_type="classifier",
                poll_interval=POLL_INTERVAL,
            ),
        )
    ],
)

with DAG(
    dag_id="example_ttm_model_ready_watcher",
    schedule=[ready_classifiers],
    catchup=False,
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
):

    @task
    def use_new_models(triggering_asset_events: Any = None) -> list[str]:
        """Read the Ready models from the events that started the run (one or more)."""
        models = ready_models(triggering_asset_events[ready_classifiers])
        for model in models:
            log.info("Model %s (%s) is Ready.", model["model_name"], model["user_name"])
        return [model["model_name"] for model in models]

    use_new_models()
# [END howto_ttm_model_ready_watcher]
