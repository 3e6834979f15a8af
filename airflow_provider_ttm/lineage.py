"""OpenLineage metadata of the provider's tasks: what a model is trained on, and what it makes.

The OpenLineage provider calls an operator's ``get_openlineage_facets_on_complete`` once the task
has succeeded, or failed; the operators import this module only then, so the provider works
without OpenLineage installed. Nothing here calls the Tune The Model API.

Names follow OpenLineage's conventions: a model is ``models/<id>`` and an uploaded dataset file
``files/<id>``, both in the namespace ``ttm://<host>`` of the connection's API (the model's asset
URI is ``ttm://<host>/models/<id>``); a local file is its absolute path in ``file``; an
object-storage URL ``<scheme>://<bucket>/<key>`` is ``<key>`` in ``<scheme>://<bucket>``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow.providers.common.compat.openlineage.facet import Dataset, DocumentationDatasetFacet, RunFacet
from airflow.providers.common.compat.sdk import ObjectStoragePath
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_ttm import data_files
from airflow_provider_ttm.assets import SCHEME, connection_host

if TYPE_CHECKING:
    from airflow_provider_ttm.operators.base import TuneTheModelBaseOperator
    from airflow_provider_ttm.operators.inference import TuneTheModelBatchOperator
    from airflow_provider_ttm.operators.training import TuneTheModelTrainModelOperator
    from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator

#: What the operators' ``get_openlineage_facets_on_complete`` return.
Lineage = OperatorLineage[Dataset, RunFacet]
_LOCAL_SCHEMES = ("", "file", "local")


def namespace(base_url: str) -> str:
    """``ttm://<host>[:<port>]``: the namespace of the models and files of the API at ``base_url``.

    The host is the one of the model's asset URI (:func:`airflow_provider_ttm.assets.connection_host`).

    :param base_url: the connection's base URL, e.g. ``https://api.tunethemodel.com``.
    """
    return f"{SCHEME}://{connection_host(base_url)}"


def model_dataset(base_url: str, model_id: str, model_type: str | None = None) -> Dataset:
    """The model ``model_id`` as a dataset, ``models/<id>`` in :func:`namespace`.

    :param base_url: the connection's base URL.
    :param model_id: the model's id.
    :param model_type: ``classifier`` or ``generator`` when known, named in its description.
    """
    kind = f"{model_type} model" if model_type else "model"
    facet = DocumentationDatasetFacet(description=f"Tune The Model {kind} {model_id}.")
    return Dataset(namespace=namespace(base_url), name=f"models/{model_id}", facets={"documentation": facet})


def file_dataset(base_url: str, file_id: str) -> Dataset:
    """An uploaded dataset file as a dataset, ``files/<id>`` in :func:`namespace`.

    :param base_url: the connection's base URL.
    :param file_id: the file's id.
    """
    return Dataset(namespace=namespace(base_url), name=f"files/{file_id}")


def location_dataset(location: data_files.Location) -> Dataset:
    """A file the task reads or writes, as a dataset.

    :param location: as the operators take it: a local path, a URL such as ``s3://bucket/key``, or
        an ``ObjectStoragePath``.
    """
    path = data_files.as_path(location)
    if not isinstance(path, ObjectStoragePath):  # a local path, taken as it is (no URL syntax)
        return Dataset(namespace="file", name=os.path.abspath(path))
    parts = urlsplit(str(path))
    if parts.scheme in _LOCAL_SCHEMES:
        return Dataset(namespace="file", name=os.path.abspath(parts.path))
    bucket = parts.netloc.rpartition("@")[2]  # ObjectStoragePath's ``<conn_id>@`` is not the bucket's name
    return Dataset(namespace=f"{parts.scheme}://{bucket}", name=parts.path.lstrip("/"))


def create_lineage(task: TuneTheModelCreateModelOperator) -> Lineage:
    """The created model as the output (none when the task failed before it made one).

    :param task: the finished task.
    """
    if task.model_id is None:
        return Lineage()
    model_type = getattr(task, "model_type", None)  # kept by name, as the other ``ModelSpec`` fields
    return Lineage(outputs=[model_dataset(_base_url(task), task.model_id, model_type)])


def train_lineage(task: TuneTheModelTrainModelOperator, *, data_params: tuple[str, ...]) -> Lineage:
    """The training and validation sets as the inputs, the trained model as the output.

    A set read from a file is that file; a set given as data is the file the task uploaded it to
    (none when the model was already training, so nothing was uploaded).

    :param task: the finished task.
    :param data_params: the dataset arguments, in the order their files were uploaded.
    """
    base_url = _base_url(task)
    inputs = []
    for index, param in enumerate(data_params):
        value = getattr(task, param)
        if data_files.is_location(value):
            inputs.append(location_dataset(value))
        elif index < len(task.dataset_file_ids):
            inputs.append(file_dataset(base_url, task.dataset_file_ids[index]))
    return Lineage(inputs=inputs, outputs=[model_dataset(base_url, task.model_name, task.model_type)])


def batch_lineage(task: TuneTheModelBatchOperator) -> Lineage:
    """The model called and the inputs' file as the inputs, the results' file (if any) as the output.

    :param task: the finished task.
    """
    inputs = [model_dataset(_base_url(task), task.model_name)]
    if data_files.is_location(task.inputs):
        inputs.append(location_dataset(task.inputs))
    outputs = [] if task.output_path is None else [location_dataset(task.output_path)]
    return Lineage(inputs=inputs, outputs=outputs)


def _base_url(task: TuneTheModelBaseOperator) -> str:
    """The base URL of the task's connection (the hook keeps it once ``execute`` has read it)."""
    return task.hook.settings.base_url
