"""The stored models and files, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_ttm.emulator.lifecycle import Timeline


def format_time(timestamp: float) -> str:
    """
    ``YYYY-MM-DD HH:MM:SS.f`` in UTC with 1 to 6 fraction digits, the reference's
    ``last_updated_time`` (trailing zeros dropped, as in its ``2022-06-10 17:52:35.81619``).
    """
    text = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    whole, fraction = text.split(".")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


def parse_time(text: str) -> float:
    """The Unix time of a ``last_updated_time`` (1 to 6 fraction digits, or none), read as UTC."""
    parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S")
    return parsed.replace(tzinfo=UTC).timestamp()


@dataclass
class ModelRecord:
    """
    A model as the emulator stores it.

    :param model_id: 32 lowercase hex digits, shown as ``model_name`` and/or ``model_id``.
    :param owner: the API key that created it; ``None`` for a public model.
    :param model_type: ``classifier`` or ``generator``.
    :param name: the human name, shown as ``user_name`` and/or ``name``.
    :param params: ``model_params`` (``num_classes`` for a classifier, ``train_iters`` if given).
    :param timeline: its statuses over time.
    :param pretrained_model: the base model asked for at creation, if any.
    :param train_file: the bound training file's id.
    :param validate_file: the bound validation file's id.
    :param auto_training: it is training by itself (``auto_train_seconds``); a bind takes over.
    :param datasets_ready_at: when the bound files are (or were) processed; a fit waits for it.
    :param dataset_failure: why the bound datasets cannot train it (a fit then ends FitFailed).
    """

    model_id: str
    owner: str | None
    model_type: str
    name: str
    params: dict[str, int]
    timeline: Timeline
    pretrained_model: str | None = None
    train_file: str | None = None
    validate_file: str | None = None
    auto_training: bool = False
    datasets_ready_at: float | None = None
    dataset_failure: str | None = None

    def render(
        self, now: float, id_spelling: str, *, with_params: bool = True, updated_at: float | None = None
    ) -> dict[str, Any]:
        """
        The API's model object: the reference's keys plus the SDK's ``model_id`` and ``name``.

        :param now: the time to compute the status at.
        :param id_spelling: ``both``, ``model_name`` (reference only) or ``model_id`` (SDK only).
        :param with_params: include ``model_params`` (list entries leave it out, as the reference does).
        :param updated_at: the ``last_updated_time`` to show instead of the status's (a delete's time).
        """
        status, since = self.timeline.at(now)
        reference = id_spelling in ("both", "model_name")
        sdk = id_spelling in ("both", "model_id")
        model: dict[str, Any] = {"status": status}
        if reference:
            model["model_name"] = self.model_id
        if sdk:
            model["model_id"] = self.model_id
        model["model_type"] = self.model_type
        if with_params:
            model["model_params"] = dict(self.params)
        if reference:
            model["user_name"] = self.name
        if sdk:
            model["name"] = self.name
        model["last_updated_time"] = format_time(since if updated_at is None else updated_at)
        return model

    def describe(self, now: float) -> dict[str, Any]:
        """Everything about the model, for the admin API (never the owner's key)."""
        return {
            **self.render(now, "both"),
            "pretrained_model": self.pretrained_model,
            "train_file": self.train_file,
            "validate_file": self.validate_file,
            "dataset_failure": self.dataset_failure,
        }


@dataclass
class FileRecord:
    """
    A dataset file as the emulator stores it.

    :param file_id: 32 lowercase hex digits.
    :param owner: the API key that created it.
    :param name: the file name given at creation.
    :param task_type: ``classifier`` or ``generator``.
    :param signature: the secret that signs its upload URL.
    :param upload_url: where the dataset is PUT (signed; needs no API key).
    :param timeline: its statuses over time.
    :param rows: the number of examples once uploaded.
    :param max_class: the highest class label of an uploaded classifier dataset.
    :param processed_at: when processing of the uploaded dataset ends (FileReady or FileFailed).
    :param failure: why processing fails (an invalid dataset), or ``None``.
    """

    file_id: str
    owner: str
    name: str
    task_type: str
    signature: str
    upload_url: str
    timeline: Timeline
    rows: int | None = None
    max_class: int | None = None
    processed_at: float | None = None
    failure: str | None = None

    def render(self, now: float, id_spelling: str) -> dict[str, Any]:
        """
        The API's file object: ``id`` as documented, ``file_id`` as the 2023 SDK reads it.

        :param now: the time to compute the status at.
        :param id_spelling: ``both``, ``model_name`` (documented ``id`` only) or ``model_id`` (``file_id`` only).
        """
        file: dict[str, Any] = {}
        if id_spelling in ("both", "model_name"):
            file["id"] = self.file_id
        if id_spelling in ("both", "model_id"):
            file["file_id"] = self.file_id
        file.update(
            status=self.timeline.at(now)[0],
            task_type=self.task_type,
            file_name=self.name,
            upload_url=self.upload_url,
        )
        return file

    def describe(self, now: float) -> dict[str, Any]:
        """Everything about the file, for the admin API."""
        return {**self.render(now, "both"), "rows": self.rows, "failure": self.failure}
