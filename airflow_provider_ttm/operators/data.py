"""What the operators that send a model texts from rows or files share: training and batch inference."""

from __future__ import annotations

from typing import Any

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.datasets import DEFAULT_INPUT_COLUMN, data_format_of
from airflow_provider_ttm.operators.base import TuneTheModelBaseOperator


class TuneTheModelDataOperator(TuneTheModelBaseOperator):
    """Base of the operators that send a model texts read from rows or files.

    :param model_name: the model's id, e.g. ``create.output`` or ``train.output``. (templated)
    :param input_column: the column of the input text in rows and files. (templated)
    :param data_format: ``csv``, ``jsonl`` or ``json`` for files; default from the suffix. (templated)
    """

    def __init__(
        self,
        *,
        model_name: str,
        input_column: str = DEFAULT_INPUT_COLUMN,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.input_column = input_column
        self.data_format = data_format

    def check_arguments(self) -> None:
        """Check ``ttm_conn_id``, ``model_name`` and ``data_format`` (rendered)."""
        super().check_arguments()
        endpoints.validate_model_name(self.model_name)
        if self.data_format is not None:
            data_format_of("", self.data_format, param="data_format")
