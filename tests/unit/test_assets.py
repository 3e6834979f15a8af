"""The ``ttm://`` model asset URI, its normaliser as Airflow applies it, and the model events."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.providers.common.compat.sdk import Asset
from support.assets import alias_events, outlet_events

from airflow_provider_ttm.api.records import ModelRecord
from airflow_provider_ttm.assets import (
    CHAMPION_ALIAS,
    connection_host,
    emit_model_event,
    model_asset_uri,
    model_event_extra,
    model_id_from_uri,
    sanitize_uri,
    triggering_model_events,
)
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, TRIGGERING_ASSET_EVENTS_KEY

MODEL_ID = "0123456789abcdef0123456789abcdef"
RECORD = ModelRecord(model_name=MODEL_ID, status="Ready", user_name="nightly.create", model_type="classifier")


def _normalised(uri: str) -> str:
    return urllib.parse.urlunsplit(sanitize_uri(urllib.parse.urlsplit(uri)))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (f"ttm://api.tunethemodel.com/models/{MODEL_ID}", f"ttm://api.tunethemodel.com/models/{MODEL_ID}"),
        (f"TTM://API.Example.COM:8443/models/{MODEL_ID}", f"ttm://api.example.com:8443/models/{MODEL_ID}"),
        (f"ttm://user@host/models/{MODEL_ID}?b=1#frag", f"ttm://host/models/{MODEL_ID}"),
        (f"ttm://[::1]:8080/models/{MODEL_ID}", f"ttm://[::1]:8080/models/{MODEL_ID}"),
    ],
)
def test_the_normaliser_lowercases_the_host_and_drops_what_names_no_model(given: str, expected: str) -> None:
    assert _normalised(given) == expected


@pytest.mark.parametrize(
    ("uri", "complaint"),
    [
        (f"ttm:///models/{MODEL_ID}", "needs the API host"),
        (f"ttm://host:port/models/{MODEL_ID}", "valid host"),
        ("ttm://host/models/", "model id"),
        ("ttm://host/models/a.b", "model id"),
        (f"ttm://host/files/{MODEL_ID}", "ttm://<host>/models/<model id>"),
        (f"ttm://host/models/{MODEL_ID}/classify", "ttm://<host>/models/<model id>"),
        (f"s3://host/models/{MODEL_ID}", "must start with 'ttm://'"),
    ],
)
def test_the_normaliser_refuses_what_is_not_one_model(uri: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("?", r"\?")):
        _normalised(uri)


def test_airflow_normalises_and_checks_ttm_assets_through_the_provider() -> None:
    asset = Asset(uri=f"ttm://API.Example.com/models/{MODEL_ID}/")
    assert asset.uri == f"ttm://api.example.com/models/{MODEL_ID}"
    bad = f"ttm://api.example.com/files/{MODEL_ID}"
    if AIRFLOW_V_3_0_PLUS:
        with pytest.raises(ValueError, match="ttm://<host>/models/<model id>"):
            Asset(uri=bad)
    else:  # Airflow 2.11 only warns, and keeps the URI as given
        with pytest.warns(UserWarning, match="ttm://<host>/models/<model id>"):
            assert Asset(uri=bad).uri == bad


def test_the_uri_builder_gives_the_normalised_form_and_back() -> None:
    uri = model_asset_uri("API.example.com:8443", MODEL_ID)
    assert uri == f"ttm://api.example.com:8443/models/{MODEL_ID}"
    assert model_id_from_uri(uri) == MODEL_ID


@pytest.mark.parametrize(
    ("host", "model_id", "param"),
    [
        ("", MODEL_ID, "host"),
        ("host/path", MODEL_ID, "host"),
        ("user@host", MODEL_ID, "host"),
        (None, MODEL_ID, "host"),
        ("host", "../x", "model_id"),
        ("host", "", "model_id"),
    ],
)
def test_the_uri_builder_names_the_bad_argument(host: object, model_id: str, param: str) -> None:
    with pytest.raises(ValueError, match=f"^{param} must"):
        model_asset_uri(host, model_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://api.tunethemodel.com", "api.tunethemodel.com"),
        ("http://127.0.0.1:8765", "127.0.0.1:8765"),
        ("https://Proxy.Example.com:8443/ttm", "proxy.example.com:8443"),
    ],
)
def test_the_host_is_the_connections_base_url_host(base_url: str, host: str) -> None:
    assert connection_host(base_url) == host


def test_the_extra_has_the_models_facts_and_the_accuracy_only_when_known() -> None:
    facts = {
        "model_id": MODEL_ID,
        "model_type": "classifier",
        "status": "Ready",
        "user_name": "nightly.create",
    }
    assert model_event_extra(RECORD) == facts
    assert model_event_extra(RECORD, accuracy=0.75) == {**facts, "accuracy": 0.75}


@pytest.fixture
def alias_db(request: pytest.FixtureRequest) -> None:
    """Airflow 2.11 records an emitted event's alias in its database (see ``ensure_alias_recorded``)."""
    if not AIRFLOW_V_3_0_PLUS:
        request.getfixturevalue("airflow_db")


def test_an_emitted_event_goes_to_the_alias_with_the_models_uri_and_extra(alias_db) -> None:
    accessors = outlet_events()

    asset = emit_model_event(accessors, CHAMPION_ALIAS, "api.tunethemodel.com", RECORD, accuracy=0.9)

    uri = f"ttm://api.tunethemodel.com/models/{MODEL_ID}"
    assert asset.uri == uri
    assert alias_events(accessors, CHAMPION_ALIAS) == [(uri, model_event_extra(RECORD, accuracy=0.9))]


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 3 records an outlet's aliases itself")
def test_on_airflow_2_11_the_alias_is_recorded_once_for_dags_test(airflow_db) -> None:
    from airflow.models.dataset import DatasetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    for _ in range(2):
        emit_model_event(outlet_events(), "ttm-unit-alias", "h", RECORD)

    with create_session() as session:
        count = session.scalar(select(func.count()).where(DatasetAliasModel.name == "ttm-unit-alias"))
    assert count == 1


def _event(uri: str, second: int, **extra: object) -> SimpleNamespace:
    """A triggering event as Airflow 3 (``asset.uri``) and 2.11 (``uri``) describe it."""
    stamp = datetime(2026, 12, 1, 2, 0, second, tzinfo=UTC)
    return SimpleNamespace(asset=SimpleNamespace(uri=uri), uri=uri, extra=extra, timestamp=stamp)


def test_the_triggering_model_events_are_the_ttm_ones_oldest_first_each_once() -> None:
    older = _event(model_asset_uri("h", "a" * 32), 1, accuracy=0.5)
    newer = _event(model_asset_uri("h", "b" * 32), 2, accuracy=0.7)
    other = _event("s3://bucket/data.csv", 3)
    # Airflow 3 lists an event under its asset and again under each alias it came through.
    events = {"alias": [newer, older], "asset-a": [older], "asset-b": [newer], "s3": [other]}

    found = triggering_model_events({TRIGGERING_ASSET_EVENTS_KEY: events})  # type: ignore[typeddict-item]

    assert [(e.model_id, e.extra["accuracy"]) for e in found] == [("a" * 32, 0.5), ("b" * 32, 0.7)]
    assert found[-1].uri == model_asset_uri("h", "b" * 32)


def test_a_run_not_started_by_events_has_no_model_events() -> None:
    assert triggering_model_events({}) == []  # type: ignore[typeddict-item]
