"""``TuneTheModelTrainModelOperator``: upload the datasets, bind them, fit, and optionally wait."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_ttm import data_files
from airflow_provider_ttm.api import training
from airflow_provider_ttm.api.datasets import Dataset, build_dataset
from airflow_provider_ttm.api.statuses import has_training_started
from airflow_provider_ttm.arguments import flag, positive_seconds, text
from airflow_provider_ttm.operators.assets import ModelAssetMixin
from airflow_provider_ttm.operators.base import (
    TuneTheModelWaitingOperator,
    default_model_name,
    ready_model,
)
from airflow_provider_ttm.operators.data import TuneTheModelDataOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.lineage import Lineage

DEFAULT_FILES_TIMEOUT = timedelta(hours=1)
#: XCom key of the ids of the dataset files a try uploaded (read back after a deferred wait).
DATASET_FILES_KEY = "dataset_files"
_DATA_PARAMS = ("train_data", "validation_data")
#: A file name is at most 256 characters: room for the longest suffix, ``.validate``.
_MAX_PREFIX = 256 - len(max(training.file_names(""), key=len))


class TuneTheModelTrainModelOperator(ModelAssetMixin, TuneTheModelDataOperator, TuneTheModelWaitingOperator):
    """Train a model: upload a training and a validation set, bind them, fit; optionally wait for Ready.

    Each dataset is a mapping ``{"inputs": [...], "classes" | "outputs": [...]}``, a list of rows
    (mappings with ``input_column`` and ``target_column``, or ``(input, target)`` pairs), another
    task's output, or the location of a CSV, JSON Lines or JSON file (a local path, a URL such as
    ``s3://...``, or an ``ObjectStoragePath``). Both sets are read and validated (at least 32 rows,
    one target per input, class indices below the number of classes) before anything is uploaded;
    a bad one fails with a ``ValueError`` naming the parameter and the row. Uploads go to the
    files' presigned URLs without the API key.

    Safe to retry: a model that is already training or Ready is not fitted again, and a fit whose
    reply is lost is checked before it is sent again. Returns the model's id, so ``train.output``
    feeds an inference task.

    Besides these, it takes the arguments of
    :class:`~airflow_provider_ttm.operators.data.TuneTheModelDataOperator` (``model_name``, the
    model to train, ``input_column``, ``data_format``) and
    :class:`~airflow_provider_ttm.operators.base.TuneTheModelWaitingOperator` (waiting,
    ``ttm_conn_id``); its uploaded files are checked at most ``poll_interval`` apart, sooner at first.
    With ``asset_alias`` (see :class:`~airflow_provider_ttm.operators.assets.ModelAssetMixin`) the
    trained model is announced as an asset event.

    :param train_data: the training set. (templated)
    :param validation_data: the validation set. (templated)
    :param model_type: ``classifier`` or ``generator``; default: the model's. When given with
        ``num_classes``, the data is fully checked before any request. (templated)
    :param num_classes: the classifier's number of classes; default: the model's. (templated)
    :param target_column: the column of the target; default ``class`` (classifier) or ``output``
        (generator). (templated)
    :param file_name_prefix: names the files ``<prefix>.train`` and ``<prefix>.validate``; default
        ``<dag_id>.<task_id>.<run_id>[.<map_index>]``, unique per task instance, which also lets a
        retry delete what an earlier try uploaded. (templated)
    :param files_timeout: how long to wait for the uploaded files to be processed.
    :param delete_files: delete the uploaded files when the task fails, and once the model is Ready
        (with ``wait_for_ready``; without it they are kept while the model trains).
    """

    template_fields: Sequence[str] = (
        "model_name",
        "train_data",
        "validation_data",
        "model_type",
        "num_classes",
        "input_column",
        "target_column",
        "data_format",
        "file_name_prefix",
        "ttm_conn_id",
    )
    ui_color = "#d8e8f8"
    #: The ids of the dataset files this try uploaded (read by the OpenLineage method).
    dataset_file_ids: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        train_data: Any,
        validation_data: Any,
        model_type: str | None = None,
        num_classes: int | str | None = None,
        target_column: str | None = None,
        file_name_prefix: str | None = None,
        files_timeout: float | timedelta = DEFAULT_FILES_TIMEOUT,
        delete_files: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.train_data = train_data
        self.validation_data = validation_data
        self.model_type = model_type
        self.num_classes = num_classes
        self.target_column = target_column
        self.file_name_prefix = file_name_prefix
        self.files_timeout = positive_seconds("files_timeout", files_timeout)
        self.delete_files = flag("delete_files", delete_files)

    def check_arguments(self) -> None:
        """Check the text arguments (rendered); ``execute`` checks the datasets once they are loaded."""
        super().check_arguments()
        text("input_column", self.input_column)
        if self.target_column is not None:
            text("target_column", self.target_column)
        if self.file_name_prefix is not None:
            text("file_name_prefix", self.file_name_prefix, max_length=_MAX_PREFIX)

    def execute(self, context: Context) -> str:
        """Validate both datasets, then upload, bind and fit (unless already done); return the id."""
        self.check_arguments()
        model_name = self.model_name
        model_type, num_classes = training.expected_kind(self.model_type, self.num_classes)
        raw = {
            param: data_files.load(param, getattr(self, param), data_format=self.data_format)
            for param in _DATA_PARAMS
        }
        if model_type is not None:
            self._datasets(raw, model_type, num_classes)
        model = self.hook.get_model(model_name)
        if has_training_started(model.status):
            self.log.info("Model %s is already %s; it is not trained again.", model_name, model.status)
            return self.announced(context, self._after_fit(context, model_name, []))
        model_type, num_classes = training.model_kind(model, model_type, num_classes)
        datasets = self._datasets(raw, model_type, num_classes)
        file_ids = self._upload_and_fit(context, model_name, model_type, datasets)
        return self.announced(context, self._after_fit(context, model_name, file_ids))

    def _dataset(self, param: str, value: Any, model_type: str, num_classes: int | None) -> Dataset:
        return build_dataset(
            param,
            value,
            model_type=model_type,
            num_classes=num_classes,
            input_column=self.input_column,
            target_column=self.target_column,
        )

    def _datasets(self, raw: dict[str, Any], model_type: str, num_classes: int | None) -> list[Dataset]:
        return [self._dataset(param, raw[param], model_type, num_classes) for param in _DATA_PARAMS]

    def _upload_and_fit(
        self, context: Context, model_name: str, model_type: str, datasets: list[Dataset]
    ) -> list[str]:
        names = training.file_names(self.file_name_prefix or default_model_name(context))
        if self.file_name_prefix is None:
            self._delete_files_named(names, reason="left by an earlier try")
        file_ids: list[str] = []
        try:
            for name, dataset in zip(names, datasets, strict=True):
                record = self.hook.create_file(name, model_type)
                file_ids.append(record.file_id)
                self.hook.upload_dataset(record, dataset)
            context["ti"].xcom_push(key=DATASET_FILES_KEY, value=file_ids)
            self.dataset_file_ids = tuple(file_ids)
            self.hook.wait_for_files(file_ids, poll_interval=self.poll_interval, timeout=self.files_timeout)
            self.hook.bind_datasets(model_name, *file_ids)
            model = self.hook.fit_model(model_name)
        except BaseException:
            self._cleanup(file_ids)
            raise
        self.log.info(
            "Training of model %s requested (%s): %d training and %d validation rows, files %s.",
            model_name,
            model.status,
            len(datasets[0]),
            len(datasets[1]),
            ", ".join(file_ids),
        )
        return file_ids

    def _after_fit(self, context: Context, model_name: str, file_ids: list[str]) -> str:
        if not self.wait_for_ready:
            if file_ids:
                self.log.info("The dataset files are kept while the model trains.")
            return model_name
        try:
            self.wait_until_ready(model_name, context)
        except TaskDeferred:
            raise  # the wait goes on in the triggerer; execute_complete cleans the files up
        except BaseException:
            self._cleanup(file_ids, context)
            raise
        self._cleanup(file_ids, context)
        return model_name

    def execute_complete(
        self, context: Context, event: dict[str, Any], deadline_set_by: str | None = None
    ) -> str:
        """After the trigger's event (see ``defer_wait``): the model's id if Ready, else raise; clean up."""
        try:
            model = ready_model(event, self.model_name, deadline_set_by=deadline_set_by)
        finally:
            ti = context["ti"]
            file_ids = (
                ti.xcom_pull(task_ids=ti.task_id, key=DATASET_FILES_KEY, map_indexes=ti.map_index) or []
            )
            self.dataset_file_ids = tuple(file_ids)
            self._cleanup(list(file_ids), context)
        self.log.info("Model %s is Ready.", model["model_name"])
        return self.announced(context, str(model["model_name"]))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """For OpenLineage: the datasets and the model (see :mod:`airflow_provider_ttm.lineage`).

        :param task_instance: the finished task instance (unused: this task's attributes say it all).
        """
        from airflow_provider_ttm.lineage import train_lineage

        return train_lineage(self, data_params=_DATA_PARAMS)

    def _cleanup(self, file_ids: list[str], context: Context | None = None) -> None:
        """Delete this try's files (and, with the default names, earlier tries'), if asked to."""
        if not self.delete_files:
            return
        try:
            for file_id in file_ids:
                self.hook.delete_file(file_id)
                self.log.info("Deleted dataset file %s.", file_id)
            if context is not None and self.file_name_prefix is None:
                names = training.file_names(default_model_name(context))
                self._delete_files_named(names, reason="no longer needed")
        except Exception as error:  # cleanup must not hide why the task failed
            self.log.warning("Could not delete every dataset file (%s): %s", ", ".join(file_ids), error)

    def _delete_files_named(self, names: Sequence[str], *, reason: str) -> None:
        for record in self.hook.list_files():
            if record.file_name in names:
                self.log.info("Deleting dataset file %s (%s), %s.", record.file_id, record.file_name, reason)
                self.hook.delete_file(record.file_id)
