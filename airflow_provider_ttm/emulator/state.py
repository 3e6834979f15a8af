"""The emulator's store: models, files, counters and faults behind one lock, and the API's rules."""

from __future__ import annotations

import hmac
import random
import secrets
import threading
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_ttm.emulator import inference, lifecycle, public
from airflow_provider_ttm.emulator.datasets import parse_dataset
from airflow_provider_ttm.emulator.errors import ApiError
from airflow_provider_ttm.emulator.faults import FaultBook, FaultRule
from airflow_provider_ttm.emulator.lifecycle import Timeline
from airflow_provider_ttm.emulator.records import FileRecord, ModelRecord

if TYPE_CHECKING:
    from airflow_provider_ttm.emulator.config import EmulatorConfig
    from airflow_provider_ttm.emulator.payloads import Binding, Generation, NewFile, NewModel

UPLOAD_AUTH_COUNTER: Final = "upload_requests_with_authorization"


class EmulatorState:
    """
    Everything the emulator knows, thread-safe (one lock): the API operations, the accounting of
    requests, the fault rules and the admin operations.

    :param config: the settings at start; :meth:`reset` returns to them.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self._initial = config
        self._lock = threading.RLock()
        self._public = public.listed_models()
        self._callable_by_id = {**self._public, **public.unlisted_models()}
        self._clear(config)
        self._faults.replace(list(config.faults))

    def _clear(self, config: EmulatorConfig) -> None:
        self._config = config
        self._models: dict[str, ModelRecord] = {}
        self._files: dict[str, FileRecord] = {}
        self._counters: Counter[str] = Counter()
        self._faults = FaultBook(config.seed)
        self._rng = random.Random(config.seed)
        self._deleted_models = 0

    @property
    def config(self) -> EmulatorConfig:
        """The settings in force."""
        return self._config

    def _now(self) -> float:
        return self._config.clock()

    # --- requests: authentication, accounting, faults -------------------------------------------

    def authenticate(self, header: str | None) -> str:
        """Return the API key in an ``Authorization`` header value, or raise a 401 that never echoes it."""
        if not header:
            raise ApiError(401, "Missing Authorization header: send your API key in it")
        if header not in self._config.api_keys:
            if header.lower().startswith("bearer "):
                raise ApiError(401, "Invalid API key: send the raw key, without a 'Bearer ' prefix")
            raise ApiError(401, "Invalid API key")
        return header

    def account(self, key: str) -> str:
        """The account an accepted key opens: the key itself, or the key it is an alias of."""
        return self._config.api_key_aliases.get(key, key)

    def record_request(self, route: str, *, upload_with_authorization: bool = False) -> None:
        """Count one API request to ``route`` (``"METHOD /template"``), and an upload carrying a key."""
        with self._lock:
            self._counters[route] += 1
            if upload_with_authorization:
                self._counters[UPLOAD_AUTH_COUNTER] += 1

    def pick_fault(self, method: str, template: str, path: str) -> FaultRule | None:
        """The fault rule this request falls under, if any (spending one of its times)."""
        with self._lock:
            return self._faults.pick(method, template, path)

    # --- models -----------------------------------------------------------------------------------

    def _render(self, record: ModelRecord, now: float, *, with_params: bool = True) -> dict[str, Any]:
        return record.render(now, self._config.id_spelling, with_params=with_params)

    def _model(self, key: str, model_id: str) -> ModelRecord:
        record = self._models.get(model_id) or self._callable_by_id.get(model_id)
        if record is None or record.owner not in (None, key):
            raise ApiError(404, f"Model not found: {model_id}")
        return record

    def _own_model(self, key: str, model_id: str) -> ModelRecord:
        record = self._model(key, model_id)
        if record.owner is None:
            raise ApiError(403, f"Model {model_id} is a public model: it cannot be changed")
        return record

    def list_models(self, key: str) -> dict[str, Any]:
        """``GET /v0/models``: the caller's models (without ``model_params``, as the reference lists)."""
        with self._lock:
            now = self._now()
            owned = [record for record in self._models.values() if record.owner == key]
            return {"models": [self._render(record, now, with_params=False) for record in owned]}

    def list_public_models(self) -> dict[str, Any]:
        """``GET /v0/public-models``: the ready-made models anyone may call."""
        with self._lock:
            now = self._now()
            return {
                "models": [self._render(record, now, with_params=False) for record in self._public.values()]
            }

    def create_model(self, key: str, request: NewModel) -> dict[str, Any]:
        """``POST /v0/models``: a Created model (trained by itself if ``auto_train_seconds`` is set)."""
        with self._lock:
            now = self._now()
            timeline = Timeline(now, lifecycle.CREATED)
            if self._config.auto_train_seconds is not None:
                steps = lifecycle.auto_training_steps(
                    now, self._config.auto_train_seconds, self._fit_outcome()
                )
                timeline.replan(now, steps)
            record = ModelRecord(
                model_id=uuid.uuid4().hex,
                owner=key,
                model_type=request.model_type,
                name=request.name,
                params=request.params,
                timeline=timeline,
                pretrained_model=request.pretrained_model,
                auto_training=self._config.auto_train_seconds is not None,
            )
            self._models[record.model_id] = record
            return self._render(record, now)

    def model_status(self, key: str, model_id: str) -> dict[str, Any]:
        """``GET /v0/models/{id}/status``."""
        with self._lock:
            return self._render(self._model(key, model_id), self._now())

    def delete_model(self, key: str, model_id: str) -> dict[str, Any]:
        """``DELETE /v0/models/{id}/delete``: the model as it was, updated now; it is gone afterwards."""
        with self._lock:
            now = self._now()
            record = self._own_model(key, model_id)
            del self._models[model_id]
            self._deleted_models += 1
            return record.render(now, self._config.id_spelling, updated_at=now)

    def bind(self, key: str, model_id: str, binding: Binding) -> dict[str, Any]:
        """
        ``POST /v0/models/{id}/bind``: attach two uploaded files of the model's type; DatasetsLoaded.

        As the service does (the SDK binds right after the upload), the files may still be
        processing: a fit then waits for them, and ends FitFailed if one turns out unusable.
        """
        with self._lock:
            now = self._now()
            record = self._own_model(key, model_id)
            status = record.timeline.at(now)[0]
            # Auto-training stands in for a training nobody asked for: a client that binds
            # datasets takes the model through the real life cycle instead, until it is Ready.
            taken_over = record.auto_training and status in lifecycle.AUTO_TRAINING_INTERRUPTIBLE
            if status not in lifecycle.BINDABLE and not taken_over:
                raise ApiError(400, f"Model is {status}: datasets can only be bound before training")
            files = {
                field: self._bindable_file(key, record, field, file_id, now)
                for field, file_id in (
                    ("train_file", binding.train_file),
                    ("validate_file", binding.validate_file),
                )
            }
            problems = [_dataset_problem(record, field, file) for field, file in files.items()]
            record.train_file, record.validate_file = binding.train_file, binding.validate_file
            record.datasets_ready_at = max(file.processed_at or now for file in files.values())
            record.dataset_failure = next((problem for problem in problems if problem), None)
            record.auto_training = False
            record.timeline.replan(now, [(now, lifecycle.DATASETS_LOADED)])
            return self._render(record, now)

    def _bindable_file(
        self, key: str, model: ModelRecord, field: str, file_id: str, now: float
    ) -> FileRecord:
        """The file, if it may be bound: uploaded (processed or not), of the model's type, not failed."""
        file = self._files.get(file_id)
        if file is None or file.owner != key:
            raise ApiError(400, f"{field}: no such file: {file_id}")
        status = file.timeline.at(now)[0]
        if status == lifecycle.FILE_CREATED:
            raise ApiError(400, f"{field}: file is {status}: upload its dataset first")
        if status == lifecycle.FILE_FAILED:
            raise ApiError(400, f"{field}: file is {status}: its dataset could not be processed")
        if file.task_type != model.model_type:
            raise ApiError(400, f"{field}: a {file.task_type} file cannot train a {model.model_type}")
        problem = _dataset_problem(model, field, file)
        if status == lifecycle.FILE_READY and problem:  # known once processed; else the fit fails
            raise ApiError(400, problem)
        return file

    def fit(self, key: str, model_id: str) -> dict[str, Any]:
        """``POST /v0/models/{id}/fit``: start training (TrainRequested, InQueue, Training, Ready or FitFailed)."""
        with self._lock:
            now = self._now()
            record = self._own_model(key, model_id)
            status = record.timeline.at(now)[0]
            if status not in lifecycle.FITTABLE:
                raise ApiError(
                    400, f"Model is {status}: fit needs DatasetsLoaded or ReadyToFit (bind datasets first)"
                )
            outcome = self._fit_outcome()  # drawn for every fit, so seeded outcomes stay in step
            if record.dataset_failure is not None:
                steps = lifecycle.failed_training_steps(now, record.datasets_ready_at or now)
            else:
                steps = lifecycle.training_steps(
                    now, self._config.train_seconds, outcome, datasets_ready_at=record.datasets_ready_at
                )
            record.timeline.replan(now, steps)
            return self._render(record, now)

    def _fit_outcome(self) -> str:
        """Ready, or FitFailed for a share ``fit_failure_rate`` of trainings (seeded draw)."""
        rate = self._config.fit_failure_rate
        return lifecycle.FIT_FAILED if rate > 0 and self._rng.random() < rate else lifecycle.READY

    def _ready_model(self, key: str, model_id: str, model_type: str) -> ModelRecord:
        record = self._model(key, model_id)
        if record.model_type != model_type:
            raise ApiError(400, f"Model {model_id} is a {record.model_type}, not a {model_type}")
        status = record.timeline.at(self._now())[0]
        if status != lifecycle.READY:
            raise ApiError(400, f"Model {model_id} is {status}, not {lifecycle.READY}")
        return record

    def classify(self, key: str, model_id: str, text: str) -> dict[str, Any]:
        """``POST /v0/models/{id}/classify``: one score (binary) or one per class, fixed by model and input."""
        with self._lock:
            record = self._ready_model(key, model_id, "classifier")
        scores = inference.classify(model_id, text, record.params["num_classes"])
        return {"answer": {"scores": scores}}

    def generate(self, key: str, model_id: str, request: Generation) -> dict[str, Any]:
        """``POST /v0/models/{id}/generate``: ``num_hypos`` responses, fixed by the seed if one is given."""
        with self._lock:
            self._ready_model(key, model_id, "generator")
            seed = request.seed if request.seed is not None else self._rng.randrange(2**31)
        responses = inference.generate(model_id, request, seed)
        return {"answer": {"responses": [{"response": text} for text in responses]}}

    # --- files ------------------------------------------------------------------------------------

    def _file(self, key: str, file_id: str) -> FileRecord:
        record = self._files.get(file_id)
        if record is None or record.owner != key:
            raise ApiError(404, f"File not found: {file_id}")
        return record

    def create_file(self, key: str, request: NewFile, base_url: str) -> dict[str, Any]:
        """``POST /v0/files``: a FileCreated file with a signed upload URL under ``base_url``."""
        with self._lock:
            now = self._now()
            file_id = uuid.uuid4().hex
            signature = secrets.token_urlsafe(24)
            record = FileRecord(
                file_id=file_id,
                owner=key,
                name=request.name,
                task_type=request.task_type,
                signature=signature,
                upload_url=f"{base_url.rstrip('/')}/_upload/{file_id}?signature={signature}",
                timeline=Timeline(now, lifecycle.FILE_CREATED),
            )
            self._files[file_id] = record
            return record.render(now, self._config.id_spelling)

    def list_files(self, key: str) -> dict[str, Any]:
        """``GET /v0/files``: the caller's files."""
        with self._lock:
            now = self._now()
            spelling = self._config.id_spelling
            return {
                "files": [
                    record.render(now, spelling) for record in self._files.values() if record.owner == key
                ]
            }

    def file_status(self, key: str, file_id: str) -> dict[str, Any]:
        """``GET /v0/files/{id}/status``."""
        with self._lock:
            return self._file(key, file_id).render(self._now(), self._config.id_spelling)

    def delete_file(self, key: str, file_id: str) -> dict[str, Any]:
        """``DELETE /v0/files/{id}/delete``: the file as it was; it is gone afterwards."""
        with self._lock:
            record = self._file(key, file_id)
            del self._files[file_id]
            return record.render(self._now(), self._config.id_spelling)

    def _signed_file(self, file_id: str, signature: str) -> FileRecord:
        record = self._files.get(file_id)
        if record is None:
            raise ApiError(404, "No such upload URL")
        if not hmac.compare_digest(signature.encode(), record.signature.encode()):
            raise ApiError(403, "The upload URL's signature does not match")
        return record

    def upload(self, file_id: str, signature: str, content: bytes) -> None:
        """
        ``PUT`` on a file's signed upload URL: it stores whatever it is sent, as a presigned URL does;
        FileLoading, then FileReady, or FileFailed for an invalid dataset.
        """
        with self._lock:
            task_type = self._signed_file(file_id, signature).task_type
        try:
            summary, failure = parse_dataset(content, task_type), None
        except ApiError as error:
            summary, failure = None, error.detail
        with self._lock:
            record = self._signed_file(file_id, signature)
            now = self._now()
            record.rows = summary.rows if summary else None
            record.max_class = summary.max_class if summary else None
            record.failure = failure
            record.processed_at = now + self._config.file_processing_seconds
            steps = lifecycle.file_steps(
                now, self._config.file_processing_seconds, failed=failure is not None
            )
            record.timeline.replan(now, steps)

    # --- admin ------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Counters, live models and files, active faults: ``GET /_emulator/state``."""
        with self._lock:
            now = self._now()
            return {
                "counters": dict(self._counters),
                "models": [record.describe(now) for record in self._models.values()],
                "files": [record.describe(now) for record in self._files.values()],
                "faults": self._faults.active(),
                UPLOAD_AUTH_COUNTER: self._counters[UPLOAD_AUTH_COUNTER],
                "deleted_models": self._deleted_models,
            }

    def counters(self) -> dict[str, int]:
        """Requests per ``"METHOD /route/template"`` since the last reset."""
        with self._lock:
            return dict(self._counters)

    def reset(self) -> None:
        """Forget models, files, counters and faults; return to the settings given at start."""
        with self._lock:
            self._clear(self._initial)

    def set_faults(self, rules: list[FaultRule]) -> None:
        """Replace the active fault rules."""
        with self._lock:
            self._faults.replace(rules)

    def add_fault(self, rule: FaultRule) -> None:
        """Add a fault rule after the active ones."""
        with self._lock:
            self._faults.append(rule)

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules, with their remaining ``times``."""
        with self._lock:
            return self._faults.active()

    def force_status(self, model_id: str, status: str) -> dict[str, Any]:
        """Set a model's status now, cancelling any training in progress (any key's model)."""
        if status not in lifecycle.MODEL_STATUSES:
            raise ApiError(400, f"status: must be one of {', '.join(lifecycle.MODEL_STATUSES)}")
        with self._lock:
            record = self._models.get(model_id)
            if record is None:
                raise ApiError(404, f"Model not found: {model_id}")
            now = self._now()
            record.auto_training = False
            record.timeline.replan(now, [(now, status)])
            return record.describe(now)

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change run-time settings (see ``RUNTIME_FIELDS``); raise ``ValueError`` if one is invalid."""
        with self._lock:
            self._config = self._config.replace(**changes)
            return self._config


def _dataset_problem(model: ModelRecord, field: str, file: FileRecord) -> str | None:
    """Why a processed (or processing) file cannot train ``model``, or ``None``."""
    if file.failure is not None:
        return f"{field}: {file.failure}"
    num_classes = model.params.get("num_classes")
    if num_classes is not None and file.max_class is not None and file.max_class >= num_classes:
        return f"{field}: class label {file.max_class} is out of range for a model of {num_classes} classes"
    return None
