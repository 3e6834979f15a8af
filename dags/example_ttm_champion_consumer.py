"""Classify the day's support messages with each new champion, as soon as it is crowned.

``example_ttm_nightly_retrain`` announces a champion it keeps as an asset event for
``ttm://<host>/models/<model id>`` through the asset alias ``ttm-champion`` (the model's id exists
only at run time, hence the alias). This DAG is scheduled on that alias: Airflow's scheduler starts
a run for each such event (on Airflow 2.11 the alias is a ``DatasetAlias`` and the run is
``dataset_triggered``). The first task reads the champion from the events that started the run
(``triggering_asset_events``), the second classifies a batch with it.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.providers.common.compat.sdk import DAG, AssetAlias, get_current_context, task

from airflow_provider_ttm.assets import CHAMPION_ALIAS, triggering_model_events
from airflow_provider_ttm.operators.inference import TuneTheModelClassifyOperator

# Under the provider's logger name, so the demo's summary shows these lines too.
log = logging.getLogger("airflow_provider_ttm.examples.champion_consumer")
MESSAGES = [
    "I was charged twice for my premium plan this month",
    "My kettle has not arrived and it is 10 days late",
    "The router stopped working after 3 days",
]

# [START howto_ttm_champion_consumer]
with DAG(
    dag_id="example_ttm_champion_consumer",
    schedule=[AssetAlias(CHAMPION_ALIAS)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,  # runs only on champion events, so it may start unpaused
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:

    @task
    def new_champion() -> str:
        """The model of the newest champion event that started this run."""
        events = triggering_model_events(get_current_context())
        if not events:
            raise ValueError("This run was not started by a ttm-champion asset event: there is no champion.")
        champion = events[-1]
        log.info(
            "Started by the event for champion %s (accuracy %s) from %s.",
            champion.uri,
            champion.extra.get("accuracy"),
            champion.timestamp,
        )
        return champion.model_id

    TuneTheModelClassifyOperator(task_id="classify_batch", model_name=new_champion(), inputs=MESSAGES)
# [END howto_ttm_champion_consumer]
