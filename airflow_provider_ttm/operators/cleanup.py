"""A cost guard: ``TuneTheModelCleanupOperator`` deletes the forgotten models the provider created."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.records import filter_models
from airflow_provider_ttm.api.statuses import MODEL_STATUSES_AFTER_FIT, ModelStatus
from airflow_provider_ttm.arguments import flag, positive_seconds, status_names, text
from airflow_provider_ttm.operators.base import TuneTheModelBaseOperator

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.api.records import ModelRecord

#: The statuses cleaned by default: every documented one except those of a training in progress
#: (TrainRequested, InQueue, Training), whose deletion would throw away a paid-for training.
DEFAULT_STATUSES: tuple[str, ...] = tuple(
    status.value
    for status in ModelStatus
    if status not in MODEL_STATUSES_AFTER_FIT or status is ModelStatus.READY
)
#: The XCom key holding the models deleted before a delete failed (the task then has no return value).
DELETED_BEFORE_FAILURE = "deleted_before_failure"
#: Airflow's run types (2.11 and 3.x): a run id they generate starts with ``<type>__``.
_RUN_TYPES = (
    "manual",
    "scheduled",
    "backfill",
    "dataset_triggered",
    "asset_triggered",
    "asset_materialization",
    "operator_triggered",
)
#: ``<dag_id>.<task_id>.<run_id>[.<map_index>]`` as ``base.default_model_name`` makes it, for a run id
#: Airflow generated; dag and task ids are letters, digits, ``_``, ``-`` and ``.``.
_DEFAULT_NAME = re.compile(rf"[\w.-]+\.[\w.-]+\.(?:{'|'.join(_RUN_TYPES)})__.+")


def is_default_model_name(name: str | None) -> bool:
    """Whether ``name`` looks like a name ``default_model_name`` gave (with a run id Airflow made)."""
    return name is not None and _DEFAULT_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class ExpiredModel:
    """A model old enough to delete.

    :param model: the model as the list showed it.
    :param age: the time since its ``last_updated_time``.
    """

    model: ModelRecord
    age: timedelta

    def to_dict(self) -> dict[str, Any]:
        """The model's plain form with ``age_seconds``, for XCom."""
        return {**self.model.to_dict(), "age_seconds": round(self.age.total_seconds())}

    def describe(self) -> str:
        """``<id> (<name>), <age> old, <status>``, for the log."""
        age = timedelta(seconds=round(self.age.total_seconds()))
        return f"{self.model.model_name} ({self.model.user_name}), {age} old, {self.model.status}"


def protected_ids(param: str, value: object) -> set[str]:
    """The model ids in ``value``: a list (or tuple or set) of ids, or one id as a string, or None.

    A blank item, which an unset optional Variable renders to, protects nothing.

    :param param: the argument's name, for the error.
    :param value: the ids, rendered.
    :raises ValueError: naming ``param`` for anything but a list of model ids.
    """
    if value is None:
        return set()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise ValueError(
            f"{param} must be a list of model ids (or one id as a string); "
            f"got {endpoints.shown(value)} ({type(value).__name__})."
        )
    ids = set()
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        ids.add(endpoints.validate_model_name(item, param=param))
    return ids


def select_expired(
    models: Iterable[ModelRecord],
    *,
    now: datetime,
    max_age: timedelta,
    statuses: list[str],
    name_prefix: str | None,
    protected: Collection[str],
) -> tuple[list[ExpiredModel], Counter[str]]:
    """The models to delete, oldest first, and why each other model of the provider's was kept.

    :param models: the API key's models.
    :param now: the time ages are measured at.
    :param max_age: delete models whose ``last_updated_time`` is longer ago than this.
    :param statuses: delete only models in one of these statuses.
    :param name_prefix: delete only models whose name starts with it; None for the provider's
        default names (see :func:`is_default_model_name`).
    :param protected: ids never deleted.
    """
    ours = [model for model in models if _is_named_for_cleanup(model.user_name, name_prefix)]
    in_status = {model.model_name for model in filter_models(ours, statuses=statuses)}
    expired: list[ExpiredModel] = []
    kept: Counter[str] = Counter()
    for model in ours:
        age = None if model.last_updated_time is None else now - model.last_updated_time
        if model.model_name in protected:
            kept["protected"] += 1
        elif model.model_name not in in_status:
            kept[f"in status {model.status}"] += 1
        elif age is None:
            kept["no last_updated_time"] += 1
        elif age <= max_age:
            kept["younger than max_age"] += 1
        else:
            expired.append(ExpiredModel(model, age))
    return sorted(expired, key=lambda item: item.age, reverse=True), kept


def _is_named_for_cleanup(name: str | None, prefix: str | None) -> bool:
    if prefix is None:
        return is_default_model_name(name)
    return name is not None and name.startswith(prefix)


class TuneTheModelCleanupOperator(TuneTheModelBaseOperator):
    """Delete the models the provider created and then forgot, so they stop costing money.

    A model is deleted when all of these hold:

    - its name is one the provider gives by default, ``<dag_id>.<task_id>.<run_id>[.<map_index>]``
      with a run id Airflow generated (``manual__...``, ``scheduled__...``), or starts with
      ``name_prefix`` when given;
    - its ``last_updated_time`` (the API's only time: when the service last changed the model,
      for a model never trained its creation) is longer ago than ``max_age``; a model without one
      is kept;
    - its status is one of ``statuses``;
    - its id is not in ``protected_model_ids``, and it is not a public model.

    The models are read from one list call (and the public models from another) before anything is
    deleted, then deleted oldest first, one at a time through the hook (with its retries; a model
    already gone counts as deleted). Each deletion is logged with the model's id, name, age and
    status. Returns the deleted models (with ``age_seconds``); with ``dry_run``, the models it would
    delete, deleting nothing. When a delete fails, the task fails at once, and the models deleted
    before it are logged and pushed to XCom under ``deleted_before_failure``; a retry picks up the
    rest.

    :param max_age: how long ago a model must have last changed to be deleted (a ``timedelta`` or
        seconds).
    :param name_prefix: delete models whose name starts with this instead of the default names.
        (templated)
    :param statuses: delete only models in these statuses (any case). By default every status but
        those of a training in progress (``TrainRequested``, ``InQueue``, ``Training``). (templated)
    :param protected_model_ids: ids never to delete: a list, or one id as a string, e.g.
        ``["{{ var.value.ttm_champion }}"]``; an item that renders blank protects nothing. (templated)
    :param dry_run: only list what would be deleted.
    """

    template_fields: Sequence[str] = ("name_prefix", "statuses", "protected_model_ids", "ttm_conn_id")

    def __init__(
        self,
        *,
        max_age: timedelta | float,
        name_prefix: str | None = None,
        statuses: list[str] | tuple[str, ...] = DEFAULT_STATUSES,
        protected_model_ids: list[str] | str | None = None,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_age = timedelta(seconds=positive_seconds("max_age", max_age))
        self.name_prefix = name_prefix
        self.statuses = statuses
        self.protected_model_ids = protected_model_ids
        self.list_only = flag("dry_run", dry_run)  # not ``self.dry_run``: a BaseOperator method

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Delete the expired models (or only list them); return them."""
        self.check_arguments()
        if self.name_prefix is not None:
            text("name_prefix", self.name_prefix)
        statuses = status_names("statuses", self.statuses)
        if not statuses:
            raise ValueError("statuses must hold at least one model status; got [].")
        protected = protected_ids("protected_model_ids", self.protected_model_ids)
        now = datetime.now(UTC)
        models = self.hook.list_models()
        public = {model.model_name for model in self.hook.list_public_models()}
        expired, kept = select_expired(
            models,
            now=now,
            max_age=self.max_age,
            statuses=statuses,
            name_prefix=self.name_prefix,
            protected=protected | public,
        )
        named = f"names starting with {self.name_prefix!r}" if self.name_prefix else "the default names"
        reasons = ", ".join(f"{count} {why}" for why, count in sorted(kept.items()))
        self.log.info(
            "Of %d models, %d have %s: %d unchanged for more than %s, to delete; kept %s.",
            len(models),
            len(expired) + kept.total(),
            named,
            len(expired),
            str(self.max_age).removesuffix(", 0:00:00"),  # "3 days", not "3 days, 0:00:00"
            reasons or "none",
        )
        if self.list_only:
            for item in expired:
                self.log.info("Would delete model %s.", item.describe())
            return [item.to_dict() for item in expired]
        return self._delete(context, expired)

    def _delete(self, context: Context, expired: list[ExpiredModel]) -> list[dict[str, Any]]:
        """Delete each model in turn; on a failure, report those deleted before it and re-raise."""
        deleted: list[dict[str, Any]] = []
        for item in expired:
            try:
                record = self.hook.delete_model(item.model.model_name)
            except Exception:
                self.log.error(
                    "Deleting model %s failed after %d of %d deletions (%s); the rest were not tried.",
                    item.describe(),
                    len(deleted),
                    len(expired),
                    ", ".join(done["model_name"] for done in deleted) or "none",
                )
                context["ti"].xcom_push(key=DELETED_BEFORE_FAILURE, value=deleted)
                raise
            gone = " (it was already gone)" if record is None else ""
            self.log.info("Deleted model %s%s.", item.describe(), gone)
            deleted.append(item.to_dict())
        return deleted
