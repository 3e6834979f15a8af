"""The hook over real sockets against the emulator: a round trip and the documented errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_ttm.exceptions import (
    TuneTheModelAuthenticationError,
    TuneTheModelError,
    TuneTheModelNotFoundError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook


def test_round_trip_list_create_status_delete(ttm_emulator) -> None:
    hook = TuneTheModelHook()
    assert hook.list_models() == []

    created = hook.create_model("classifier", name="my-shiny-classifier", num_classes=3)
    assert created.status == "Created"
    assert created.model_params == {"num_classes": 3}
    assert [m.model_name for m in hook.list_models()] == [created.model_name]
    assert hook.get_model(created.model_name).user_name == "my-shiny-classifier"

    deleted = hook.delete_model(created.model_name)
    assert deleted is not None
    assert deleted.model_name == created.model_name
    assert hook.list_models() == []
    assert hook.delete_model(created.model_name) is None


@pytest.mark.parametrize("spelling", ["model_name", "model_id"])
def test_either_id_spelling_of_the_service_is_understood(ttm_emulator, spelling) -> None:
    ttm_emulator.control.configure(id_spelling=spelling)
    hook = TuneTheModelHook()

    created = hook.create_model("generator", name="gen")

    assert len(created.model_name) == 32
    assert created.user_name == "gen"
    assert hook.get_model(created.model_name).model_name == created.model_name


def test_wrong_key_is_rejected_without_echoing_it(ttm_emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_DEFAULT",
        json.dumps({"conn_type": "ttm", "host": ttm_emulator.url, "password": "not-the-right-key-42"}),
    )
    hook = TuneTheModelHook()

    with pytest.raises(TuneTheModelAuthenticationError) as error:
        hook.list_models()
    assert error.value.status_code == 401
    assert "not-the-right-key-42" not in str(error.value)
    ok, message = hook.test_connection()
    assert ok is False
    assert "rejected" in message
    assert "not-the-right-key-42" not in message


def test_unknown_model_is_not_found(ttm_emulator) -> None:
    with pytest.raises(TuneTheModelNotFoundError) as error:
        TuneTheModelHook().get_model("0" * 32)
    assert error.value.status_code == 404


def test_test_connection_reports_success(ttm_emulator) -> None:
    ok, message = TuneTheModelHook().test_connection()
    assert ok is True
    assert ttm_emulator.url in message


def _one_try_per_request(ttm_emulator, monkeypatch, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TTM_DEFAULT",
        json.dumps(
            {
                "conn_type": "ttm",
                "host": ttm_emulator.url,
                "password": ttm_emulator.api_key,
                "extra": {"backoff_cap": 0.05, **extra},
            }
        ),
    )


@pytest.mark.parametrize("kind", ["drop", "malformed"])
def test_a_create_whose_reply_is_lost_yields_exactly_one_model(ttm_emulator, monkeypatch, kind) -> None:
    _one_try_per_request(ttm_emulator, monkeypatch)
    ttm_emulator.control.add_fault(kind=kind, route="POST /v0/models", after=True, times=1)

    created = TuneTheModelHook().create_model("classifier", name="once", num_classes=2)

    assert [m["model_name"] for m in ttm_emulator.control.models()] == [created.model_name]
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_a_create_that_times_out_but_happens_later_is_found_not_repeated(ttm_emulator, monkeypatch) -> None:
    _one_try_per_request(ttm_emulator, monkeypatch, timeout=0.5)
    ttm_emulator.control.add_fault(kind="latency", route="POST /v0/models", delay_seconds=0.8, times=1)

    created = TuneTheModelHook().create_model("classifier", name="slow", num_classes=2)

    assert [m["model_name"] for m in ttm_emulator.control.models()] == [created.model_name]
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_without_a_name_an_unknown_outcome_fails_instead_of_resending(ttm_emulator, monkeypatch) -> None:
    _one_try_per_request(ttm_emulator, monkeypatch)
    ttm_emulator.control.add_fault(kind="drop", route="POST /v0/models", after=True, times=1)

    with pytest.raises(TuneTheModelError, match="Give the operator a 'name'"):
        TuneTheModelHook().create_model("classifier", num_classes=2)
    assert ttm_emulator.control.count("POST /v0/models") == 1


def test_a_failed_create_that_did_not_happen_is_sent_again(ttm_emulator, monkeypatch) -> None:
    _one_try_per_request(ttm_emulator, monkeypatch)
    ttm_emulator.control.add_fault(kind="error", status=500, route="POST /v0/models", times=2)

    TuneTheModelHook().create_model("classifier", name="again", num_classes=2)

    assert len(ttm_emulator.control.models()) == 1
    assert ttm_emulator.control.count("POST /v0/models") == 3


def test_delete_whose_reply_is_lost_still_succeeds(ttm_emulator, monkeypatch) -> None:
    _one_try_per_request(ttm_emulator, monkeypatch)
    hook = TuneTheModelHook()
    model = hook.create_model("generator", name="gone")
    ttm_emulator.control.add_fault(kind="drop", route="DELETE /v0/models/{id}/delete", after=True, times=1)

    assert hook.delete_model(model.model_name) is None
    assert ttm_emulator.control.models() == []
