"""Typed records parsed from the service's JSON replies.

The reference names a model's id ``model_name`` and its human name ``user_name``; the 2023 vendor
SDK reads ``model_id`` and ``name``. Both spellings are accepted. Fields this module does not know
are kept in ``extra`` so nothing the service says is lost. Every id is checked before it becomes a
record: an id that could not be put in a model URL makes the reply malformed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.api.endpoints import validate_model_name
from airflow_provider_ttm.api.parsing import ObjectKeys, first_string, identified, malformed
from airflow_provider_ttm.api.statuses import ModelStatus, StatusMeaning

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from airflow_provider_ttm.api.parsing import Identified

_MODEL_KEYS = ObjectKeys(
    what="model",
    ids=("model_name", "model_id"),
    labels=("user_name", "name"),
    others=("model_type", "model_params", "last_updated_time"),
    validate=validate_model_name,
)
#: The deepest nesting a model object may have: far beyond any real one, and well within what
#: Airflow's (recursive) XCom serialization carries; the JSON parser alone allows about 1,000.
MAX_MODEL_NESTING = 32


@dataclass(frozen=True)
class ModelRecord(StatusMeaning):
    """One model as the service describes it.

    :param model_name: the model's id (32 hex characters), used in every model URL.
    :param status: the status exactly as the service wrote it (see ``ModelStatus``).
    :param user_name: the human-readable name given at creation, if any.
    :param model_type: ``classifier`` or ``generator``.
    :param model_params: parameters given at creation, such as ``num_classes``.
    :param last_updated_time: when the service last changed the model (UTC).
    :param extra: every other field of the reply, unchanged.
    """

    model_name: str
    status: str
    user_name: str | None = None
    model_type: str | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    last_updated_time: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    READY = ModelStatus.READY
    FAILED = ModelStatus.FIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, for XCom: the reference's keys plus any extra fields."""
        return {
            **self.extra,
            "model_name": self.model_name,
            "user_name": self.user_name,
            "model_type": self.model_type,
            "status": self.status,
            "model_params": dict(self.model_params),
            "last_updated_time": self.last_updated_time.isoformat() if self.last_updated_time else None,
        }


def parse_model(payload: object, expected: str | None = None) -> ModelRecord:
    """Build a ``ModelRecord`` from one model object of a reply.

    :param payload: the decoded JSON object.
    :param expected: the id the reply must be about (a status reply), or None for any.
    :raises TuneTheModelMalformedResponseError: when the object has no valid id, another id than
        ``expected``, or no status.
    """
    model = identified(payload, _MODEL_KEYS)
    model_name = model.object_id
    if expected is not None and model_name != expected:
        raise malformed(f"the reply is about model {model_name}, not {expected}")
    if _nests_deeper(model.fields, MAX_MODEL_NESTING):
        raise malformed(f"model {model_name} nests deeper than {MAX_MODEL_NESTING} levels")
    params = model.fields.get("model_params")
    return ModelRecord(
        model_name=model_name,
        status=model.status,
        user_name=model.label,
        model_type=model.text("model_type"),
        model_params=dict(params) if isinstance(params, dict) else {},
        last_updated_time=parse_timestamp(model.fields.get("last_updated_time")),
        extra=model.extra,
    )


def _nests_deeper(value: object, limit: int) -> bool:
    """Whether ``value`` (decoded JSON) holds lists or objects more than ``limit`` levels deep;
    walked without recursion."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            pending.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return False


def parse_model_list(payload: object) -> list[ModelRecord]:
    """Parse the ``{"models": [...]}`` reply of the list endpoints."""
    return [parse_model(item) for item in _model_objects(payload)]


def _model_objects(payload: object) -> list[Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        raise malformed("expected an object with a 'models' list")
    return payload["models"]


class ModelIndex:
    """A list reply's models by id; each becomes a ``ModelRecord`` only when asked for.

    A status poller needs a few models of a list that may hold tens of thousands: the entries kept
    are checked here (a malformed one fails the whole reply, as with ``parse_model_list``), and only
    the models asked for are parsed into records.

    :param payload: the decoded ``{"models": [...]}`` reply.
    :param wanted: the only ids whose entries are kept and checked (all when None); the others are
        passed over unread, so a long list costs little more than its decoding.
    :raises TuneTheModelMalformedResponseError: when the reply or one of its entries is malformed.
    """

    def __init__(self, payload: object, wanted: Collection[str] | None = None) -> None:
        #: The ids the index was built for (None: every model).
        self.wanted = None if wanted is None else frozenset(wanted)
        self._objects: dict[str, Identified] = {}
        for item in _model_objects(payload):
            if wanted is not None and not (
                isinstance(item, dict) and first_string(item, _MODEL_KEYS.ids) in wanted
            ):
                continue
            model = identified(item, _MODEL_KEYS)
            self._objects[model.object_id] = model

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, model_name: object) -> bool:
        return model_name in self._objects

    def covers(self, ids: Collection[str] | None) -> bool:
        """Whether the index shows every model of ``ids`` that the list held (None: every model)."""
        return self.wanted is None or (ids is not None and self.wanted.issuperset(ids))

    def get(self, model_name: str) -> ModelRecord | None:
        """The record of ``model_name``, or None when the list does not show it.

        :param model_name: the model's id.
        """
        item = self._objects.get(model_name)
        return None if item is None else parse_model(item.fields)

    def ids(self, where: Callable[[Identified], bool] | None = None) -> list[str]:
        """The ids of the models kept, in the list's order.

        :param where: only the models it accepts, judged without parsing them into records (their
            id, status and name are checked already): cheap even for a list of tens of thousands.
        """
        return [model_name for model_name, item in self._objects.items() if where is None or where(item)]


def parse_timestamp(value: object) -> dt.datetime | None:
    """Parse ``YYYY-MM-DD HH:MM:SS[.f to .ffffff]`` (or ISO 8601) as UTC; None when absent or unreadable.

    The standard library's parser (Python 3.11 reads 1 to 6 fraction digits and any ISO 8601 form):
    about 40 times faster than ``pendulum.parse``, for lists of tens of thousands of models.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # unreadable, or before year 1 or after 9999 once in UTC
        return None


def filter_models(
    models: list[ModelRecord], *, statuses: list[str] | None = None, model_type: str | None = None
) -> list[ModelRecord]:
    """Keep the models in one of ``statuses`` (any case) and of ``model_type``, when given.

    :raises ValueError: for a status that is not a documented model status.
    """
    wanted: set[ModelStatus] | None = None
    if statuses is not None:
        wanted = set()
        for text in statuses:
            status = ModelStatus.parse(text)
            if status is None:
                known = ", ".join(member.value for member in ModelStatus)
                raise ValueError(f"status must be among {known}; got {text!r}.")
            wanted.add(status)
    return [
        model
        for model in models
        if (wanted is None or model.known_status in wanted)
        and (model_type is None or model.model_type == model_type)
    ]
