"""Operators that create, list and delete Tune The Model models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import ResumableJobMixin

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.endpoints import MODEL_SPEC_FIELDS, ModelSpec
from airflow_provider_ttm.api.records import filter_models
from airflow_provider_ttm.api.statuses import has_model_failed, is_model_ready
from airflow_provider_ttm.arguments import flag, status_names
from airflow_provider_ttm.operators.assets import ModelAssetMixin
from airflow_provider_ttm.operators.base import (
    TuneTheModelBaseOperator,
    TuneTheModelWaitingOperator,
    default_model_name,
    ready_model,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.lineage import Lineage


class TuneTheModelCreateModelOperator(ModelAssetMixin, ResumableJobMixin, TuneTheModelWaitingOperator):
    """Create a classifier or generator; optionally wait until it is Ready.

    Returns the new model's id, so ``create.output`` feeds the next task. The id is also pushed to
    XCom as soon as the model exists, before any wait, so a teardown deleting ``create.output``
    finds it even when the wait fails. A retried task does not create a second model: on Airflow
    3.3 it resumes the model it created (``task_state_store``), and by default the model is named
    after the task instance, so the hook can also recognise its own model when a create reply is
    lost. Giving your own ``name`` keeps that protection within one try.

    The model's arguments are the fields of :class:`~airflow_provider_ttm.api.endpoints.ModelSpec`
    (``model_type``, ``name``, ``num_classes``, ``train_iters``, ``pretrained_model``), each
    templated; the others are those of
    :class:`~airflow_provider_ttm.operators.base.TuneTheModelWaitingOperator` (waiting,
    ``ttm_conn_id``), and ``asset_alias`` of :class:`~airflow_provider_ttm.operators.assets.ModelAssetMixin`
    (announce the model as an asset event).

    :param name: by default ``<dag_id>.<task_id>.<run_id>[.<map_index>]``. (templated)
    """

    template_fields: Sequence[str] = (*MODEL_SPEC_FIELDS, "ttm_conn_id")
    external_id_key = "ttm_model_name"
    #: The model's id once this try created or resumed it (read by the OpenLineage method).
    model_id: str | None = None

    def __init__(
        self,
        *,
        model_type: str,
        name: str | None = None,
        num_classes: int | str | None = None,
        train_iters: int | str | None = None,
        pretrained_model: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_type = model_type
        self.name = name
        self.num_classes = num_classes
        self.train_iters = train_iters
        self.pretrained_model = pretrained_model

    def check_arguments(self) -> None:
        """Check the connection id and the model's arguments together (rendered)."""
        super().check_arguments()
        ModelSpec(**self._model_arguments())

    def _model_arguments(self) -> dict[str, Any]:
        """The ``ModelSpec`` fields as given (rendered in ``execute``)."""
        return {field: getattr(self, field) for field in MODEL_SPEC_FIELDS}

    def execute(self, context: Context) -> str:
        """Create the model (or resume the one an earlier try created) and return its id."""
        self.check_arguments()
        self.model_id = self.announced(context, str(self.execute_resumable(context)))
        return self.model_id

    def submit_job(self, context: Context) -> str:
        """Create the model and push its id to XCom at once."""
        arguments = self._model_arguments()
        adopt_existing = arguments["name"] is None  # the default name is this task instance's own
        if adopt_existing:
            arguments["name"] = default_model_name(context)
        spec = ModelSpec(**arguments)
        record = self.hook.create_model(spec, adopt_existing=adopt_existing)
        self.log.info(
            "Created %s %s (name %r), status %s.",
            record.model_type,
            record.model_name,
            spec.name,
            record.status,
        )
        context["ti"].xcom_push(key="return_value", value=record.model_name)
        self.model_id = record.model_name
        return record.model_name

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """The model's status, for resuming after a retry."""
        return self.hook.get_model(str(external_id)).status

    def is_job_active(self, status: str) -> bool:
        """A model neither Ready nor failed may still be waited on."""
        return not is_model_ready(status) and not has_model_failed(status)

    def is_job_succeeded(self, status: str) -> bool:
        """A Ready model needs nothing more."""
        return is_model_ready(status)

    def poll_until_complete(self, external_id: Any, context: Context) -> str:  # type: ignore[override]
        """Wait until the model is Ready when ``wait_for_ready`` is set (deferring if asked).

        Returns the model's id: the mixin returns it as the task's result when it resumes a model.
        """
        model_name = str(external_id)
        if not self.wait_for_ready:
            return model_name
        self.wait_until_ready(model_name, context)
        return model_name

    def get_job_result(self, external_id: Any, context: Context) -> str:
        """The model's id."""
        return str(external_id)

    def execute_complete(
        self, context: Context, event: dict[str, Any], deadline_set_by: str | None = None
    ) -> str:
        """After the trigger's event (see ``defer_wait``): the model's id if it is Ready, else raise."""
        model = ready_model(event, deadline_set_by=deadline_set_by)
        self.log.info("Model %s is Ready.", model["model_name"])
        self.model_id = self.announced(context, str(model["model_name"]))
        return self.model_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Lineage:
        """For OpenLineage: the created model (see :mod:`airflow_provider_ttm.lineage`).

        :param task_instance: the finished task instance (unused: this task's attributes say it all).
        """
        from airflow_provider_ttm.lineage import create_lineage

        return create_lineage(self)


class TuneTheModelDeleteModelOperator(TuneTheModelBaseOperator):
    """Delete a model. A model that is already gone counts as deleted, unless asked otherwise.

    Returns the deleted model's record, or None when it was already gone. Fit for a teardown:
    ``delete.as_teardown(setups=create)``.

    :param model_name: the model's id. (templated)
    :param fail_if_missing: fail when the model does not exist, instead of logging it.
    """

    template_fields: Sequence[str] = ("model_name", "ttm_conn_id")

    def __init__(self, *, model_name: str, fail_if_missing: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.fail_if_missing = flag("fail_if_missing", fail_if_missing)

    def check_arguments(self) -> None:
        """Check ``ttm_conn_id`` and ``model_name`` (rendered)."""
        super().check_arguments()
        endpoints.validate_model_name(self.model_name)

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Delete the model."""
        self.check_arguments()
        record = self.hook.delete_model(self.model_name, missing_ok=not self.fail_if_missing)
        if record is None:
            return None
        self.log.info("Deleted model %s (%s).", record.model_name, record.user_name)
        return record.to_dict()


class TuneTheModelListModelsOperator(TuneTheModelBaseOperator):
    """List the API key's models as plain dicts, optionally filtered.

    :param statuses: keep models in one of these statuses (any case): a list such as ``["Ready"]``
        (a plain string is refused). (templated)
    :param model_type: keep only ``classifier`` or ``generator`` models. (templated)
    :param public: list the public models (ready-made, callable with any key) instead of the key's own.
    """

    template_fields: Sequence[str] = ("statuses", "model_type", "ttm_conn_id")

    def __init__(
        self,
        *,
        statuses: list[str] | None = None,
        model_type: str | None = None,
        public: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.statuses = statuses
        self.model_type = model_type
        self.public = flag("public", public)

    def check_arguments(self) -> None:
        """Check ``ttm_conn_id``, ``statuses`` and ``model_type`` (rendered)."""
        super().check_arguments()
        if self.statuses is not None:
            status_names("statuses", self.statuses)
        if self.model_type is not None:
            endpoints.validate_model_type(self.model_type)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Return the models, filtered."""
        self.check_arguments()
        listed = self.hook.list_public_models() if self.public else self.hook.list_models()
        models = filter_models(listed, statuses=self.statuses, model_type=self.model_type)
        self.log.info("Found %d %smodels.", len(models), "public " if self.public else "")
        return [model.to_dict() for model in models]
