"""Fault injection, each kind observed by a real ``requests`` (or httpx) client over loopback."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest
import requests
from support.conditions import until
from support.emulator_client import KEY, classifier_dataset

from airflow_provider_ttm.emulator import EmulatorConfig, EmulatorServer, FaultRule

CREATE = {"model_type": "classifier", "model_params": {"num_classes": 3}}
BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


def test_error_then_expiry(api, server):
    server.control.set_faults({"route": "POST /v0/models", "kind": "error", "status": 503, "times": 2})

    replies = [api.post("/v0/models", json=CREATE) for _ in range(3)]

    assert [reply.status_code for reply in replies] == [503, 503, 200]
    assert replies[0].json() == {"detail": "Injected fault: HTTP 503"}
    assert len(server.control.models()) == 1
    assert server.control.count("POST /v0/models") == 3
    assert server.control.faults() == []


def test_error_with_a_text_body_and_retry_after(api, server):
    server.control.add_fault(kind="error", status=502, body="<html>Bad Gateway</html>", retry_after=3)

    reply = api.get("/v0/models")

    assert reply.status_code == 502
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.text == "<html>Bad Gateway</html>"
    assert reply.headers["Retry-After"] == "3"


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2037 07:28:00 GMT"])
def test_rate_limit_sends_429_with_retry_after(api, server, retry_after):
    server.control.add_fault(route="/v0/models", kind="rate_limit", retry_after=retry_after, times=1)

    limited = api.get("/v0/models")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == retry_after
    if not retry_after.isdigit():
        assert parsedate_to_datetime(limited.headers["Retry-After"]).year == 2037
    assert api.get("/v0/models").status_code == 200


def test_rate_limit_defaults_to_one_second(api, server):
    server.control.add_fault(kind="rate_limit")

    assert api.get("/v0/public-models").headers["Retry-After"] == "1"


def test_latency_delays_the_reply(api, server):
    server.control.add_fault(kind="latency", delay_seconds=0.3, route="GET /v0/models")

    started = time.monotonic()
    reply = api.get("/v0/models")

    assert reply.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_latency_before_the_operation_times_out_without_effect(api, server):
    server.control.add_fault(kind="latency", delay_seconds=0.5, route="POST /v0/models")

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post("/v0/models", json=CREATE, timeout=0.1)

    assert server.control.models() == []
    # As a real server does, it carries the request out once the delay is over (and must, here,
    # before the next test resets this session's server: a model created after that reset would
    # be counted by that test).
    asyncio.run(until(lambda: len(server.control.models()) == 1, "the slow create was carried out"))


def test_latency_after_the_operation_times_out_but_the_model_exists(api, server):
    server.control.add_fault(kind="latency", delay_seconds=0.5, route="POST /v0/models", after=True)

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post("/v0/models", json=CREATE, timeout=0.2)

    assert len(server.control.models()) == 1


def test_drop_breaks_the_connection_and_does_nothing(api, server):
    server.control.add_fault(kind="drop", route="POST /v0/models", times=1)

    with pytest.raises(BROKEN):
        api.post("/v0/models", json=CREATE)

    assert server.control.models() == []
    assert api.post("/v0/models", json=CREATE).status_code == 200


def test_a_dropped_create_still_creates_exactly_one_model(api, server):
    server.control.add_fault(kind="drop", route="POST /v0/models", after=True)

    with pytest.raises(BROKEN):
        api.post("/v0/models", json=CREATE)

    assert len(server.control.models()) == 1
    assert server.control.count("POST /v0/models") == 1


def test_drop_is_a_protocol_error_for_httpx(server):
    server.control.add_fault(kind="drop")

    with (
        httpx.Client(base_url=server.url, headers={"Authorization": KEY}) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/v0/models")


def test_malformed_is_200_with_truncated_json(api, server):
    server.control.add_fault(kind="malformed", route="GET /v0/public-models")

    reply = api.get("/v0/public-models")

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    with pytest.raises(requests.exceptions.JSONDecodeError):
        reply.json()


def test_malformed_after_the_operation_truncates_the_real_reply(api, server):
    server.control.add_fault(kind="malformed", route="POST /v0/models", after=True)

    reply = api.post("/v0/models", json=CREATE)

    with pytest.raises(requests.exceptions.JSONDecodeError):
        reply.json()
    model_id = server.control.models()[0]["model_name"]
    assert reply.text.startswith('{"status":"Created","model_name":"' + model_id[:8])


def test_unauthorized_refuses_a_valid_key(api, server):
    server.control.add_fault(kind="unauthorized", times=1)

    reply = api.get("/v0/models")

    assert reply.status_code == 401
    assert reply.json() == {"detail": "Invalid API key"}
    assert api.get("/v0/models").status_code == 200


def test_an_error_after_the_operation_hides_its_success(api, server):
    server.control.add_fault(kind="error", status=504, route="POST /v0/models", after=True)

    assert api.post("/v0/models", json=CREATE).status_code == 504
    assert len(server.control.models()) == 1


def test_faults_apply_to_the_upload_url(api, server):
    created = api.ok("POST", "/v0/files", json={"name": "f.json", "task_type": "classifier"})
    server.control.add_fault(kind="error", route="PUT /_upload/{file_id}", status=500, times=1)

    assert requests.put(created["upload_url"], json=classifier_dataset(), timeout=5).status_code == 500
    assert requests.put(created["upload_url"], json=classifier_dataset(), timeout=5).status_code == 200


def test_probabilities_are_reproducible_with_the_seed(api, server):
    def pattern():
        server.control.set_faults(FaultRule(kind="error", probability=0.5))
        return [api.get("/v0/models").status_code for _ in range(16)]

    first = pattern()
    server.control.reset()
    second = pattern()

    assert first == second
    assert set(first) == {200, 503}


def test_the_first_matching_rule_wins(api, server):
    server.control.set_faults(
        {"route": "GET /v0/models/{id}/status", "kind": "error", "status": 500},
        {"route": "*", "kind": "error", "status": 502},
    )

    assert api.get("/v0/models/abc/status").status_code == 500
    assert api.get("/v0/models").status_code == 502


@pytest.mark.parametrize(
    ("route", "method", "template", "path", "expected"),
    [
        ("*", "GET", "/v0/models", "/v0/models", True),
        ("POST /v0/models", "POST", "/v0/models", "/v0/models", True),
        ("POST /v0/models", "GET", "/v0/models", "/v0/models", False),
        ("post /v0/models/", "POST", "/v0/models", "/v0/models", True),
        ("/v0/models/{model_id}/status", "GET", "/v0/models/{id}/status", "/v0/models/ab/status", True),
        ("GET /v0/models/ab/status", "GET", "/v0/models/{id}/status", "/v0/models/ab/status", True),
        ("GET /v0/models/cd/status", "GET", "/v0/models/{id}/status", "/v0/models/ab/status", False),
        ("/v0/files", "GET", "/v0/models", "/v0/models", False),
    ],
)
def test_route_matching(route, method, template, path, expected):
    assert FaultRule(kind="error", route=route).matches(method, template, path) is expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"route": "*"}, "kind"),
        ({"kind": "explode"}, "kind"),
        ({"kind": "error", "probability": 2}, "probability"),
        ({"kind": "error", "probability": "1"}, "probability"),
        ({"kind": "error", "times": 0}, "times"),
        ({"kind": "error", "status": 99}, "status"),
        ({"kind": "latency", "delay_seconds": -1}, "delay_seconds"),
        ({"kind": "error", "route": " "}, "route"),
        ({"kind": "error", "colour": "red"}, "colour"),
    ],
)
def test_invalid_rules_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        FaultRule.from_dict(data)


def test_faults_given_at_start_are_active_until_reset():
    rule = FaultRule(kind="error", status=500, route="GET /v0/models")
    with EmulatorServer(EmulatorConfig(faults=(rule,))) as server:
        headers = {"Authorization": server.api_key}
        assert requests.get(server.url + "/v0/models", headers=headers, timeout=5).status_code == 500
        server.control.reset()
        assert requests.get(server.url + "/v0/models", headers=headers, timeout=5).status_code == 200
