"""TuneTheModelHook over the sync transport, with HTTP mocked by ``responses`` and waits recorded."""

from __future__ import annotations

import datetime as dt
import json
from email.utils import format_datetime

import pytest
import requests
import responses
from airflow.providers.common.compat.sdk import AirflowNotFoundException, redact
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_ttm.api.endpoints import ModelSpec
from airflow_provider_ttm.api.replies import MAX_REPLY_BYTES
from airflow_provider_ttm.exceptions import (
    TuneTheModelAuthenticationError,
    TuneTheModelBadRequestError,
    TuneTheModelError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
)
from airflow_provider_ttm.hooks.transport import SyncTransport
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_3_PLUS

NEW_ID = "0123456789abcdef0123456789abcdef"
OLD_ID = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def hook(ttm_conn: str) -> TuneTheModelHook:
    """A hook on the default test connection (three attempts per request, backoff capped at 10 s)."""
    return TuneTheModelHook(ttm_conn_id=ttm_conn)


def _models(*models: dict) -> dict:
    return {"models": list(models)}


def _methods(http: responses.RequestsMock) -> list[str]:
    return [f"{call.request.method} {call.request.path_url}" for call in http.calls]


# ---- the connection ---------------------------------------------------------------------------


def test_the_connection_is_read_from_an_airflow_conn_env_var(
    hook: TuneTheModelHook, api: str, api_key: str
) -> None:
    settings = hook.settings

    assert settings.conn_id == "ttm_test"
    assert settings.base_url == api
    assert settings.api_key == api_key
    assert (settings.retry.max_attempts, settings.retry.backoff_cap) == (3, 10.0)
    assert hook.settings is settings  # read once per hook


def test_the_connection_uri_form_works_too(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTM_URI", f"ttm://:{api_key}@api.example.test?timeout=7&max_attempts=2")

    settings = TuneTheModelHook(ttm_conn_id="ttm_uri").settings

    assert settings.base_url == "https://api.example.test"
    assert settings.api_key == api_key
    assert settings.timeout == 7.0
    assert settings.retry.max_attempts == 2


def test_the_port_of_a_uri_form_connection_is_not_dropped(
    monkeypatch: pytest.MonkeyPatch, api_key: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TTM_URI", f"ttm://:{api_key}@api.example.test:8443")

    assert TuneTheModelHook(ttm_conn_id="ttm_uri").settings.base_url == "https://api.example.test:8443"


def test_a_connection_without_host_uses_the_public_service(set_connection) -> None:
    conn_id = set_connection(host=None)

    assert TuneTheModelHook(ttm_conn_id=conn_id).settings.base_url == "https://api.tunethemodel.com"


def test_a_missing_connection_is_reported_by_airflow() -> None:
    with pytest.raises(AirflowNotFoundException, match="ttm_nowhere"):
        TuneTheModelHook(ttm_conn_id="ttm_nowhere").settings  # noqa: B018


def test_a_bad_connection_is_refused_before_any_request(set_connection, http: responses.RequestsMock) -> None:
    conn_id = set_connection(extra={"timeout": "soon"})

    with pytest.raises(TuneTheModelError, match="Connection 'ttm_test': extra 'timeout' must be a number"):
        TuneTheModelHook(ttm_conn_id=conn_id).list_models()
    assert len(http.calls) == 0


def test_the_api_key_is_registered_with_the_secrets_masker(set_connection) -> None:
    key = "mask-me-key-4711"
    conn_id = set_connection(password=key)
    assert redact(f"key={key}") == f"key={key}"

    TuneTheModelHook(ttm_conn_id=conn_id).settings  # noqa: B018

    assert redact(f"key={key}") == "key=***"


def test_hook_identity() -> None:
    assert TuneTheModelHook.conn_type == "ttm"
    assert TuneTheModelHook.default_conn_name == "ttm_default"
    assert TuneTheModelHook.conn_name_attr == "ttm_conn_id"
    assert TuneTheModelHook.hook_name == "Tune The Model"
    assert TuneTheModelHook().ttm_conn_id == "ttm_default"


def test_ui_field_behaviour_for_older_airflow_uses_underscored_keys() -> None:
    behaviour = TuneTheModelHook.get_ui_field_behaviour()

    assert behaviour["hidden_fields"] == ["schema", "login", "extra"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key", "port": "Base URL port"}
    assert "hidden-fields" not in behaviour


def test_get_conn_is_the_pooled_transport(hook: TuneTheModelHook) -> None:
    transport = hook.get_conn()

    assert isinstance(transport, SyncTransport)
    assert hook.get_conn() is transport is hook.transport


# ---- requests as sent -------------------------------------------------------------------------


def test_list_models_sends_the_raw_key_and_reads_the_reply(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str, model_payload
) -> None:
    http.get(
        f"{api}/v0/models", json=_models(model_payload(), model_payload(model_name=NEW_ID, status="Ready"))
    )

    models = hook.list_models()

    assert [model.model_name for model in models] == ["c4319ce72c6c48dfa0754faf3d083f02", NEW_ID]
    headers = http.calls[0].request.headers
    assert headers["Authorization"] == api_key  # no "Bearer " prefix
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("airflow-provider-ttm/")


def test_requests_carry_the_connection_timeout_and_tls_setting(
    set_connection, http: responses.RequestsMock, api: str
) -> None:
    conn_id = set_connection(extra={"timeout": 12.5, "verify": "/etc/ssl/our-ca.pem"})
    http.get(f"{api}/v0/models", json=_models())

    TuneTheModelHook(ttm_conn_id=conn_id).list_models()

    sent = http.calls[0].request.req_kwargs
    assert sent["timeout"] == 12.5
    assert sent["verify"] == "/etc/ssl/our-ca.pem"


def test_the_proxy_environment_is_read_when_the_session_is_built(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    http.get(f"{api}/v0/models", json=_models())

    hook.list_models()
    monkeypatch.setenv("HTTPS_PROXY", "http://other-proxy.invalid:3128")  # later changes: not read
    hook.list_models()

    proxies = [call.request.req_kwargs["proxies"] for call in http.calls]
    assert proxies == [{"https": "http://proxy.invalid:3128"}] * 2


def test_get_model_reads_the_status_endpoint(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_id: str, model_payload
) -> None:
    http.get(f"{api}/v0/models/{model_id}/status", json=model_payload(status="Training"))

    record = hook.get_model(model_id)

    assert record.model_name == model_id
    assert record.status == "Training"


@pytest.mark.parametrize("model_name", ["../x", "a/b?c", ""])
def test_get_model_refuses_an_unsafe_id_without_sending(
    hook: TuneTheModelHook, http: responses.RequestsMock, model_name: str
) -> None:
    with pytest.raises(ValueError, match="model_name must be a model id"):
        hook.get_model(model_name)
    assert len(http.calls) == 0


def test_delete_model_returns_the_deleted_record(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_id: str, model_payload
) -> None:
    http.delete(f"{api}/v0/models/{model_id}/delete", json=model_payload())

    assert hook.delete_model(model_id).model_name == model_id
    assert _methods(http) == [f"DELETE /v0/models/{model_id}/delete"]


def test_delete_of_a_missing_model_is_fine_by_default(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_id: str, logs
) -> None:
    http.delete(f"{api}/v0/models/{model_id}/delete", status=404, json={"detail": "no such model"})

    assert hook.delete_model(model_id) is None
    assert f"Model {model_id} is already gone; nothing to delete." in logs.messages("info")


def test_delete_of_a_missing_model_can_be_an_error(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_id: str
) -> None:
    http.delete(f"{api}/v0/models/{model_id}/delete", status=404, json={"detail": "no such model"})

    with pytest.raises(TuneTheModelNotFoundError, match="no such model"):
        hook.delete_model(model_id, missing_ok=False)


def test_delete_is_retried_because_it_is_idempotent(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_id: str, model_payload, waits
) -> None:
    url = f"{api}/v0/models/{model_id}/delete"
    http.delete(url, status=502, body="Bad Gateway")
    http.delete(url, json=model_payload())

    assert hook.delete_model(model_id) is not None
    assert len(http.calls) == 2
    assert len(waits) == 1


# ---- retries ----------------------------------------------------------------------------------


def test_a_503_is_retried_after_the_retry_after_delay(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits, logs
) -> None:
    http.get(f"{api}/v0/models", status=503, json={"detail": "busy"}, headers={"Retry-After": "7"})
    http.get(f"{api}/v0/models", json=_models())

    assert hook.list_models() == []
    assert waits == [7.0]
    assert len(http.calls) == 2
    assert logs.messages("warning") == [
        "Tune The Model GET /v0/models failed on attempt 1 of 3: "
        "The service failed (HTTP 503): busy. Retrying in 7.0 s."
    ]


def test_a_429_retry_after_is_capped_by_the_connection(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    http.get(f"{api}/v0/models", status=429, headers={"Retry-After": "3600"})
    http.get(f"{api}/v0/models", json=_models())

    hook.list_models()

    assert waits == [10.0]


def test_a_retry_after_http_date_is_honoured(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    past = format_datetime(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), usegmt=True)
    http.get(f"{api}/v0/models", status=503, headers={"Retry-After": past})
    http.get(f"{api}/v0/models", json=_models())

    hook.list_models()

    assert waits == [0.0]


def test_retries_stop_at_max_attempts_with_jittered_doubling_waits(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    http.get(f"{api}/v0/models", status=500, json={"detail": "kaput"})

    with pytest.raises(TuneTheModelServerError, match=r"HTTP 500\): kaput") as raised:
        hook.list_models()

    assert raised.value.status_code == 500
    assert len(http.calls) == 3
    assert len(waits) == 2
    assert 0.0 <= waits[0] <= 1.0
    assert 0.0 <= waits[1] <= 2.0


def test_one_attempt_means_no_retry(set_connection, http: responses.RequestsMock, api: str, waits) -> None:
    conn_id = set_connection(extra={"max_attempts": 1})
    http.get(f"{api}/v0/models", status=503)

    with pytest.raises(TuneTheModelServerError):
        TuneTheModelHook(ttm_conn_id=conn_id).list_models()
    assert (len(http.calls), waits) == (1, [])


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, TuneTheModelBadRequestError),
        (401, TuneTheModelAuthenticationError),
        (403, TuneTheModelAuthenticationError),
        (404, TuneTheModelNotFoundError),
        (422, TuneTheModelBadRequestError),
    ],
)
def test_client_errors_are_not_retried(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits, status: int, exception
) -> None:
    http.get(f"{api}/v0/models", status=status, json={"detail": "no"})

    with pytest.raises(exception):
        hook.list_models()
    assert (len(http.calls), waits) == (1, [])


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ReadTimeout("Read timed out"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    ],
)
def test_a_dropped_get_is_retried(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits, failure: Exception
) -> None:
    http.get(f"{api}/v0/models", body=failure)
    http.get(f"{api}/v0/models", json=_models())

    assert hook.list_models() == []
    assert len(http.calls) == 2
    assert len(waits) == 1


@pytest.mark.parametrize(
    ("failure", "state"),
    [
        (requests.exceptions.ReadTimeout("Read timed out"), "its outcome is unknown"),
        (requests.exceptions.ConnectTimeout("Connect timed out"), "it was not sent"),
        (
            requests.exceptions.ConnectionError(
                MaxRetryError(None, "/v0/models", reason=NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
            ),
            "it was not sent",
        ),
    ],
)
def test_a_request_that_never_got_an_answer_says_whether_it_was_sent(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits, failure: Exception, state: str
) -> None:
    http.get(f"{api}/v0/models", body=failure)

    with pytest.raises(TuneTheModelTransportError) as raised:
        hook.list_models()

    assert str(raised.value).startswith("Tune The Model GET /v0/models got no answer (")
    assert str(raised.value).endswith(f"); {state}.")
    assert raised.value.sent is (state == "its outcome is unknown")
    assert len(http.calls) == 3


# ---- what the transport refuses ---------------------------------------------------------------


def test_a_redirect_is_not_followed(hook: TuneTheModelHook, http: responses.RequestsMock, api: str) -> None:
    elsewhere = "https://elsewhere.example.test/v0/models"
    http.get(f"{api}/v0/models", status=302, headers={"Location": elsewhere})
    http.get(elsewhere, json=_models())

    with pytest.raises(TuneTheModelBadRequestError, match=r"redirect \(HTTP 302\)"):
        hook.list_models()
    assert [call.request.url for call in http.calls] == [f"{api}/v0/models"]


def test_a_reply_of_exactly_the_size_cap_is_read(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str
) -> None:
    body = b'{"models": []}'
    http.get(f"{api}/v0/models", body=body + b" " * (MAX_REPLY_BYTES - len(body)))

    assert hook.list_models() == []


def test_a_reply_over_the_size_cap_is_refused_and_not_retried(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    body = b'{"models": []}'
    http.get(f"{api}/v0/models", body=body + b" " * (MAX_REPLY_BYTES + 1 - len(body)))

    with pytest.raises(TuneTheModelMalformedResponseError, match=f"larger than {MAX_REPLY_BYTES} bytes"):
        hook.list_models()
    assert (len(http.calls), waits) == (1, [])


def test_a_success_that_is_not_json_is_malformed(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str
) -> None:
    http.get(f"{api}/v0/models", body="<html>maintenance</html>", content_type="text/html")

    with pytest.raises(TuneTheModelMalformedResponseError, match=r"HTTP 200, 24 bytes\): '<html>maintenance"):
        hook.list_models()


def test_a_success_without_a_models_list_is_malformed(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str
) -> None:
    http.get(f"{api}/v0/models", json={"items": []})

    with pytest.raises(TuneTheModelMalformedResponseError, match="'models' list"):
        hook.list_models()


# ---- create, at most once ---------------------------------------------------------------------


def test_create_with_a_name_looks_for_namesakes_then_posts(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.get(f"{api}/v0/models", json=_models(model_payload(model_name=OLD_ID, user_name="other")))
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, user_name="tweets"))

    record = hook.create_model("classifier", name="tweets", num_classes="3", train_iters=5)

    assert record.model_name == NEW_ID
    assert _methods(http) == ["GET /v0/models", "POST /v0/models"]
    assert json.loads(http.calls[1].request.body) == {
        "model_type": "classifier",
        "name": "tweets",
        "model_params": {"num_classes": 3, "train_iters": 5},
    }


def test_create_without_a_name_only_posts(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, model_type="generator"))

    record = hook.create_model("generator", pretrained_model="base-1")

    assert record.model_name == NEW_ID
    assert _methods(http) == ["POST /v0/models"]
    assert json.loads(http.calls[0].request.body) == {"model_type": "generator", "pretrained_model": "base-1"}


def test_create_takes_a_model_spec_but_not_a_spec_and_fields_at_once(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, model_type="generator"))

    assert hook.create_model(ModelSpec("generator", train_iters=3)).model_name == NEW_ID
    assert json.loads(http.calls[0].request.body) == {
        "model_type": "generator",
        "model_params": {"train_iters": 3},
    }
    with pytest.raises(ValueError, match="train_iters"):
        hook.create_model(ModelSpec("generator"), train_iters=3)
    assert len(http.calls) == 1


def test_create_with_bad_arguments_sends_nothing(
    hook: TuneTheModelHook, http: responses.RequestsMock
) -> None:
    with pytest.raises(ValueError, match="num_classes applies to classifiers only"):
        hook.create_model("generator", name="x", num_classes=3)
    assert len(http.calls) == 0


def test_adopt_existing_returns_a_namesake_without_posting(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload, logs
) -> None:
    http.get(
        f"{api}/v0/models",
        json=_models(
            model_payload(model_name=OLD_ID, user_name="tweets", status="FitFailed"),
            model_payload(model_name=NEW_ID, user_name="tweets", status="Training"),
        ),
    )
    http.post(f"{api}/v0/models", json=model_payload())

    record = hook.create_model("classifier", name="tweets", adopt_existing=True)

    assert record.model_name == NEW_ID
    assert _methods(http) == ["GET /v0/models"]
    assert f"Model {NEW_ID} named 'tweets' already exists; reusing it." in logs.messages("info")


def test_adopt_existing_never_adopts_a_failed_model(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.get(
        f"{api}/v0/models",
        json=_models(model_payload(model_name=OLD_ID, user_name="tweets", status="FitFailed")),
    )
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, user_name="tweets"))

    assert hook.create_model("classifier", name="tweets", adopt_existing=True).model_name == NEW_ID
    assert _methods(http) == ["GET /v0/models", "POST /v0/models"]


def test_without_adopt_existing_a_namesake_gets_a_sibling(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.get(
        f"{api}/v0/models", json=_models(model_payload(model_name=OLD_ID, user_name="tweets", status="Ready"))
    )
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, user_name="tweets"))

    assert hook.create_model("classifier", name="tweets").model_name == NEW_ID


def test_create_that_timed_out_but_happened_returns_the_model_without_resending(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload, waits, logs
) -> None:
    old = model_payload(model_name=OLD_ID, user_name="tweets", status="Ready")
    new = model_payload(model_name=NEW_ID, user_name="tweets", status="Created")
    http.get(f"{api}/v0/models", json=_models(old))
    http.post(f"{api}/v0/models", body=requests.exceptions.ReadTimeout("Read timed out"))
    http.get(f"{api}/v0/models", json=_models(old, new))

    record = hook.create_model("classifier", name="tweets")

    assert record.model_name == NEW_ID
    assert record.status == "Created"
    assert _methods(http) == ["GET /v0/models", "POST /v0/models", "GET /v0/models"]
    assert waits == [hook.settings.timeout], "the service gets one more timeout to finish before the lookup"
    assert any(
        message.startswith("Create of 'tweets' got no usable answer")
        and message.endswith(f"made it: {NEW_ID}.")
        for message in logs.messages("warning")
    )


def test_create_that_timed_out_and_did_not_happen_is_sent_again(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload, waits
) -> None:
    http.get(f"{api}/v0/models", json=_models())
    http.post(f"{api}/v0/models", body=requests.exceptions.ReadTimeout("Read timed out"))
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID, user_name="tweets"))

    record = hook.create_model("classifier", name="tweets")

    assert record.model_name == NEW_ID
    assert _methods(http) == ["GET /v0/models", "POST /v0/models", "GET /v0/models", "POST /v0/models"]
    assert waits[0] == hook.settings.timeout
    assert len(waits) == 2


def test_create_with_a_name_gives_up_after_max_attempts_of_gateway_errors(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    http.get(f"{api}/v0/models", json=_models())
    http.post(f"{api}/v0/models", status=502, body="Bad Gateway")

    with pytest.raises(TuneTheModelServerError, match="HTTP 502"):
        hook.create_model("classifier", name="tweets")

    posts = [method for method in _methods(http) if method.startswith("POST")]
    lists = [method for method in _methods(http) if method.startswith("GET")]
    assert (len(posts), len(lists), len(waits)) == (3, 4, 2)


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.exceptions.ReadTimeout("Read timed out")},
        {"body": requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")},
        {"status": 500, "json": {"detail": "internal"}},
        {"status": 504, "body": "Gateway Timeout"},
    ],
)
def test_create_without_a_name_is_never_resent_when_it_may_have_happened(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits, failure: dict, api_key: str
) -> None:
    http.post(f"{api}/v0/models", **failure)

    with pytest.raises(TuneTheModelError) as raised:
        hook.create_model("classifier")

    message = str(raised.value)
    assert message.startswith("Creating the model may or may not have succeeded (")
    assert "Give the operator a 'name'" in message
    assert api_key not in message
    assert _methods(http) == ["POST /v0/models"]
    assert waits == []


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "headers": {"Retry-After": "2"}},
        {"status": 429, "headers": {"Retry-After": "2"}},
        {"body": requests.exceptions.ConnectTimeout("Connect timed out")},
        {
            "body": requests.exceptions.ConnectionError(
                MaxRetryError(None, "/v0/models", reason=NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
            )
        },
    ],
)
def test_create_without_a_name_is_resent_when_it_surely_did_not_happen(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload, waits, failure: dict
) -> None:
    http.post(f"{api}/v0/models", **failure)
    http.post(f"{api}/v0/models", json=model_payload(model_name=NEW_ID))

    assert hook.create_model("classifier").model_name == NEW_ID
    assert _methods(http) == ["POST /v0/models", "POST /v0/models"]
    assert len(waits) == 1
    if "headers" in failure:
        assert waits == [2.0]


def test_create_refused_by_the_service_is_not_retried(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    http.get(f"{api}/v0/models", json=_models())
    http.post(f"{api}/v0/models", status=422, json={"detail": "num_classes too large"})

    with pytest.raises(TuneTheModelBadRequestError, match="num_classes too large"):
        hook.create_model("classifier", name="tweets", num_classes=10_000)
    assert _methods(http) == ["GET /v0/models", "POST /v0/models"]
    assert waits == []


# ---- test_connection (the UI's Test button) ---------------------------------------------------


def test_test_connection_reports_the_model_count(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, model_payload
) -> None:
    http.get(f"{api}/v0/models", json=_models(model_payload(), model_payload(model_name=NEW_ID)))

    assert hook.test_connection() == (
        True,
        "Connected to Tune The Model at https://api.example.test: the key sees 2 models.",
    )


def test_test_connection_with_a_rejected_key(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str
) -> None:
    http.get(f"{api}/v0/models", status=401, json={"detail": "Invalid API key"})

    ok, message = hook.test_connection()

    assert ok is False
    assert message == "The API key was rejected (HTTP 401: Invalid API key); check the connection's API Key."
    assert api_key not in message


def test_test_connection_makes_exactly_one_attempt(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, waits
) -> None:
    http.get(f"{api}/v0/models", status=503, headers={"Retry-After": "30"})

    ok, message = hook.test_connection()

    assert ok is False
    assert "HTTP 503" in message
    assert (len(http.calls), waits) == (1, [])


def test_test_connection_with_a_malformed_reply(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str
) -> None:
    http.get(f"{api}/v0/models", body="not json")

    ok, message = hook.test_connection()

    assert ok is False
    assert "not valid JSON" in message


def test_test_connection_without_an_api_key(set_connection, http: responses.RequestsMock) -> None:
    conn_id = set_connection(password=None)

    ok, message = TuneTheModelHook(ttm_conn_id=conn_id).test_connection()

    assert ok is False
    assert message.startswith("Connection 'ttm_test' has no API key")
    assert len(http.calls) == 0


def test_test_connection_of_a_missing_connection() -> None:
    assert TuneTheModelHook(ttm_conn_id="ttm_nowhere").test_connection() == (
        False,
        "AirflowNotFoundException: The conn_id `ttm_nowhere` isn't defined",
    )


def test_test_connection_reports_an_unexpected_error(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str
) -> None:
    http.get(f"{api}/v0/models", body=RuntimeError("something odd"))

    assert hook.test_connection() == (False, "RuntimeError: something odd")


def test_the_ui_test_button_path_resolves_an_unsaved_connection(
    http: responses.RequestsMock, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 3.3's ``Connection.test_connection`` (task SDK) finds the provider's hook by conn_type and
    presets the connection, so the hook resolves it by id with no backend holding it. The Test
    endpoint of Airflow 2.11-3.2 calls the core model's ``test_connection`` and exports the unsaved
    connection as an ``AIRFLOW_CONN_`` variable instead."""
    if AIRFLOW_V_3_3_PLUS:
        from airflow.sdk import Connection
    else:
        from airflow.models.connection import Connection  # type: ignore[assignment]

    http.get(f"{api}/v0/models", json=_models())
    connection = Connection(conn_id="ttm_unsaved", conn_type="ttm", host=api, password="unsaved-key-987")
    if not AIRFLOW_V_3_3_PLUS:
        monkeypatch.setenv("AIRFLOW_CONN_TTM_UNSAVED", connection.get_uri())

    assert connection.test_connection() == (
        True,
        "Connected to Tune The Model at https://api.example.test: the key sees 0 models.",
    )
    assert http.calls[0].request.headers["Authorization"] == "unsaved-key-987"


# ---- the key never leaks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 401, "json": {"detail": "Invalid API key"}},
        {"status": 403, "body": "Forbidden"},
        {"status": 404, "json": {"detail": "not found"}},
        {"status": 500, "body": "Internal Server Error"},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 302, "headers": {"Location": "https://elsewhere.example.test/"}},
        {"status": 200, "body": "<html>"},
        {"body": requests.exceptions.ReadTimeout("Read timed out")},
        {"body": requests.exceptions.ConnectionError("Connection reset by peer")},
    ],
)
def test_the_api_key_never_appears_in_errors_or_logs(
    hook: TuneTheModelHook,
    http: responses.RequestsMock,
    api: str,
    api_key: str,
    model_id: str,
    waits,
    logs,
    failure: dict,
) -> None:
    http.get(f"{api}/v0/models/{model_id}/status", **failure)

    with pytest.raises(TuneTheModelError) as raised:
        hook.get_model(model_id)

    assert api_key not in str(raised.value)
    assert api_key not in repr(raised.value)
    assert api_key not in logs.everything()


def test_retry_warnings_are_captured_but_carry_no_key(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str, waits, logs
) -> None:
    """The control for the test above: the capture does see the hook's log lines."""
    http.get(f"{api}/v0/models", status=503, json={"detail": "busy"})

    with pytest.raises(TuneTheModelServerError):
        hook.list_models()

    warnings = logs.messages("warning")
    assert len(warnings) == 2
    assert all("Retrying in" in line for line in warnings)
    assert api_key not in logs.everything()


def test_the_log_capture_is_not_masked(hook: TuneTheModelHook, api_key: str, logs) -> None:
    """The control for the tests above: a key that the hook did log would be seen, unredacted."""
    hook.settings  # noqa: B018 - registers the key with Airflow's secrets masker

    hook.log.warning("probe %s", api_key)

    assert api_key in logs.everything()


def test_a_key_echoed_by_the_service_is_not_repeated_in_the_error(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str
) -> None:
    http.get(f"{api}/v0/models", status=401, json={"detail": f"Invalid API key {api_key}"})

    ok, message = hook.test_connection()

    assert ok is False
    assert api_key not in message


def test_test_connection_blanks_the_key_out_of_an_unexpected_error(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str
) -> None:
    escaped = "".join(f"\\u{ord(char):04x}" for char in api_key)
    http.get(f"{api}/v0/models", body=RuntimeError(f"odd: {api_key} and {escaped}"))

    assert hook.test_connection() == (False, "RuntimeError: odd: *** and ***")


def _frame_locals(error: BaseException) -> str:
    """The repr of every local variable of the provider's frames in ``error``'s traceback."""
    shown = []
    trace = error.__traceback__.tb_next  # past the test's own frame
    while trace is not None:
        shown += [f"{name}={value!r}" for name, value in trace.tb_frame.f_locals.items()]
        trace = trace.tb_next
    return "\n".join(shown)


def test_no_frame_of_a_failed_call_holds_the_key_or_the_reply_that_echoed_it(
    hook: TuneTheModelHook, http: responses.RequestsMock, api: str, api_key: str
) -> None:
    # Airflow 3.0's `dags test` logs a failed task's traceback with each frame's local variables.
    escaped = api_key.replace("-", "\\u002d")
    http.get(f"{api}/v0/models", status=401, body=f'{{"detail": "bad key {escaped}"}}')

    with pytest.raises(TuneTheModelAuthenticationError) as raised:
        hook.list_models()

    shown = _frame_locals(raised.value)
    assert "self=<airflow_provider_ttm.hooks.transport.SyncTransport" in shown  # the frames were read
    assert escaped not in shown
    assert api_key not in shown
