"""The public API of 0.1.0 (the baseline of ``.ci/api_check.py``), called as its README showed it.

Each call form that worked with 0.1.0 works now: the hook's methods by keyword, the operators' and
the sensor's arguments and the attributes they are kept in, the exceptions with their constructor
arguments and attributes (``http_status`` too), the trigger's serialized kwargs, the records'
fields and the emulator's settings. The static guard (``.ci/api_check.py``) checks signatures; these
tests check that the calls do what they did, against the emulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect

import pytest

from airflow_provider_ttm.api.datasets import MIN_ROWS, Dataset
from airflow_provider_ttm.api.endpoints import ModelSpec
from airflow_provider_ttm.api.records import ModelRecord
from airflow_provider_ttm.api.statuses import ModelStatus
from airflow_provider_ttm.emulator import EmulatorConfig
from airflow_provider_ttm.exceptions import (
    TuneTheModelApiError,
    TuneTheModelBatchItemError,
    TuneTheModelMalformedResponseError,
    TuneTheModelNotFoundError,
    TuneTheModelRetryableApiError,
    TuneTheModelServerError,
    TuneTheModelTransportError,
)
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import (
    TuneTheModelCreateModelOperator,
    TuneTheModelDeleteModelOperator,
    TuneTheModelListModelsOperator,
)
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

#: The hook's methods of 0.1.0 with their parameters (all callable by keyword then).
HOOK_METHODS_0_1_0 = {
    "list_models": (),
    "get_model": ("model_name",),
    "aget_model": ("transport", "model_name"),
    "alist_models": ("transport",),
    "create_model": (
        "model_type",
        "name",
        "num_classes",
        "train_iters",
        "pretrained_model",
        "adopt_existing",
    ),
    "delete_model": ("model_name", "missing_ok"),
    "list_files": (),
    "get_file": ("file_id",),
    "create_file": ("name", "task_type"),
    "delete_file": ("file_id", "missing_ok"),
    "upload_dataset": ("file", "dataset"),
    "wait_for_files": ("file_ids", "poll_interval", "timeout"),
    "bind_datasets": ("model_name", "train_file", "validate_file"),
    "fit_model": ("model_name",),
    "wait_for_model": ("model_name", "poll_interval", "timeout"),
    "list_public_models": (),
    "classify": ("model_name", "text", "transport"),
    "generate": ("model_name", "text", "options", "transport"),
    "classify_batch": ("model_name", "texts", "max_concurrency", "retries"),
    "generate_batch": ("model_name", "texts", "options", "max_concurrency", "retries"),
    "test_connection": (),
}


@pytest.mark.parametrize(("method", "params"), HOOK_METHODS_0_1_0.items())
def test_every_hook_method_of_0_1_0_binds_its_keywords(method: str, params: tuple[str, ...]) -> None:
    signature = inspect.signature(getattr(TuneTheModelHook, method))

    signature.bind(TuneTheModelHook(), **dict.fromkeys(params, "x"))


def test_create_model_in_the_keyword_form_of_0_1_0(ttm_emulator) -> None:
    """The issue's call: ``TypeError: create_model() missing ... 'spec'`` before this was restored."""
    hook = TuneTheModelHook()

    record = hook.create_model(model_type="classifier", name="tweets", num_classes=3)

    assert (record.model_type, record.user_name, record.model_params) == (
        "classifier",
        "tweets",
        {"num_classes": 3},
    )
    stored = ttm_emulator.control.models()
    assert [(m["model_name"], m["user_name"]) for m in stored] == [(record.model_name, "tweets")]


def test_create_model_positionally_and_with_a_model_spec(ttm_emulator) -> None:
    hook = TuneTheModelHook()

    positional = hook.create_model("generator", name="gen", train_iters=2)
    spec = hook.create_model(ModelSpec("classifier", name="spec", num_classes=2), adopt_existing=True)
    adopted = hook.create_model(model_type="classifier", name="spec", adopt_existing=True)

    assert (positional.model_type, positional.model_params) == ("generator", {"train_iters": 2})
    assert adopted.model_name == spec.model_name
    assert ttm_emulator.control.count("POST /v0/models") == 2
    with pytest.raises(ValueError, match="num_classes"):
        hook.create_model(ModelSpec("classifier"), num_classes=3)
    assert ttm_emulator.control.count("POST /v0/models") == 2


def test_a_model_trained_and_called_through_the_hook_by_keyword(ttm_emulator) -> None:
    """Files, upload, bind, fit, wait, inference and delete, each called by keyword as in 0.1.0."""
    ttm_emulator.control.configure(train_seconds=0.05, file_processing_seconds=0.05)
    hook = TuneTheModelHook()
    model = hook.create_model(model_type="classifier", name="trained", num_classes=2)
    rows = Dataset("classifier", tuple(f"text {i}" for i in range(MIN_ROWS)), (0, 1) * (MIN_ROWS // 2))
    files = [hook.create_file(name=f"trained-{part}", task_type="classifier") for part in ("train", "valid")]
    for file in files:
        hook.upload_dataset(file=file, dataset=rows)

    ready_files = hook.wait_for_files(file_ids=[f.file_id for f in files], poll_interval=0.05, timeout=30)
    hook.bind_datasets(
        model_name=model.model_name, train_file=files[0].file_id, validate_file=files[1].file_id
    )
    hook.fit_model(model_name=model.model_name)
    ready = hook.wait_for_model(model_name=model.model_name, poll_interval=0.05, timeout=30)
    scores = hook.classify(model_name=model.model_name, text="text 1")
    batch = hook.classify_batch(model_name=model.model_name, texts=["a", "b"], max_concurrency=2, retries=0)
    answers = hook.generate(model_name="default-generator", text="Hello")
    answer_batch = hook.generate_batch(
        model_name="default-generator", texts=["Hi"], max_concurrency=1, retries=0
    )

    assert [f.status for f in ready_files] == ["FileReady", "FileReady"]
    assert ready.is_ready
    assert hook.get_model(model_name=model.model_name).status == "Ready"
    assert len(scores) == 1 and len(batch) == 2
    assert answers and len(answer_batch) == 1
    assert "amazon_polarity" in [m.user_name for m in hook.list_public_models()]
    assert hook.delete_file(file_id=files[0].file_id, missing_ok=True) is not None
    assert hook.get_file(file_id=files[1].file_id).file_id == files[1].file_id
    assert hook.delete_model(model_name=model.model_name, missing_ok=True) is not None
    assert hook.delete_model(model_name=model.model_name, missing_ok=True) is None
    assert hook.test_connection()[0] is True


def test_api_errors_keep_http_status(ttm_emulator) -> None:
    hook = TuneTheModelHook()

    with pytest.raises(TuneTheModelNotFoundError) as raised:
        hook.delete_model(model_name="0" * 32, missing_ok=False)

    assert raised.value.http_status == raised.value.status_code == 404


def test_exceptions_take_the_arguments_of_0_1_0_and_keep_their_attributes() -> None:
    api = TuneTheModelApiError("refused", status_code=400)
    retryable = TuneTheModelRetryableApiError("busy", status_code=503, retry_after=2.0)
    server = TuneTheModelServerError("down", status_code=502)
    malformed = TuneTheModelMalformedResponseError("garbled", status_code=200, retryable=False)
    transport = TuneTheModelTransportError("reset", sent=True, timed_out=True)
    batch = TuneTheModelBatchItemError("input 3 failed", index=3)

    assert (api.http_status, retryable.http_status, server.http_status, malformed.http_status) == (
        400,
        503,
        502,
        200,
    )
    assert (retryable.retry_after, retryable.retryable, malformed.retryable) == (2.0, True, False)
    assert (transport.sent, transport.timed_out, transport.retryable) == (True, True, True)
    assert batch.index == 3
    assert str(api) == "refused"


def test_the_batch_error_still_imports_from_the_batch_module() -> None:
    from airflow_provider_ttm.hooks.batch import TuneTheModelBatchItemError as from_batch

    assert from_batch is TuneTheModelBatchItemError


def test_operator_attributes_of_0_1_0() -> None:
    """Each argument of 0.1.0 is accepted by keyword and kept, as given, in the attribute of its name."""
    data = {"inputs": ["a"] * MIN_ROWS, "classes": [0] * MIN_ROWS}
    given = {
        TuneTheModelCreateModelOperator: {
            "model_type": "classifier",
            "name": "tweets",
            "num_classes": 3,
            "train_iters": "{{ params.iters }}",
            "pretrained_model": "base",
            "wait_for_ready": True,
            "deferrable": True,
            "coalesce": False,
            "max_consecutive_errors": 7,
        },
        TuneTheModelTrainModelOperator: {
            "model_name": "m1",
            "train_data": data,
            "validation_data": data,
            "model_type": "classifier",
            "num_classes": 2,
            "wait_for_ready": True,
        },
        TuneTheModelClassifyOperator: {"model_name": "m1", "inputs": ["a"], "max_concurrency": 2},
        TuneTheModelGenerateOperator: {
            "model_name": "m1",
            "inputs": ["a"],
            "num_hypos": 2,
            "min_tokens": 1,
            "max_tokens": 9,
            "temperature": 0.5,
            "top_k": 3,
            "top_p": 0.9,
            "seed": 4,
            "prefix_tokens_only": True,
            "span_delimiters": ["."],
        },
        TuneTheModelDeleteModelOperator: {"model_name": "m1", "fail_if_missing": True},
        TuneTheModelListModelsOperator: {"statuses": ["Ready"], "model_type": "generator"},
        TuneTheModelModelReadySensor: {
            "model_name": "m1",
            "strict": True,
            "max_consecutive_errors": 2,
            "coalesce": False,
        },
    }
    for operator, arguments in given.items():
        task = operator(task_id=operator.__name__, ttm_conn_id="ttm_other", **arguments)
        kept = {name: getattr(task, name) for name in arguments}
        assert kept == arguments, operator.__name__
        assert task.ttm_conn_id == "ttm_other"


#: Each class's template fields in 0.1.0: every one must still be rendered.
TEMPLATE_FIELDS_0_1_0 = {
    TuneTheModelCreateModelOperator: ("model_type", "name", "num_classes", "train_iters", "pretrained_model"),
    TuneTheModelTrainModelOperator: (
        "model_name",
        "train_data",
        "validation_data",
        "model_type",
        "num_classes",
    ),
    TuneTheModelClassifyOperator: ("model_name", "inputs"),
    TuneTheModelGenerateOperator: ("model_name", "inputs"),
    TuneTheModelDeleteModelOperator: ("model_name",),
    TuneTheModelListModelsOperator: ("statuses", "model_type"),
    TuneTheModelModelReadySensor: ("model_name",),
}


@pytest.mark.parametrize(
    ("operator", "fields"), TEMPLATE_FIELDS_0_1_0.items(), ids=lambda x: getattr(x, "__name__", "")
)
def test_template_fields_of_0_1_0_are_still_templated(operator: type, fields: tuple[str, ...]) -> None:
    assert set(fields) | {"ttm_conn_id"} <= set(operator.template_fields)


def test_a_trigger_serialized_by_0_1_0_is_restored() -> None:
    """What 0.1.0 stored in the metadata database for a deferred wait (its ``serialize()``)."""
    classpath = "airflow_provider_ttm.triggers.ttm.TuneTheModelModelStatusTrigger"
    stored = {
        "ttm_conn_id": "ttm_default",
        "model_name": "m1",
        "poll_interval": 30.0,
        "deadline": 1900000000.0,
        "max_consecutive_errors": 5,
        "strict": False,
        "started_at": None,
        "coalesce": True,
    }

    trigger = TuneTheModelModelStatusTrigger(**stored)
    path, kwargs = trigger.serialize()

    assert path == classpath
    assert {key: kwargs[key] for key in stored if key != "started_at"} == {
        key: value for key, value in stored.items() if key != "started_at"
    }


def test_model_record_fields_and_properties_of_0_1_0() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    record = ModelRecord(
        model_name="m1",
        status="Ready",
        user_name="tweets",
        model_type="classifier",
        model_params={"num_classes": 3},
        last_updated_time=when,
        extra={"owner": "me"},
    )

    assert (record.is_ready, record.has_failed, record.known_status) == (True, False, "Ready")
    assert isinstance(record.known_status, ModelStatus)
    assert record.to_dict() == {
        "owner": "me",
        "model_name": "m1",
        "user_name": "tweets",
        "model_type": "classifier",
        "status": "Ready",
        "model_params": {"num_classes": 3},
        "last_updated_time": "2026-01-02T03:04:05+00:00",
    }


def test_emulator_config_positions_of_0_1_0() -> None:
    config = EmulatorConfig(("key-1",), "127.0.0.1", 0, 0.5, None, 0.1)

    assert (config.api_keys, config.host, config.port, config.train_seconds) == (
        ("key-1",),
        "127.0.0.1",
        0,
        0.5,
    )
    assert (config.auto_train_seconds, config.file_processing_seconds, config.api_key_aliases) == (
        None,
        0.1,
        {},
    )


def test_wait_until_ready_with_the_model_name_alone(ttm_emulator) -> None:
    """0.1.0's ``wait_until_ready(model_name)`` of the waiting operators, in the worker."""
    ttm_emulator.control.configure(auto_train_seconds=0.05)
    model = TuneTheModelHook().create_model(model_type="classifier", num_classes=2)
    task = TuneTheModelCreateModelOperator(
        task_id="create", model_type="classifier", wait_for_ready=True, poll_interval=0.05, timeout=30
    )

    task.wait_until_ready(model.model_name)

    assert ttm_emulator.control.models()[0]["status"] == "Ready"


def test_the_async_reads_return_records_as_in_0_1_0(ttm_emulator) -> None:
    hook = TuneTheModelHook()
    created = hook.create_model(model_type="generator", name="async")

    async def read() -> tuple[list[ModelRecord], ModelRecord]:
        transport = await hook.async_transport()
        try:
            listed = await hook.alist_models(transport=transport)
            return listed, await hook.aget_model(transport=transport, model_name=created.model_name)
        finally:
            await transport.aclose()

    listed, one = asyncio.run(read())

    assert isinstance(listed, list)
    assert [(m.model_name, m.user_name) for m in listed] == [(created.model_name, "async")]
    assert one.model_name == created.model_name
