"""OpenLineage metadata: the names of models, files and locations, and what each operator reports.

The operators run against the emulator; their ``get_openlineage_facets_on_complete`` is then called
as the OpenLineage provider calls it. Tests that build lineage need the provider (pinned on the
Airflow 3.3 line); the others also run where it is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from support.datasets import columns, rows

from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator

try:
    import airflow.providers.openlineage  # noqa: F401
except ImportError:
    HAS_OPENLINEAGE = False
else:
    HAS_OPENLINEAGE = True

needs_openlineage = pytest.mark.skipif(
    not HAS_OPENLINEAGE, reason="the OpenLineage provider is pinned on the Airflow 3.3 line only"
)
READY_EVENT = {"status": "success", "model_name": "a" * 32, "model_status": "Ready", "message": "",
               "model": {"model_name": "a" * 32, "status": "Ready"}}  # fmt: skip


@pytest.fixture
def fast(ttm_emulator):
    """An emulator that processes files and trains in a fraction of a second."""
    ttm_emulator.control.configure(file_processing_seconds=0.05, train_seconds=0.3)
    return ttm_emulator


def _ttm(ttm_emulator) -> str:
    return "ttm://" + ttm_emulator.url.removeprefix("http://")


def _names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(dataset.namespace, dataset.name) for dataset in datasets]


def _model() -> str:
    return TuneTheModelHook().create_model("classifier", num_classes=3).model_name


# --- names ------------------------------------------------------------------------------------------


@needs_openlineage
@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://api.tunethemodel.com", "ttm://api.tunethemodel.com"),
        ("http://127.0.0.1:8080", "ttm://127.0.0.1:8080"),
        ("https://TTM.Example.test:8443/prefix", "ttm://ttm.example.test:8443"),
        ("http://[::1]:8080", "ttm://[::1]:8080"),
    ],
)
def test_the_namespace_is_the_api_host(base_url: str, namespace: str) -> None:
    from airflow_provider_ttm.lineage import namespace as namespace_of

    assert namespace_of(base_url) == namespace


@needs_openlineage
def test_a_model_is_named_like_its_asset_and_described() -> None:
    from airflow_provider_ttm.lineage import file_dataset, model_dataset

    model = model_dataset("https://api.tunethemodel.com", "a" * 32, "generator")
    assert (model.namespace, model.name) == ("ttm://api.tunethemodel.com", f"models/{'a' * 32}")
    assert model.facets["documentation"].description == f"Tune The Model generator model {'a' * 32}."
    unknown = model_dataset("https://api.tunethemodel.com", "b" * 32)
    assert unknown.facets["documentation"].description == f"Tune The Model model {'b' * 32}."
    uploaded = file_dataset("https://api.tunethemodel.com", "c" * 32)
    assert (uploaded.namespace, uploaded.name) == ("ttm://api.tunethemodel.com", f"files/{'c' * 32}")


@needs_openlineage
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/data/train.csv", ("file", "/data/train.csv")),
        ("/data/run #1/train?.csv", ("file", "/data/run #1/train?.csv")),
        (Path("/data/train.csv"), ("file", "/data/train.csv")),
        ("file:///data/train.csv", ("file", "/data/train.csv")),
        ("s3://bucket/dir/train.csv", ("s3://bucket", "dir/train.csv")),
        ("s3://aws_default@bucket/dir/train.csv", ("s3://bucket", "dir/train.csv")),
        (ObjectStoragePath("gs://my_conn@bucket/train.jsonl"), ("gs://bucket", "train.jsonl")),
    ],
)
def test_a_location_is_named_by_openlineage_conventions(location: Any, expected: tuple[str, str]) -> None:
    from airflow_provider_ttm.lineage import location_dataset

    dataset = location_dataset(location)
    assert (dataset.namespace, dataset.name) == expected


@needs_openlineage
def test_a_relative_path_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ttm.lineage import location_dataset

    monkeypatch.chdir(tmp_path)
    dataset = location_dataset("data/train.csv")
    assert (dataset.namespace, dataset.name) == ("file", str(tmp_path / "data" / "train.csv"))


# --- create -----------------------------------------------------------------------------------------


def _create() -> TuneTheModelCreateModelOperator:
    return TuneTheModelCreateModelOperator(task_id="create", model_type="classifier", num_classes=3)


def test_create_keeps_the_model_id_for_lineage(ttm_emulator, context) -> None:
    operator = _create()
    assert operator.model_id is None

    assert operator.execute(context) == operator.model_id
    assert [model["model_name"] for model in ttm_emulator.control.models()] == [operator.model_id]


def test_create_keeps_the_model_id_when_resumed_after_a_deferred_wait(ttm_emulator, context) -> None:
    operator = _create()

    operator.execute_complete(context, READY_EVENT)

    assert operator.model_id == "a" * 32


@needs_openlineage
def test_create_reports_the_model_as_its_output(ttm_emulator, context) -> None:
    operator = _create()
    assert _names(operator.get_openlineage_facets_on_complete(context["ti"]).outputs) == []

    model_id = operator.execute(context)
    lineage = operator.get_openlineage_facets_on_complete(context["ti"])

    assert _names(lineage.inputs) == []
    assert _names(lineage.outputs) == [(_ttm(ttm_emulator), f"models/{model_id}")]
    description = lineage.outputs[0].facets["documentation"].description
    assert description == f"Tune The Model classifier model {model_id}."


@needs_openlineage
def test_a_deferred_create_reports_the_model_of_the_event(ttm_emulator, context) -> None:
    operator = _create()  # a new operator, as in the process that resumes a deferred task

    operator.execute_complete(context, READY_EVENT)

    outputs = operator.get_openlineage_facets_on_complete(context["ti"]).outputs
    assert _names(outputs) == [(_ttm(ttm_emulator), f"models/{'a' * 32}")]


# --- train ------------------------------------------------------------------------------------------


def _train(model_name: str, **kwargs: Any) -> TuneTheModelTrainModelOperator:
    kwargs.setdefault("train_data", rows(40))
    kwargs.setdefault("validation_data", columns(32))
    return TuneTheModelTrainModelOperator(
        task_id="train", model_name=model_name, poll_interval=0.05, **kwargs
    )


def _write_csv(path: Path, count: int) -> Path:
    lines = [f"text number {i},{i % 3}" for i in range(count)]
    path.write_text("input,class\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_keeps_the_ids_of_the_files_it_uploaded(fast, context) -> None:
    operator = _train(_model())
    assert operator.dataset_file_ids == ()

    operator.execute(context)

    assert list(operator.dataset_file_ids) == context["ti"].xcoms["dataset_files"]
    assert len(operator.dataset_file_ids) == 2


def test_train_keeps_the_file_ids_when_resumed_after_a_deferred_wait(fast, context) -> None:
    model_name = _model()
    context["ti"].xcom_push("dataset_files", ["d" * 32, "e" * 32])
    operator = _train(model_name, wait_for_ready=True, deferrable=True)

    ready = {**READY_EVENT, "model_name": model_name, "model": {"model_name": model_name, "status": "Ready"}}
    operator.execute_complete(context, ready)

    assert operator.dataset_file_ids == ("d" * 32, "e" * 32)


@needs_openlineage
def test_train_reports_files_and_uploaded_data_as_inputs_and_the_model_as_output(
    fast, context, tmp_path: Path
) -> None:
    model_name = _model()
    train_csv = _write_csv(tmp_path / "train.csv", 40)
    operator = _train(model_name, train_data=str(train_csv), model_type="classifier")

    operator.execute(context)
    lineage = operator.get_openlineage_facets_on_complete(context["ti"])

    [_, validation_file] = context["ti"].xcoms["dataset_files"]
    ttm = _ttm(fast)
    assert _names(lineage.inputs) == [("file", str(train_csv)), (ttm, f"files/{validation_file}")]
    assert _names(lineage.outputs) == [(ttm, f"models/{model_name}")]
    description = lineage.outputs[0].facets["documentation"].description
    assert description == f"Tune The Model classifier model {model_name}."


@needs_openlineage
def test_a_retried_train_names_no_upload_it_did_not_make(fast, context, tmp_path: Path) -> None:
    model_name = _model()
    _train(model_name).execute(context)  # the first try fits the model
    validation_csv = _write_csv(tmp_path / "validation.csv", 32)
    retry = _train(model_name, validation_data=str(validation_csv))

    retry.execute(context)  # the model is already training: nothing is uploaded
    lineage = retry.get_openlineage_facets_on_complete(context["ti"])

    assert _names(lineage.inputs) == [("file", str(validation_csv))]
    assert _names(lineage.outputs) == [(_ttm(fast), f"models/{model_name}")]


# --- classify and generate -------------------------------------------------------------------------


@needs_openlineage
def test_classify_reports_the_model_and_inputs_file_in_and_the_predictions_out(
    ttm_emulator, context, tmp_path: Path
) -> None:
    model_name = _model()
    ttm_emulator.control.force_status(model_name, "Ready")
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(json.dumps({"input": text}) for text in ("one", "two")), encoding="utf-8")
    operator = TuneTheModelClassifyOperator(
        task_id="classify",
        model_name=model_name,
        inputs=str(inputs),
        output_path=ObjectStoragePath(f"file://{tmp_path / 'out' / 'predictions.jsonl'}"),
    )

    operator.execute(context)
    lineage = operator.get_openlineage_facets_on_complete(context["ti"])

    assert _names(lineage.inputs) == [(_ttm(ttm_emulator), f"models/{model_name}"), ("file", str(inputs))]
    assert _names(lineage.outputs) == [("file", str(tmp_path / "out" / "predictions.jsonl"))]


@needs_openlineage
def test_generate_on_data_in_memory_reports_only_the_model(ttm_emulator, context) -> None:
    operator = TuneTheModelGenerateOperator(task_id="generate", model_name="default-generator", inputs=["hi"])

    operator.execute(context)
    lineage = operator.get_openlineage_facets_on_complete(context["ti"])

    assert _names(lineage.inputs) == [(_ttm(ttm_emulator), "models/default-generator")]
    assert _names(lineage.outputs) == []


# --- without OpenLineage ----------------------------------------------------------------------------


def test_the_operators_import_no_openlineage_code() -> None:
    """Only the OpenLineage provider's call imports the lineage module, so it may be missing."""
    script = (
        "import sys\n"
        "NAMES = ('airflow_provider_ttm.lineage', 'airflow.providers.openlineage.extractors', 'openlineage')\n"
        "import airflow_provider_ttm.operators.inference, airflow_provider_ttm.operators.training\n"
        "import airflow_provider_ttm.operators.ttm\n"
        "print(sorted(name for name in sys.modules if name.startswith(NAMES)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    )
    assert completed.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.skipif(HAS_OPENLINEAGE, reason="checks the Airflow lines without the OpenLineage provider")
def test_without_openlineage_the_method_says_what_is_missing(ttm_emulator, context) -> None:
    with pytest.raises(ImportError, match="openlineage"):
        _create().get_openlineage_facets_on_complete(context["ti"])
