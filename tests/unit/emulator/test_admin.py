"""The admin endpoints under /_emulator/: state, faults, reset, forced statuses, settings."""

from __future__ import annotations

import pytest
import requests
from support.emulator_client import KEY, OTHER_KEY, Api


@pytest.fixture
def admin(server):
    client = Api(server.url, None)
    yield client
    client.session.close()


def test_state_shows_counters_models_files_and_faults(api, admin, server):
    model = api.create_model(name="m")
    api.ok("POST", "/v0/files", json={"name": "f.json", "task_type": "generator"})
    api.get(f"/v0/models/{model['model_name']}/status")
    api.get("/v0/models/unknown/status")
    server.control.add_fault(kind="latency", delay_seconds=0.01, route="/v0/files")

    state = admin.ok("GET", "/_emulator/state")

    assert state["counters"] == {"POST /v0/models": 1, "POST /v0/files": 1, "GET /v0/models/{id}/status": 2}
    assert [item["model_name"] for item in state["models"]] == [model["model_name"]]
    assert state["models"][0]["model_params"] == {"num_classes": 3}
    assert state["files"][0]["task_type"] == "generator"
    assert state["faults"][0]["kind"] == "latency"
    assert (state["upload_requests_with_authorization"], state["deleted_models"]) == (0, 0)
    assert api.session.headers["Authorization"] not in str(state)


def test_admin_requests_need_no_key_and_are_not_counted(admin, server):
    admin.ok("GET", "/_emulator/state")
    admin.ok("GET", "/_emulator/faults")

    assert server.control.counters() == {}


def test_faults_replace_list_and_clear(api, admin):
    rule = {"route": "GET /v0/models", "kind": "error", "status": 500}

    replaced = admin.ok("POST", "/_emulator/faults", json=[rule, {"kind": "latency", "delay_seconds": 0.01}])
    assert [item["kind"] for item in replaced["faults"]] == ["error", "latency"]
    assert api.get("/v0/models").status_code == 500

    assert admin.ok("POST", "/_emulator/faults", json={"faults": [rule]})["faults"][0]["status"] == 500
    assert len(admin.ok("GET", "/_emulator/faults")["faults"]) == 1
    assert admin.ok("POST", "/_emulator/faults", json=rule)["faults"][0]["route"] == "GET /v0/models"

    assert admin.ok("DELETE", "/_emulator/faults") == {"faults": []}
    assert api.get("/v0/models").status_code == 200


@pytest.mark.parametrize("body", [b"{oops", b'[{"kind": "explode"}]', b"[1]", b'{"faults": 3}'])
def test_bad_fault_rules_are_400(admin, body):
    response = admin.post("/_emulator/faults", data=body)

    assert response.status_code == 400
    assert response.json()["detail"]


def test_reset_forgets_everything(api, admin, server):
    api.create_model()
    server.control.add_fault(kind="error", route="/v0/nothing")

    state = admin.ok("POST", "/_emulator/reset")

    assert (state["models"], state["files"], state["faults"], state["counters"]) == ([], [], [], {})
    assert api.ok("GET", "/v0/models") == {"models": []}


def test_force_status_over_http(api, admin):
    model_id = api.create_model()["model_name"]

    forced = admin.ok("POST", f"/_emulator/models/{model_id}/status", json={"status": "Ready"})

    assert forced["status"] == "Ready"
    assert api.status(model_id) == "Ready"


@pytest.mark.parametrize(("body", "status"), [({"status": "Exploded"}, 400), ({}, 400), (None, 404)])
def test_force_status_refusals(api, admin, body, status):
    model_id = api.create_model()["model_name"] if body is not None else "f" * 32

    response = admin.post(
        f"/_emulator/models/{model_id}/status", json={"status": "Ready"} if body is None else body
    )

    assert response.status_code == status


def test_settings_over_http(api, admin, server):
    assert admin.ok("GET", "/_emulator/config")["train_seconds"] == server.config.train_seconds

    changed = admin.ok("POST", "/_emulator/config", json={"train_seconds": "2m", "auto_train_seconds": 1.5})

    assert (changed["train_seconds"], changed["auto_train_seconds"]) == (120.0, 1.5)
    assert "api_keys" not in changed
    assert server.control.config.train_seconds == 120.0


def test_api_keys_can_change_at_run_time(api, admin):
    admin.ok("POST", "/_emulator/config", json={"api_keys": [OTHER_KEY]})

    assert api.get("/v0/models").status_code == 401
    assert (
        requests.get(api.url + "/v0/models", headers={"Authorization": OTHER_KEY}, timeout=5).status_code
        == 200
    )


def test_a_key_alias_opens_the_same_account_after_the_old_key_is_revoked(api, admin):
    model = api.create_model(name="m")
    admin.ok(
        "POST",
        "/_emulator/config",
        json={"api_keys": [KEY, OTHER_KEY], "api_key_aliases": {OTHER_KEY: KEY}},
    )
    admin.ok("POST", "/_emulator/config", json={"api_keys": [OTHER_KEY]})  # the old key revoked
    rotated = {"Authorization": OTHER_KEY}

    listed = requests.get(api.url + "/v0/models", headers=rotated, timeout=5).json()["models"]
    status = requests.get(f"{api.url}/v0/models/{model['model_name']}/status", headers=rotated, timeout=5)

    assert [item["model_name"] for item in listed] == [model["model_name"]]
    assert status.status_code == 200
    assert api.get("/v0/models").status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"port": 1}, "port"),
        ({"clock": 1}, "clock"),
        ({"fit_failure_rate": 3}, "fit_failure_rate"),
        ({"fit_failure_rate": "x"}, "fit_failure_rate"),
        ({"train_seconds": "soon"}, "duration"),
        ({"id_spelling": "camel"}, "id_spelling"),
        ({"api_keys": []}, "api_keys"),
        ({"api_key_aliases": {"new": ""}}, "api_key_aliases"),
        ({"api_key_aliases": ["new"]}, "api_key_aliases"),
    ],
)
def test_bad_settings_are_400(admin, server, body, message):
    response = admin.post("/_emulator/config", json=body)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert server.control.config == server.config
