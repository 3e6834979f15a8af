"""Retrain a Tune The Model classifier every night; keep it only if it beats the last champion.

Each run builds fresh training and validation sets (generated here, so the example needs no
download), creates a classifier, uploads the datasets, trains it and waits in the triggerer until
it is Ready (deferrable), classifies the validation set, and computes the accuracy from each row's
predicted ``class``: with three topics, the index of the highest of the three scores (a binary
classifier answers one score instead, and ``class`` comes from the operator's ``threshold``). The candidate
becomes the champion if its accuracy beats the one stored in the Airflow Variable
``ttm_nightly_champion`` by the last run that won; the loser (the old champion, or the candidate)
is deleted. A new champion that is kept (see ``keep_champion``) is announced as an asset event
for ``ttm://<host>/models/<model id>`` through the asset alias ``ttm-champion``, with its accuracy
in the event's extra: ``example_ttm_champion_consumer`` runs on it.

``keep_champion`` (a DAG param, default True) keeps the winning model serving until the next run.
Trigger with ``{"keep_champion": false}`` to have the run delete the winner too and leave nothing
behind (the demo does); the Variable still keeps the accuracy to beat. ``TTM_EXAMPLE_POKE_INTERVAL`` (seconds,
default 60) and ``TTM_EXAMPLE_RETRY_DELAY`` (seconds, default 300) let the demo and the tests run
quickly against the bundled emulator.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, AssetAlias, Param, Variable, task

from airflow_provider_ttm.assets import CHAMPION_ALIAS, connection_host, emit_model_event
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import TuneTheModelClassifyOperator
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
)

POKE_INTERVAL = float(os.environ.get("TTM_EXAMPLE_POKE_INTERVAL", "60"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("TTM_EXAMPLE_RETRY_DELAY", "300")))
CHAMPION_VARIABLE = "ttm_nightly_champion"
# Under the provider's logger name, so the demo's summary shows these lines too.
log = logging.getLogger("airflow_provider_ttm.examples.nightly_retrain")
TOPICS = ("billing", "delivery", "product")
TEMPLATES = {
    "billing": (
        "I was charged twice for my {plan} plan this month",
        "Please refund the {amount} charge on my card",
        "Why did my {plan} subscription price go up by {amount}",
        "The invoice for order {order} shows the wrong amount",
    ),
    "delivery": (
        "My {item} has not arrived and it is {days} days late",
        "The courier left the {item} at the wrong address",
        "Tracking for order {order} has not moved for {days} days",
        "The box with my {item} arrived crushed",
    ),
    "product": (
        "The {item} stopped working after {days} days",
        "How do I reset the {item} to factory settings",
        "The {item} makes a loud noise when it starts",
        "Is the {item} compatible with the {plan} accessories",
    ),
}
FILLERS = {
    "plan": ("basic", "family", "premium", "student"),
    "amount": ("$5", "$12.99", "$40", "$100"),
    "order": ("A-1042", "B-2291", "C-7730", "D-0150"),
    "item": ("blender", "headset", "kettle", "router", "camera"),
    "days": ("3", "5", "10", "14"),
}


def make_dataset(rng: random.Random, rows: int) -> dict[str, list[Any]]:
    """``rows`` support messages, each labelled with its topic's index (the service's dataset form)."""
    inputs, classes = [], []
    for _ in range(rows):
        label = rng.randrange(len(TOPICS))
        template = rng.choice(TEMPLATES[TOPICS[label]])
        inputs.append(template.format(**{key: rng.choice(values) for key, values in FILLERS.items()}))
        classes.append(label)
    return {"inputs": inputs, "classes": classes}


with DAG(
    dag_id="example_ttm_nightly_retrain",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "keep_champion": Param(
            True, type="boolean", description="Keep the winning model serving after the run."
        )
    },
    tags=["example", "tune-the-model"],
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=True)
    def build_datasets(run_id: str | None = None) -> dict[str, Any]:
        """Fresh data for tonight: 96 training and 48 validation rows, seeded by the run."""
        rng = random.Random(run_id)
        return {"train": make_dataset(rng, 96), "validation": make_dataset(rng, 48)}

    # [START howto_ttm_train_and_classify]
    datasets = build_datasets()
    create = TuneTheModelCreateModelOperator(
        task_id="create_candidate", model_type="classifier", num_classes=len(TOPICS)
    )
    train = TuneTheModelTrainModelOperator(
        task_id="train_candidate",
        model_name=create.output,
        train_data=datasets["train"],
        validation_data=datasets["validation"],
        model_type="classifier",
        num_classes=len(TOPICS),
        wait_for_ready=True,
        deferrable=True,
        poll_interval=POKE_INTERVAL,
        timeout=timedelta(hours=6),
    )
    score = TuneTheModelClassifyOperator(
        task_id="score_validation", model_name=train.output, inputs=datasets["validation"], max_concurrency=4
    )
    # [END howto_ttm_train_and_classify]

    @task
    def evaluate(predictions: list[dict[str, Any]], validation: dict[str, Any]) -> float:
        """The share of validation rows whose predicted ``class`` is the true one."""
        hits = sum(p["class"] == truth for p, truth in zip(predictions, validation["classes"], strict=True))
        accuracy = hits / len(predictions)
        log.info("Candidate accuracy: %.3f (%d of %d validation rows).", accuracy, hits, len(predictions))
        return accuracy

    # [START howto_ttm_announce_champion]
    @task(outlets=[AssetAlias(CHAMPION_ALIAS)])
    def pick_champion(
        candidate: str,
        accuracy: float,
        run_id: str | None = None,
        params: dict[str, Any] | None = None,
        outlet_events: Any = None,
    ) -> list[str]:
        """Promote the candidate if it beats the stored accuracy; return the loser's id to delete.

        A champion kept for serving is announced through the ``ttm-champion`` asset alias.
        """
        champion = Variable.get(CHAMPION_VARIABLE, None, deserialize_json=True)
        if champion is not None and champion["model_name"] == candidate:  # promoted by an earlier try
            announce(candidate, accuracy, params, outlet_events)
            return [champion["replaced"]] if champion.get("replaced") else []
        if champion is not None and accuracy <= champion["accuracy"]:
            log.info(
                "Candidate %s (%.3f) does not beat %.3f: it loses.", candidate, accuracy, champion["accuracy"]
            )
            return [candidate]
        bar = "no earlier champion" if champion is None else f"beats {champion['accuracy']:.3f}"
        log.info("Candidate %s (%.3f) is the new champion: %s.", candidate, accuracy, bar)
        replaced = champion.get("model_name") if champion else None
        new = {"model_name": candidate, "accuracy": accuracy, "run_id": run_id, "replaced": replaced}
        Variable.set(CHAMPION_VARIABLE, new, serialize_json=True)
        announce(candidate, accuracy, params, outlet_events)
        return [replaced] if replaced else []

    def announce(candidate: str, accuracy: float, params: dict[str, Any] | None, outlet_events: Any) -> None:
        """Announce a champion kept for serving: an event for its asset through ``ttm-champion``."""
        if not (params or {}).get("keep_champion"):
            return
        hook = TuneTheModelHook()
        host = connection_host(hook.settings.base_url)
        asset = emit_model_event(outlet_events, CHAMPION_ALIAS, host, hook.get_model(candidate), accuracy)
        log.info("Announced champion %s through asset alias %r.", asset.uri, CHAMPION_ALIAS)

    # [END howto_ttm_announce_champion]

    @task
    def clean_up(candidate: str, params: dict[str, Any] | None = None) -> None:
        """Delete the candidate unless it is the champion kept for serving (also after a failure)."""
        champion = Variable.get(CHAMPION_VARIABLE, None, deserialize_json=True) or {}
        is_champion = champion.get("model_name") == candidate
        if is_champion and (params or {}).get("keep_champion"):
            log.info("Keeping champion %s for serving.", candidate)
            return
        if TuneTheModelHook().delete_model(candidate) is not None:
            why = (
                "keep_champion is off, so the run leaves no model"
                if is_champion
                else "it is not the champion"
            )
            log.info("Deleted %s %s: %s.", "champion" if is_champion else "candidate", candidate, why)

    # [START howto_ttm_champion]
    accuracy = evaluate(score.output, datasets["validation"])
    losers = pick_champion(create.output, accuracy)
    delete_loser = TuneTheModelDeleteModelOperator.partial(
        task_id="delete_loser", retries=2, retry_delay=RETRY_DELAY
    ).expand(model_name=losers)
    cleanup = clean_up.override(retries=2, retry_delay=RETRY_DELAY)(create.output)

    datasets >> create >> train >> score
    delete_loser >> cleanup.as_teardown(setups=create)
    # [END howto_ttm_champion]
