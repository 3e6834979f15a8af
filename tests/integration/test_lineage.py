"""OpenLineage events of a real ``airflow dags test`` run against the emulator, captured by the
OpenLineage provider's file transport (the test DAG is in lineage_dags/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ttm.emulator.public import DEFAULT_GENERATOR

pytest.importorskip(
    "airflow.providers.openlineage", reason="the OpenLineage provider is pinned on Airflow 3.3"
)
pytestmark = pytest.mark.integration

LINEAGE_DAGS = Path(__file__).resolve().parent / "lineage_dags"
DAG_ID = "ttm_test_lineage"
SUCCESS = "success"


@pytest.fixture
def lineage_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data files of the test DAG, and a file transport appending every event to ``events.jsonl``."""
    data = tmp_path / "data"
    data.mkdir()
    rows = "\n".join(f"training text {i},{i % 2}" for i in range(40))
    (data / "train.csv").write_text(f"input,class\n{rows}\n", encoding="utf-8")
    (data / "inputs.jsonl").write_text('{"input": "first"}\n{"input": "second"}\n', encoding="utf-8")
    events = tmp_path / "events.jsonl"
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "ttm-lineage-test")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(LINEAGE_DAGS))
    monkeypatch.setenv("TTM_LINEAGE_DIR", str(data))
    return tmp_path


def _complete_events(events: Path) -> dict[str, dict[str, Any]]:
    """Each task's COMPLETE event, by task id (exactly one per task)."""
    found: dict[str, dict[str, Any]] = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        name = event.get("job", {}).get("name", "")
        if event.get("eventType") == "COMPLETE" and name.startswith(f"{DAG_ID}."):
            task_id = name.removeprefix(f"{DAG_ID}.")
            assert task_id not in found, f"two COMPLETE events for {task_id}"
            found[task_id] = event
    return found


def _names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(dataset["namespace"], dataset["name"]) for dataset in datasets]


def test_complete_events_carry_the_data_and_the_models(ttm_emulator, dag_runner, lineage_run) -> None:
    ttm_emulator.control.configure(train_seconds=1.0, file_processing_seconds=0.5)

    result = dag_runner.run(DAG_ID)

    assert result.state == SUCCESS, result.output[-3000:]
    events = _complete_events(lineage_run / "events.jsonl")
    assert set(events) == {"create", "train", "classify", "generate"}, result.output[-3000:]
    data = lineage_run / "data"
    ttm = f"ttm://{ttm_emulator.url.removeprefix('http://')}"
    [record] = ttm_emulator.control.models()
    model, validation_file = record["model_name"], record["validate_file"]
    model_dataset = (ttm, f"models/{model}")

    assert _names(events["create"]["inputs"]) == []
    assert _names(events["create"]["outputs"]) == [model_dataset]
    description = events["create"]["outputs"][0]["facets"]["documentation"]["description"]
    assert description == f"Tune The Model classifier model {model}."

    assert _names(events["train"]["inputs"]) == [
        ("file", str(data / "train.csv")),
        (ttm, f"files/{validation_file}"),
    ]
    assert _names(events["train"]["outputs"]) == [model_dataset]

    assert _names(events["classify"]["inputs"]) == [model_dataset, ("file", str(data / "inputs.jsonl"))]
    assert _names(events["classify"]["outputs"]) == [("file", str(data / "predictions.jsonl"))]
    assert (data / "predictions.jsonl").read_text(encoding="utf-8").count("\n") == 2

    assert _names(events["generate"]["inputs"]) == [(ttm, f"models/{DEFAULT_GENERATOR}")]
    assert _names(events["generate"]["outputs"]) == [("file", str(data / "generated.jsonl"))]
    assert (data / "generated.jsonl").exists()
    assert ttm_emulator.api_key not in (lineage_run / "events.jsonl").read_text(encoding="utf-8")
