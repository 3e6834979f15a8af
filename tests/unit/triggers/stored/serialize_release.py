"""Write what a release of the provider stores in Airflow's database for its deferred waits.

Run it with that release's code first on the path, from a worktree of its commit::

    git worktree add /tmp/release COMMIT
    PYTHONPATH=/tmp/release .venv/bin/python tests/unit/triggers/stored/serialize_release.py \\
        COMMIT "what this release is" > tests/unit/triggers/stored/VERSION-COMMIT.json

It serializes the triggers as that release's operators, sensor and asset watcher build them, the
``next_method`` and ``next_kwargs`` its tasks defer with, and one event of each kind its status
trigger yields. ``test_stored_triggers.py`` loads every such file with the current code.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

import airflow_provider_ttm
from airflow_provider_ttm.api.records import parse_model
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

MODEL = "0123456789abcdef0123456789abcdef"
NOW = 1_780_000_000.0


def _status_trigger(made_by: str, **kwargs: Any) -> dict[str, Any]:
    """The trigger with the arguments this release knows (later ones are dropped)."""
    known = inspect.signature(TuneTheModelModelStatusTrigger.__init__).parameters
    path, stored = TuneTheModelModelStatusTrigger(
        **{k: v for k, v in kwargs.items() if k in known}
    ).serialize()
    return {"made_by": made_by, "classpath": path, "kwargs": stored}


def _triggers() -> list[dict[str, Any]]:
    common = {"ttm_conn_id": "ttm_default", "model_name": MODEL, "max_consecutive_errors": 5}
    triggers = [
        _status_trigger(
            "TuneTheModelModelReadySensor(deferrable=True)",
            **common,
            poll_interval=60.0,
            deadline=NOW + 604800,
            strict=False,
            started_at=NOW,
            coalesce=True,
        ),
        _status_trigger(
            "TuneTheModelCreateModelOperator(wait_for_ready=True, deferrable=True)",
            **common,
            poll_interval=30.0,
            deadline=NOW + 86400,
            started_at=NOW,
            coalesce=True,
        ),
        _status_trigger(
            "TuneTheModelModelReadySensor(deferrable=True, coalesce=False, strict=True)",
            ttm_conn_id="ttm_other",
            model_name=MODEL[::-1],
            poll_interval=5.0,
            deadline=None,
            max_consecutive_errors=0,
            strict=True,
            started_at=None,
            coalesce=False,
            errors_in_a_row=2,
        ),
    ]
    if "end_from_trigger" in inspect.signature(TuneTheModelModelStatusTrigger.__init__).parameters:
        triggers.append(
            _status_trigger(
                "TuneTheModelModelReadySensor(start_from_trigger=True, soft_fail=True, do_xcom_push=False)",
                **common,
                poll_interval=60.0,
                deadline=NOW + 604800,
                end_from_trigger=True,
                skip_on_failure=True,
                do_xcom_push=False,
            )
        )
    try:
        from airflow_provider_ttm.triggers.model_ready import TuneTheModelModelReadyEventTrigger
    except ImportError:  # a release before the asset watcher
        return triggers
    path, stored = TuneTheModelModelReadyEventTrigger(
        ttm_conn_id="ttm_default", user_name_prefix="nightly.", model_type="classifier", poll_interval=60.0
    ).serialize()
    made_by = "AssetWatcher(trigger=TuneTheModelModelReadyEventTrigger(...))"
    return [*triggers, {"made_by": made_by, "classpath": path, "kwargs": stored}]


def _events() -> list[dict[str, Any]]:
    """One event of each kind, built by the release's own payload code."""
    trigger = TuneTheModelModelStatusTrigger(ttm_conn_id="ttm_default", model_name=MODEL)
    ready = parse_model(
        {
            "model_name": MODEL,
            "status": "Ready",
            "model_type": "classifier",
            "user_name": "tweets",
            "num_classes": 3,
        }
    )
    return [
        trigger._payload("success", "Ready", f"Model {MODEL} is Ready.", ready),
        trigger._payload("failed", "FitFailed", f"Model {MODEL} failed to train: FitFailed."),
        trigger._payload("timeout", "Training", f"Model {MODEL} was not Ready by the deadline."),
        trigger._payload("error", None, f"Cannot wait on model {MODEL}: connection refused."),
    ]


def main(commit: str, about: str) -> None:
    resumes = inspect.signature(TuneTheModelModelReadySensor.execute_complete).parameters
    next_kwargs: list[dict[str, str] | None] = (
        [{"deadline_set_by": "timeout"}, {"deadline_set_by": "execution_timeout"}]
        if "deadline_set_by" in resumes
        else [None]
    )
    stored = {
        "about": about,
        "provider_version": airflow_provider_ttm.__version__,
        "commit": commit,
        "triggers": _triggers(),
        "next_method": "execute_complete",
        "next_kwargs": next_kwargs,
        "events": _events(),
    }
    json.dump(stored, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
