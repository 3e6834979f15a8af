"""Test-only DAG: create, train, classify and generate, for the OpenLineage events they emit.

``TTM_LINEAGE_DIR`` is the folder of the data files (the test writes them): ``train.csv`` (the
training set; the validation set is given as rows, so it is uploaded from memory), ``inputs.jsonl``
(the texts to classify); the results go to ``predictions.jsonl`` and, through a ``file://`` URL
(an ``ObjectStoragePath``), ``generated.jsonl``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ttm.operators.inference import (
    TuneTheModelClassifyOperator,
    TuneTheModelGenerateOperator,
)
from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator

DATA = Path(os.environ.get("TTM_LINEAGE_DIR", "/nonexistent"))
VALIDATION = [{"input": f"validation text {i}", "class": i % 2} for i in range(32)]

with DAG("ttm_test_lineage", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    create = TuneTheModelCreateModelOperator(task_id="create", model_type="classifier", num_classes=2)
    train = TuneTheModelTrainModelOperator(
        task_id="train",
        model_name=create.output,
        train_data=str(DATA / "train.csv"),
        validation_data=VALIDATION,
        wait_for_ready=True,
        poll_interval=0.5,
    )
    TuneTheModelClassifyOperator(
        task_id="classify",
        model_name=train.output,
        inputs=str(DATA / "inputs.jsonl"),
        output_path=str(DATA / "predictions.jsonl"),
    )
    TuneTheModelGenerateOperator(
        task_id="generate",
        model_name="default-generator",
        inputs=["Write a haiku about lineage."],
        output_path=f"file://{DATA / 'generated.jsonl'}",
    )
