"""Batch inference as tasks: ``TuneTheModelClassifyOperator`` and ``TuneTheModelGenerateOperator``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_ttm import data_files
from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.datasets import inputs_from
from airflow_provider_ttm.api.inference import (
    DEFAULT_THRESHOLD,
    GENERATION_OPTIONS,
    GenerationOptions,
    predicted_classes,
    validate_threshold,
)
from airflow_provider_ttm.operators.data import TuneTheModelDataOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.lineage import Lineage

MAX_CONCURRENCY = 64


class TuneTheModelBatchOperator(TuneTheModelDataOperator):
    """Base of the batch operators: reading the inputs, the thread pool's bounds, the output.

    Up to ``max_concurrency`` requests run at once on a thread pool in the worker; an input whose
    request fails in a way that may pass (429, 5xx, a lost or garbled reply) is tried again, and a
    final failure names the input and stops the batch. Besides these, it takes the arguments of
    :class:`~airflow_provider_ttm.operators.data.TuneTheModelDataOperator` (``model_name``, the
    model to call, ``input_column``, ``data_format``, ``ttm_conn_id``).

    :param inputs: the texts: a list, a list of rows (mappings with ``input_column``), a dataset
        ``{"inputs": [...], ...}``, another task's output, or the location of a CSV, JSON Lines or
        JSON file (local path, URL or ``ObjectStoragePath``). (templated)
    :param output_path: write the results there as JSON Lines and return the path, which keeps
        large batches out of XCom. (templated)
    :param max_concurrency: the most requests in flight at once (1 to 64).
    :param item_retries: the most extra attempts of an input whose failure may pass, within the
        connection's ``max_attempts``: an input is sent at most ``min(max_attempts, item_retries + 1)``
        times in all (the task's own ``retries`` re-run the whole batch).
    """

    template_fields: Sequence[str] = (
        "model_name",
        "inputs",
        "input_column",
        "data_format",
        "output_path",
        "ttm_conn_id",
    )

    def __init__(
        self,
        *,
        inputs: Any,
        output_path: Any = None,
        max_concurrency: int = 4,
        item_retries: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inputs = inputs
        self.output_path = output_path
        self.max_concurrency = endpoints.whole_number("max_concurrency", max_concurrency, minimum=1)
        if self.max_concurrency > MAX_CONCURRENCY:
            raise ValueError(f"max_concurrency must be at most {MAX_CONCURRENCY}; got {max_concurrency!r}.")
        self.item_retries = endpoints.whole_number("item_retries", item_retries, minimum=0)

    def execute(self, context: Context) -> list[dict[str, Any]] | str:
        """Call the model once per input; return the results in input order, or the output path."""
        self.check_arguments()
        model_name = self.model_name
        loaded = data_files.load("inputs", self.inputs, data_format=self.data_format)
        texts = inputs_from("inputs", loaded, input_column=self.input_column)
        self.log.info(
            "Calling model %s on %d inputs, %d at a time.",
            model_name,
            len(texts),
            min(self.max_concurrency, len(texts)),
        )
        results = self._call(model_name, texts)
        self.log.info("Model %s answered all %d inputs.", model_name, len(texts))
        if self.output_path is None:
            return results
        written = data_files.write_json_lines(self.output_path, results)
        self.log.info("Wrote %d results to %s.", len(results), written)
        return written

    def _call(self, model_name: str, texts: list[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """For OpenLineage: the model, the inputs and the results (see :mod:`airflow_provider_ttm.lineage`).

        :param task_instance: the finished task instance (unused: this task's attributes say it all).
        """
        from airflow_provider_ttm.lineage import batch_lineage

        return batch_lineage(self)


class TuneTheModelClassifyOperator(TuneTheModelBatchOperator):
    """Classify a batch of texts with a trained classifier (or a public one).

    ``model_name`` is a classifier's id, e.g. ``train.output``, or a public one's. Returns one
    ``{"input", "scores", "class"}`` per input, in input order (or, with ``output_path``, the
    path of the file that holds them). A binary classifier answers one score, the probability of
    class 1: ``class`` is 1 when it is >= ``threshold``, else 0. A classifier of k >= 3 classes answers k
    scores: ``class`` is the index of the highest (``threshold`` does not apply). Any other answer
    (no score, 2 scores, a score that is not a finite number, or answers of one model with
    different numbers of scores) is a malformed reply and fails the task.

    Besides ``threshold``, it takes the arguments of
    :class:`~airflow_provider_ttm.operators.inference.TuneTheModelBatchOperator`.

    :param threshold: a binary classifier's score at or above which an input is class 1, from 0
        to 1; checked once rendered, before any request. (templated)
    """

    template_fields: Sequence[str] = (*TuneTheModelBatchOperator.template_fields, "threshold")

    def __init__(self, *, threshold: float | str = DEFAULT_THRESHOLD, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def check_arguments(self) -> None:
        """Check the batch's arguments and ``threshold`` (rendered)."""
        super().check_arguments()
        validate_threshold(self.threshold)

    def _call(self, model_name: str, texts: list[str]) -> list[dict[str, Any]]:
        threshold = validate_threshold(self.threshold)
        scores = self.hook.classify_batch(
            model_name, texts, max_concurrency=self.max_concurrency, retries=self.item_retries
        )
        classes = predicted_classes(scores, threshold)
        if scores and len(scores[0]) > 1 and threshold != DEFAULT_THRESHOLD:
            self.log.info(
                "Model %s has %d classes: each input is the class of its highest score; "
                "threshold applies only to binary classifiers.",
                model_name,
                len(scores[0]),
            )
        return [
            {"input": text, "scores": item, "class": label}
            for text, item, label in zip(texts, scores, classes, strict=True)
        ]


class TuneTheModelGenerateOperator(TuneTheModelBatchOperator):
    """Generate responses to a batch of texts with a trained generator (or a public one).

    ``model_name`` is a generator's id: a trained one, a public one, or ``default-generator`` for
    few-shot generation with no training (put the examples in the input). Returns one
    ``{"input", "responses"}`` per input, in input order (or, with ``output_path``, the path of the
    file that holds them).

    Its generation knobs are the fields of
    :class:`~airflow_provider_ttm.api.inference.GenerationOptions` (``num_hypos``,
    ``max_tokens``, ``temperature``...), each templated; one left as None is the service's
    default, and ``span_delimiters`` may also be a single string. Besides these, it takes the
    arguments of :class:`~airflow_provider_ttm.operators.inference.TuneTheModelBatchOperator`.
    """

    template_fields: Sequence[str] = (*TuneTheModelBatchOperator.template_fields, *GENERATION_OPTIONS)

    def __init__(
        self,
        *,
        num_hypos: int | str | None = None,
        min_tokens: int | str | None = None,
        max_tokens: int | str | None = None,
        temperature: float | str | None = None,
        top_k: int | str | None = None,
        top_p: float | str | None = None,
        seed: int | str | None = None,
        prefix_tokens_only: bool | str | None = None,
        span_delimiters: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_hypos = num_hypos
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.seed = seed
        self.prefix_tokens_only = prefix_tokens_only
        self.span_delimiters = span_delimiters

    def check_arguments(self) -> None:
        """Check the batch's arguments and the generation options (rendered)."""
        super().check_arguments()
        self._options()

    def _options(self) -> GenerationOptions:
        return GenerationOptions.from_arguments(**{name: getattr(self, name) for name in GENERATION_OPTIONS})

    def _call(self, model_name: str, texts: list[str]) -> list[dict[str, Any]]:
        responses = self.hook.generate_batch(
            model_name,
            texts,
            self._options(),
            max_concurrency=self.max_concurrency,
            retries=self.item_retries,
        )
        return [{"input": text, "responses": item} for text, item in zip(texts, responses, strict=True)]
