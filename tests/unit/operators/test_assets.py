"""``asset_alias`` of the create and train operators (``ModelAssetMixin``), against the emulator."""

from __future__ import annotations

import urllib.parse

import pytest
from airflow.providers.common.compat.sdk import Asset, AssetAlias
from support.assets import alias_events, outlet_events

from airflow_provider_ttm.assets import model_asset_uri
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS

STATUS = "GET /v0/models/{id}/status"
DATA = {"inputs": [f"message {i}" for i in range(32)], "classes": [i % 2 for i in range(32)]}


def _create(**kwargs) -> TuneTheModelCreateModelOperator:
    return TuneTheModelCreateModelOperator(task_id="create", model_type="classifier", num_classes=2, **kwargs)


@pytest.fixture
def task_context(context, request: pytest.FixtureRequest) -> dict:
    if not AIRFLOW_V_3_0_PLUS:  # 2.11 records an emitted event's alias in its database
        request.getfixturevalue("airflow_db")
    return {**context, "outlet_events": outlet_events()}


def test_the_alias_joins_the_tasks_own_outlets() -> None:
    mine = Asset(uri="s3://bucket/report.csv")

    assert _create().outlets == []
    assert _create(asset_alias="models").outlets == [AssetAlias("models")]
    assert _create(asset_alias="models", outlets=[mine]).outlets == [mine, AssetAlias("models")]
    assert _create(asset_alias="models", outlets=mine).outlets == [mine, AssetAlias("models")]
    assert _create(asset_alias="models", outlets=[AssetAlias("models")]).outlets == [AssetAlias("models")]


@pytest.mark.parametrize("alias", ["", "  ", 3, "x" * 1501])
def test_a_bad_alias_is_refused_by_name(alias: object) -> None:
    with pytest.raises(ValueError, match=r"^asset_alias must"):
        _create(asset_alias=alias)


def test_without_an_alias_nothing_is_announced_or_asked(ttm_emulator, task_context) -> None:
    _create().execute(task_context)

    assert ttm_emulator.control.count(STATUS) == 0
    assert alias_events(task_context["outlet_events"], "models") == []


def test_create_announces_the_new_model_with_its_facts(ttm_emulator, task_context) -> None:
    model_id = _create(asset_alias="models").execute(task_context)

    host = urllib.parse.urlsplit(ttm_emulator.url).netloc
    (model,) = ttm_emulator.control.models()
    assert alias_events(task_context["outlet_events"], "models") == [
        (
            model_asset_uri(host, model_id),
            {
                "model_id": model_id,
                "model_type": "classifier",
                "status": "Created",
                "user_name": model["user_name"],
            },
        )
    ]


def test_create_announces_the_ready_model_after_a_deferred_wait(ttm_emulator, task_context) -> None:
    model_id = _create().execute(task_context)
    ttm_emulator.control.force_status(model_id, "Ready")
    event = {"status": "success", "model_name": model_id, "model_status": "Ready", "message": "",
             "model": {"model_name": model_id, "status": "Ready"}}  # fmt: skip

    assert _create(asset_alias="models").execute_complete(task_context, event) == model_id

    ((uri, extra),) = alias_events(task_context["outlet_events"], "models")
    assert uri.endswith(f"/models/{model_id}") and extra["status"] == "Ready"


def test_train_announces_the_trained_model(ttm_emulator, task_context) -> None:
    ttm_emulator.control.configure(train_seconds=0.2, file_processing_seconds=0.05)
    model_id = _create().execute(task_context)
    train = TuneTheModelTrainModelOperator(
        task_id="train",
        model_name=model_id,
        train_data=DATA,
        validation_data=DATA,
        wait_for_ready=True,
        poll_interval=0.1,
        asset_alias="trained",
    )

    assert train.execute(task_context) == model_id

    ((uri, extra),) = alias_events(task_context["outlet_events"], "trained")
    assert uri.endswith(f"/models/{model_id}")
    assert (extra["model_id"], extra["status"]) == (model_id, "Ready")
