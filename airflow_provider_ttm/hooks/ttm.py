"""``TuneTheModelHook``: the provider's only door to the Tune The Model API."""

from __future__ import annotations

import functools
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_ttm.api import endpoints, files, inference, training
from airflow_provider_ttm.api.files import FileRecord, parse_file, parse_file_list
from airflow_provider_ttm.api.records import ModelIndex, ModelRecord, parse_model, parse_model_list
from airflow_provider_ttm.api.redaction import redact
from airflow_provider_ttm.api.retry import settle_seconds
from airflow_provider_ttm.api.statuses import has_training_started
from airflow_provider_ttm.connection_fields import CONNECTION_EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import (
    TuneTheModelError,
    TuneTheModelNotFoundError,
    TuneTheModelReplyTooLargeError,
)
from airflow_provider_ttm.hooks import polling
from airflow_provider_ttm.hooks.batch import BatchRunner
from airflow_provider_ttm.hooks.transport import AsyncTransport, SyncTransport
from airflow_provider_ttm.hooks.upload import UploadTransport
from airflow_provider_ttm.version_compat import amask_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_ttm.api.datasets import Dataset
    from airflow_provider_ttm.api.endpoints import ApiRequest
    from airflow_provider_ttm.api.inference import GenerationOptions
    from airflow_provider_ttm.hooks.retrying import Recovery

ResultT = TypeVar("ResultT")


_Named = TypeVar("_Named", ModelRecord, FileRecord)


class TuneTheModelHook(BaseHook):
    """Talks to the Tune The Model API with the API key of an Airflow connection.

    The connection's password is the API key and its host the base URL (default
    ``https://api.tunethemodel.com``); extras set the timeout, retries and TLS verification. Every
    request has a timeout, and requests the service failed to serve are retried with capped
    exponential backoff that honours ``Retry-After``. Creating a model is never retried blindly.

    :param ttm_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "ttm_conn_id"
    default_conn_name = "ttm_default"
    conn_type = "ttm"
    hook_name = "Tune The Model"

    def __init__(self, ttm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttm_conn_id = ttm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form layout for Airflow versions that read it from the hook (before 3.2)."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the form for Airflow versions that read them from the hook (before 3.2)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        widgets: dict[str, Any] = {}
        for name, field in CONNECTION_EXTRA_FIELDS.items():
            types, default = field.schema["type"], field.schema.get("default")
            label, description = lazy_gettext(field.label), field.description
            if types == ["boolean", "null"]:
                widgets[name] = BooleanField(label, description=description, default=default)
            elif types == ["integer", "null"]:
                bounds = NumberRange(min=field.schema.get("minimum"), max=field.schema.get("maximum"))
                widgets[name] = IntegerField(
                    label,
                    description=description,
                    validators=[Optional(), bounds],
                    widget=BS3TextFieldWidget(),
                    default=default,
                )
            else:  # numbers and the string-or-boolean 'verify': text the hook validates when used
                text = str(default).lower() if isinstance(default, bool) else default
                widgets[name] = StringField(
                    label, description=description, widget=BS3TextFieldWidget(), default=text
                )
        return widgets

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read once per hook."""
        return self._settings_from(self.get_connection(self.ttm_conn_id))

    async def aget_settings(self) -> ConnectionSettings:
        """The connection's settings, read without blocking the event loop."""
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.ttm_conn_id, hook=self)
        settings = ConnectionSettings.from_connection(
            self.ttm_conn_id, conn.host, conn.password, await get_async_extra_dejson(conn), port=conn.port
        )
        await amask_secret(settings.api_key)
        return settings

    def _settings_from(self, conn: Connection) -> ConnectionSettings:
        settings = ConnectionSettings.from_connection(
            self.ttm_conn_id, conn.host, conn.password, conn.extra_dejson, port=conn.port
        )
        mask_secret(settings.api_key)
        return settings

    @cached_property
    def transport(self) -> SyncTransport:
        """The pooled blocking transport."""
        return SyncTransport(self.settings, self.log)

    def get_conn(self) -> SyncTransport:
        """Return the pooled transport (Airflow's hook convention)."""
        return self.transport

    async def async_transport(self) -> AsyncTransport:
        """A new async transport; the caller closes it with ``aclose()``."""
        return AsyncTransport(await self.aget_settings(), self.log)

    def list_models(self) -> list[ModelRecord]:
        """Every model of the API key."""
        return parse_model_list(self.transport.send(endpoints.list_models()))

    def get_model(self, model_name: str) -> ModelRecord:
        """One model, from the status endpoint.

        :param model_name: the model's id.
        """
        return parse_model(self.transport.send(endpoints.get_model_status(model_name)), model_name)

    async def aget_model(self, transport: AsyncTransport, model_name: str) -> ModelRecord:
        """One model, from the status endpoint, without blocking.

        :param transport: an open async transport (see ``async_transport``).
        :param model_name: the model's id.
        """
        return parse_model(await transport.send(endpoints.get_model_status(model_name)), model_name)

    async def alist_models(self, transport: AsyncTransport) -> list[ModelRecord]:
        """Every model of the API key, without blocking (one request for all their statuses).

        :param transport: an open async transport (see ``async_transport``).
        """
        return parse_model_list(await transport.send(endpoints.list_models()))

    async def aindex_models(
        self, transport: AsyncTransport, wanted: Collection[str] | None = None
    ) -> ModelIndex:
        """The models of the API key by id, without blocking (one request for all their statuses).

        Every entry is checked, but records are built only for the models looked up, and the entries
        of models not ``wanted`` are dropped while the reply is decoded (see ``AsyncTransport.send``),
        so a list of tens of thousands holds the event loop only briefly.

        :param transport: an open async transport (see ``async_transport``).
        :param wanted: the ids to keep (all when None).
        """
        return await transport.send(
            endpoints.list_models(), parse=functools.partial(ModelIndex, wanted=wanted)
        )

    def create_model(
        self,
        model_type: str | endpoints.ModelSpec,
        *,
        name: str | None = None,
        num_classes: int | str | None = None,
        train_iters: int | str | None = None,
        pretrained_model: str | None = None,
        adopt_existing: bool = False,
    ) -> ModelRecord:
        """Create a model, at most once.

        A create whose outcome is unknown (timeout or dropped connection after sending) is only
        tried again when the model has a ``name`` and no model of that name appeared meanwhile;
        without a name it fails rather than risk a second, billed model. When the model list is
        too large to read (over ``MAX_REPLY_BYTES``), the model is created without that check, and
        a create whose outcome is unknown fails the same way.

        :param model_type: ``classifier`` or ``generator``; or the whole model as a
            :class:`~airflow_provider_ttm.api.endpoints.ModelSpec` (then without the four below).
        :param name: human-readable name; makes the call safe to retry.
        :param num_classes: number of classes of a classifier (at least 2).
        :param train_iters: training iterations.
        :param pretrained_model: id of a model to start from.
        :param adopt_existing: return an existing, not failed model of the same name instead of
            creating one (for names unique to one task instance, so a retry finds its own model).
        :raises ValueError: naming the argument that is wrong, before anything is sent.
        """
        fields: dict[str, Any] = {
            "name": name,
            "num_classes": num_classes,
            "train_iters": train_iters,
            "pretrained_model": pretrained_model,
        }
        if isinstance(model_type, endpoints.ModelSpec):
            given = [field for field, value in fields.items() if value is not None]
            if given:
                raise ValueError(
                    f"model_type is a ModelSpec, which holds every field; give {', '.join(given)} in it."
                )
            spec = model_type
        else:
            spec = endpoints.ModelSpec(model_type, **fields)
        request, name = endpoints.create_model(spec), spec.name
        namesakes = self._namesakes(self._models_named, name, "model") if name is not None else None
        reusable = [model for model in namesakes or [] if not model.has_failed]
        if adopt_existing and reusable:
            self.log.info("Model %s named %r already exists; reusing it.", reusable[0].model_name, name)
            return reusable[0]
        if name is None:
            return parse_model(self.transport.send(request, recover=_refuse_blind_resend))
        recover = self._recovery_by_name(name, namesakes, self._models_named, what="model")
        return parse_model(self.transport.send(request, recover=recover))

    def _models_named(self, name: str) -> list[ModelRecord]:
        return [model for model in self.list_models() if model.user_name == name]

    def _namesakes(self, named: Callable[[str], list[_Named]], name: str, what: str) -> list[_Named] | None:
        """The records named ``name``; None (with a warning) when the list is too large to read."""
        try:
            return named(name)
        except TuneTheModelReplyTooLargeError as error:
            self.log.warning(
                "Cannot look for an existing %s named %r (%s). Creating it without that check; if "
                "its reply is lost, it is not sent again.",
                what,
                name,
                error,
            )
            return None

    def _recovery_by_name(
        self,
        name: str,
        before: list[_Named] | None,
        named: Callable[[str], list[_Named]],
        *,
        what: str,
    ) -> Recovery:
        """How to tell whether a create of ``name`` whose reply was lost took effect.

        The recovery looks for a new record of that name (one not in ``before``); after a timeout it
        first gives the service one more timeout to finish. It returns that record's reply, or None
        so the create may be sent again. When ``before`` is None (the list was too large to read),
        there is nothing to compare with: a create whose outcome is unknown fails.

        :param name: the name the create gives.
        :param before: the records of that name before the create, or None when unknown.
        :param named: reads the records of a name.
        :param what: ``model`` or ``file``, for messages.
        """
        if before is None:
            return _refuse_unchecked_resend(what)
        known = {_identity(record) for record in before}

        def recover(error: TuneTheModelError) -> dict[str, Any] | None:
            settle = settle_seconds(error, self.settings.timeout)
            if settle:
                self.log.warning("Create of %r timed out; giving the service %.0f s to finish.", name, settle)
                time.sleep(settle)
            new = [record for record in named(name) if _identity(record) not in known]
            if not new:
                self.log.warning("Create of %r failed (%s); nothing of that name appeared.", name, error)
                return None
            self.log.warning(
                "Create of %r got no usable answer (%s), but the service made it: %s.",
                name,
                error,
                _identity(new[0]),
            )
            return _as_create_reply(new[0])

        return recover

    def delete_model(self, model_name: str, *, missing_ok: bool = True) -> ModelRecord | None:
        """Delete a model.

        :param model_name: the model's id.
        :param missing_ok: return None instead of raising when the model is already gone.
        """
        request = endpoints.delete_model(model_name)
        return self._delete(request, parse_model, f"Model {model_name}", missing_ok=missing_ok)

    def _delete(
        self, request: ApiRequest, parse: Callable[[Any], _Named], what: str, *, missing_ok: bool
    ) -> _Named | None:
        """Send a delete; "already gone" (404) is success unless ``missing_ok`` is False."""
        try:
            return parse(self.transport.send(request))
        except TuneTheModelNotFoundError:
            if not missing_ok:
                raise
            self.log.info("%s is already gone; nothing to delete.", what)
            return None

    # --- dataset files -----------------------------------------------------------------------

    def list_files(self) -> list[FileRecord]:
        """Every dataset file of the API key."""
        return parse_file_list(self.transport.send(files.list_files()))

    def get_file(self, file_id: str) -> FileRecord:
        """One dataset file, from its status endpoint.

        :param file_id: the file's id.
        """
        return parse_file(self.transport.send(files.get_file_status(file_id)))

    def create_file(self, name: str, task_type: str) -> FileRecord:
        """Create an empty dataset file with an upload URL, at most once.

        Like ``create_model``: a create whose outcome is unknown is only sent again when no new
        file of that ``name`` appeared meanwhile.

        :param name: the file's name (unique names make a lost reply recoverable).
        :param task_type: ``classifier`` or ``generator``.
        """
        request = files.create_file(name, task_type)
        before = self._namesakes(self._files_named, name, "file")
        recover = self._recovery_by_name(name, before, self._files_named, what="file")
        return parse_file(self.transport.send(request, recover=recover))

    def _files_named(self, name: str) -> list[FileRecord]:
        return [record for record in self.list_files() if record.file_name == name]

    def delete_file(self, file_id: str, *, missing_ok: bool = True) -> FileRecord | None:
        """Delete a dataset file.

        :param file_id: the file's id.
        :param missing_ok: return None instead of raising when the file is already gone.
        """
        return self._delete(files.delete_file(file_id), parse_file, f"File {file_id}", missing_ok=missing_ok)

    @cached_property
    def upload_transport(self) -> UploadTransport:
        """The session that PUTs datasets to upload URLs: it never carries the API key."""
        return UploadTransport(self.settings, self.log)

    def upload_dataset(self, file: FileRecord, dataset: Dataset) -> None:
        """PUT ``dataset`` to the file's presigned upload URL, without the API key.

        :param file: the file, as ``create_file`` returned it (with its ``upload_url``).
        :param dataset: the validated dataset.
        """
        url = files.checked_upload_url(file, allow_http=self.settings.base_url.startswith("http://"))
        self.upload_transport.put(url, dataset.to_json())
        self.log.info("Uploaded %d rows to file %s (%s).", len(dataset), file.file_id, file.file_name)

    def wait_for_files(
        self, file_ids: Sequence[str], *, poll_interval: float = 60.0, timeout: float = 3600.0
    ) -> list[FileRecord]:
        """Wait until every file is processed (``FileReady``); return their records.

        The service accepts a bind before that, but waiting first reports a dataset it cannot
        process by name, before anything is bound or fit (see docs/inference-and-training.md).

        :param file_ids: the files' ids.
        :param poll_interval: the longest pause between two status reads (the first are shorter).
        :param timeout: seconds to wait in all.
        """
        return polling.wait_for_files(
            self.get_file, file_ids, poll_interval=poll_interval, timeout=timeout, log=self.log
        )

    # --- training ------------------------------------------------------------------------------

    def bind_datasets(self, model_name: str, train_file: str, validate_file: str) -> ModelRecord:
        """Attach a ready training and validation file to a model (it becomes ``DatasetsLoaded``).

        :param model_name: the model's id.
        :param train_file: the training file's id.
        :param validate_file: the validation file's id.
        """
        reply = self.transport.send(training.bind_datasets(model_name, train_file, validate_file))
        return self._model_from(reply, model_name)

    def fit_model(self, model_name: str) -> ModelRecord:
        """Start training a model, unless it is already training or trained.

        The status is read first, and a fit whose outcome is unknown is only sent again when the
        status shows it did not start, so a model is never fitted (and billed) twice.

        :param model_name: the model's id.
        """
        current = self.get_model(model_name)
        if has_training_started(current.status):
            self.log.info("Model %s is already %s; not fitting it again.", model_name, current.status)
            return current

        def recover(error: TuneTheModelError) -> dict[str, Any] | None:
            settle = settle_seconds(error, self.settings.timeout)
            if settle:
                time.sleep(settle)
            record = self.get_model(model_name)
            if not has_training_started(record.status):
                return None
            self.log.warning(
                "Fit of %s got no usable answer (%s), but it is %s.", model_name, error, record.status
            )
            return record.to_dict()

        return self._model_from(
            self.transport.send(training.fit_model(model_name), recover=recover), model_name
        )

    def _model_from(self, reply: Any, model_name: str) -> ModelRecord:
        """The model a bind or fit reply describes; read from the status endpoint if it does not."""
        if isinstance(reply, dict) and isinstance(reply.get("status"), str):
            return parse_model({"model_name": model_name, **reply})
        return self.get_model(model_name)

    def wait_for_model(
        self, model_name: str, *, poll_interval: float = 60.0, timeout: float = 86400.0
    ) -> ModelRecord:
        """Wait in this thread until the model is Ready; return it.

        :param model_name: the model's id.
        :param poll_interval: seconds between status reads.
        :param timeout: seconds to wait in all.
        :raises TuneTheModelFitFailedError: when its training failed.
        :raises TuneTheModelWaitTimeoutError: when it is not Ready in time.
        """
        return polling.wait_for_model(
            self.get_model, model_name, poll_interval=poll_interval, timeout=timeout, log=self.log
        )

    # --- inference -----------------------------------------------------------------------------

    def list_public_models(self) -> list[ModelRecord]:
        """The ready-made models anyone may call."""
        return parse_model_list(self.transport.send(inference.list_public_models()))

    def classify(self, model_name: str, text: str, *, transport: SyncTransport | None = None) -> list[float]:
        """The scores of one input text: ONE (the probability of class 1) from a binary classifier,
        k from a classifier of k >= 3 classes (``inference.predicted_class`` turns them into a class).

        :param model_name: the classifier's id.
        :param text: the input text.
        :param transport: the transport to send on (default: the hook's own).
        """
        reply = (transport or self.transport).send(inference.classify(model_name, text))
        return inference.parse_scores(reply)

    def generate(
        self,
        model_name: str,
        text: str,
        options: GenerationOptions | None = None,
        *,
        transport: SyncTransport | None = None,
    ) -> list[str]:
        """Responses of a generator to one input text.

        :param model_name: the generator's id (``default-generator``: few-shot, no training needed).
        :param text: the input text.
        :param options: ``num_hypos``, ``max_tokens``, ``temperature`` and the other knobs.
        :param transport: the transport to send on (default: the hook's own).
        """
        reply = (transport or self.transport).send(inference.generate(model_name, text, options))
        return inference.parse_responses(reply)

    def classify_batch(
        self, model_name: str, texts: Sequence[str], *, max_concurrency: int = 4, retries: int = 2
    ) -> list[list[float]]:
        """The scores of every text (see ``classify``), in order, ``max_concurrency`` requests at a time.

        :param model_name: the classifier's id.
        :param texts: the input texts.
        :param max_concurrency: the most requests in flight at once.
        :param retries: the most extra attempts of an input whose failure may pass, within the
            connection's ``max_attempts``: an input is sent at most ``min(max_attempts, retries + 1)``
            times in all (see ``BatchRunner``).
        :raises TuneTheModelBatchItemError: naming the input that failed for good.
        """
        for text in texts:
            inference.classify(model_name, text)

        def call(transport: SyncTransport, text: str) -> list[float]:
            return self.classify(model_name, text, transport=transport)

        return self._run_batch(call, texts, max_concurrency, retries)

    def generate_batch(
        self,
        model_name: str,
        texts: Sequence[str],
        options: GenerationOptions | None = None,
        *,
        max_concurrency: int = 4,
        retries: int = 2,
    ) -> list[list[str]]:
        """Responses to every text, in order, ``max_concurrency`` requests at a time.

        :param model_name: the generator's id.
        :param texts: the input texts.
        :param options: the generation knobs, the same for every input.
        :param max_concurrency: the most requests in flight at once.
        :param retries: the most extra attempts of an input whose failure may pass, within the
            connection's ``max_attempts``: an input is sent at most ``min(max_attempts, retries + 1)``
            times in all (see ``BatchRunner``).
        :raises TuneTheModelBatchItemError: naming the input that failed for good.
        """
        for text in texts:
            inference.generate(model_name, text, options)

        def call(transport: SyncTransport, text: str) -> list[str]:
            return self.generate(model_name, text, options, transport=transport)

        return self._run_batch(call, texts, max_concurrency, retries)

    def _run_batch(
        self,
        call: Callable[[SyncTransport, str], ResultT],
        texts: Sequence[str],
        concurrency: int,
        retries: int,
    ) -> list[ResultT]:
        retries = endpoints.whole_number("retries", retries, minimum=0)
        runner = BatchRunner(self.settings, self.log, call, max_concurrency=concurrency, retries=retries)
        results = runner.run(texts)
        if runner.retried:
            self.log.info("%d inputs needed another attempt.", runner.retried)
        return results

    def test_connection(self) -> tuple[bool, str]:
        """Check the base URL and API key with one list call (backs the UI's Test button)."""
        try:
            transport = SyncTransport(self.settings, self.log)
            try:
                count = len(parse_model_list(transport.send_once(endpoints.list_models())))
            finally:
                transport.close()
        except TuneTheModelError as error:
            return False, str(error)
        except Exception as error:
            # The settings are cached once read; a key that got that far is blanked out of the text.
            secret = self.settings.api_key if "settings" in self.__dict__ else None
            return False, f"{type(error).__name__}: {redact(str(error), secret)}"
        return True, f"Connected to Tune The Model at {self.settings.base_url}: the key sees {count} models."


def _refuse_blind_resend(error: TuneTheModelError) -> None:
    """The recovery of a create without a name: nothing can tell a second model apart, so fail."""
    raise TuneTheModelError(
        f"Creating the model may or may not have succeeded ({error}). It was not retried: "
        "without a name a second model could not be told apart. Give the operator a 'name' "
        "to make creation safe to retry, and check the service for a stray model."
    ) from error


def _identity(record: ModelRecord | FileRecord) -> str:
    """A model's or a file's id."""
    return record.model_name if isinstance(record, ModelRecord) else record.file_id


def _as_create_reply(record: ModelRecord | FileRecord) -> dict[str, Any]:
    """A record as its create call answers it (a file's with its upload URL)."""
    return record.to_dict() if isinstance(record, ModelRecord) else record.to_dict(with_upload_url=True)


def _refuse_unchecked_resend(what: str) -> Recovery:
    """The recovery of a create made without looking for namesakes (the list was too large)."""

    def refuse(error: TuneTheModelError) -> None:
        raise TuneTheModelError(
            f"Creating the {what} may or may not have succeeded ({error}). It was not retried: the "
            f"list of {what}s is too large to read, so a second {what} could not be told apart. "
            f"Check the service for a stray {what}."
        ) from error

    return refuse
