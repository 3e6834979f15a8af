"""``TuneTheModelModelReadyEventTrigger``: event-driven scheduling on models that become Ready.

Used in an ``AssetWatcher`` (Airflow 3.0+), it fires one event per model that matches its filter
(id, ``user_name`` prefix, model type) and becomes Ready, whoever trained it, Airflow or not.

"Once" means: the watcher keeps the ids of the matching Ready models it knows. Each listing, a
matching Ready model it does not know fires one event and becomes known; a model gone from the list
(deleted) is forgotten. The first listing with nothing kept fires nothing: it records the models
already Ready (the watcher reports what becomes Ready after it starts, not what was Ready before).

- Airflow 3.3 keeps what the watcher knows in the watched asset's state store (``asset_state_store``),
  so a trigger re-created after a triggerer restart, or on another triggerer, goes on where it
  stopped: a model that became Ready meanwhile fires then, and none fires twice.
- Airflow 3.0 to 3.2 (and a trigger watching several assets) keep it in the trigger's memory: a
  re-created trigger takes a new first listing, so a model that became Ready while no triggerer ran
  the trigger does not fire.
- A triggerer that stops between an event and the next save of the state fires that event again
  when the trigger is re-created (events are delivered at least once; so does a trigger that runs
  on two triggerers during a handover).

The watchers of one connection in a triggerer share one model list request per interval with each
other and with the status triggers (``triggers.poller``), on every Airflow 3 line. On Airflow 2.11
(no event-driven scheduling) the module imports, and creating the trigger raises a RuntimeError.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any, cast

from airflow import __version__ as airflow_version
from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.triggers.base import TriggerEvent

from airflow_provider_ttm import arguments
from airflow_provider_ttm.api.endpoints import validate_model_name, validate_model_type
from airflow_provider_ttm.api.statuses import ModelStatus
from airflow_provider_ttm.exceptions import TuneTheModelError
from airflow_provider_ttm.triggers.poller import open_model_list_feed
from airflow_provider_ttm.version_compat import EVENT_TRIGGERS_SUPPORTED, BaseEventTrigger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from airflow_provider_ttm.api.parsing import Identified
    from airflow_provider_ttm.api.records import ModelRecord
    from airflow_provider_ttm.triggers.poller import ModelListFeed

#: Where Airflow finds the trigger it stored for a watcher (keep this path importable if it moves).
CLASSPATH = "airflow_provider_ttm.triggers.model_ready.TuneTheModelModelReadyEventTrigger"
#: The payload key that marks this trigger's events.
EVENT_KIND = "ttm_model_ready"


class TuneTheModelModelReadyEventTrigger(BaseEventTrigger):
    """Fires once for each model that matches the filter and becomes Ready (for an ``AssetWatcher``).

    Each event's payload is ``{"kind": "ttm_model_ready", "model_name": <id>, "model": <record>}``
    (the record as ``ModelRecord.to_dict()`` gives it; never the API key). Airflow puts it in the
    asset event's ``extra["payload"]``; ``ready_models`` reads it back in the triggered DAG.
    A filter left out matches every model; with none, every model of the key counts.

    :param ttm_conn_id: the Airflow connection to use (the key is read there, never serialized).
    :param model_name: only this model id.
    :param user_name_prefix: only models whose ``user_name`` starts with this.
    :param model_type: only ``classifier`` or only ``generator`` models.
    :param poll_interval: seconds between two model lists, at least 0.05.
    :raises ValueError: when an argument is not what is expected.
    :raises RuntimeError: on Airflow 2.11, which has no event-driven scheduling.
    """

    def __init__(
        self,
        ttm_conn_id: str = "ttm_default",
        model_name: str | None = None,
        user_name_prefix: str | None = None,
        model_type: str | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        if not EVENT_TRIGGERS_SUPPORTED:
            raise RuntimeError(
                f"TuneTheModelModelReadyEventTrigger needs Airflow 3.0 or later (AssetWatcher, "
                f"BaseEventTrigger); this is Airflow {airflow_version}. Wait with "
                "TuneTheModelModelReadySensor instead."
            )
        super().__init__()  # type: ignore[no-untyped-call]
        self.ttm_conn_id = arguments.text("ttm_conn_id", ttm_conn_id, max_length=arguments.MAX_CONN_ID_LENGTH)
        self.model_name = None if model_name is None else validate_model_name(model_name)
        self.user_name_prefix = (
            None if user_name_prefix is None else arguments.text("user_name_prefix", user_name_prefix)
        )
        self.model_type = None if model_type is None else validate_model_type(model_type)
        self.poll_interval = arguments.poll_interval_seconds("poll_interval", poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-primitive arguments (no secret: the key stays in the connection)."""
        cls = type(self)
        return (
            CLASSPATH
            if cls is TuneTheModelModelReadyEventTrigger
            else f"{cls.__module__}.{cls.__qualname__}",
            {
                "ttm_conn_id": self.ttm_conn_id,
                "model_name": self.model_name,
                "user_name_prefix": self.user_name_prefix,
                "model_type": self.model_type,
                "poll_interval": self.poll_interval,
            },
        )

    def matches(self, record: ModelRecord) -> bool:
        """Whether ``record`` passes the filter (whatever its status).

        :param record: a model of the list.
        """
        return self._passes(record.model_name, record.user_name, record.model_type)

    def _passes(self, model_name: str, user_name: str | None, model_type: str | None) -> bool:
        return (
            (self.model_name is None or model_name == self.model_name)
            and (
                self.user_name_prefix is None
                or (user_name is not None and user_name.startswith(self.user_name_prefix))
            )
            and (self.model_type is None or model_type == self.model_type)
        )

    def _is_ready_match(self, model: Identified) -> bool:
        """Whether a model of the list is Ready and passes the filter (judged before parsing it)."""
        return ModelStatus.READY.matches(model.status) and self._passes(
            model.object_id, model.label, model.text("model_type")
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Watch the model list for good; one event per matching model that becomes Ready.

        A failed list, or a connection that cannot be used yet, is logged and tried again after
        one interval: a watcher does not end.
        """
        memory = KnownModels(self._state_key(), getattr(self, "asset_state_store", None), self.log)
        known = await memory.load()
        feed = await self._open_feed()
        try:
            while True:
                try:
                    models = await feed.next_list()
                except TuneTheModelError as error:
                    self.log.warning(
                        "Listing the models of connection %r failed: %s", self.ttm_conn_id, error
                    )
                    continue
                ready = models.ids(where=self._is_ready_match)
                if known is None:
                    known = set(ready)
                    self.log.info(
                        "Watching for models that become Ready (%s); %d matching models were Ready "
                        "already and do not fire.",
                        self._describe_filter(),
                        len(known),
                    )
                    await memory.save(known)
                    continue
                for model_name in [model_name for model_name in ready if model_name not in known]:
                    record = cast("ModelRecord", models.get(model_name))
                    self.log.info("Model %s (%s) is Ready.", model_name, record.user_name)
                    yield _event(record)
                remembered = {model_name for model_name in known if model_name in models} | set(ready)
                if remembered != known:
                    known = remembered
                    await memory.save(known)
        finally:
            await feed.aclose()

    async def _open_feed(self) -> ModelListFeed:
        """Join the connection's model list, trying again each interval until the connection works."""
        wanted = None if self.model_name is None else frozenset((self.model_name,))
        while True:
            try:
                return await open_model_list_feed(self.ttm_conn_id, self.poll_interval, wanted)
            except (TuneTheModelError, AirflowNotFoundException) as error:
                self.log.warning(
                    "Cannot watch connection %r yet (%s); trying again in %s s.",
                    self.ttm_conn_id,
                    error,
                    self.poll_interval,
                )
                await asyncio.sleep(self.poll_interval)

    def _state_key(self) -> str:
        """The asset state store key of this watcher's memory: one per set of arguments."""
        arguments_json = json.dumps(self.serialize()[1], sort_keys=True)
        return f"{EVENT_KIND}.{hashlib.sha256(arguments_json.encode()).hexdigest()[:16]}"

    def _describe_filter(self) -> str:
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("model_name", self.model_name),
                ("user_name_prefix", self.user_name_prefix),
                ("model_type", self.model_type),
            )
            if value is not None
        ]
        return f"connection {self.ttm_conn_id!r}, " + (", ".join(parts) or "every model")


class KnownModels:
    """Where a watcher keeps the ids it knows: the asset state store when there is one, else nowhere.

    :param key: the watcher's key in the store.
    :param store: the trigger's ``asset_state_store`` (Airflow 3.3+), or None.
    :param log: the trigger's logger.
    """

    def __init__(self, key: str, store: Any, log: Any) -> None:
        self.key = key
        self.store = store
        self.log = log

    async def load(self) -> set[str] | None:
        """The ids kept by an earlier run of the watcher, or None (then the first listing is a baseline)."""
        if self.store is None:
            return None
        try:
            value = await self.store.aget(self.key)
        except Exception as error:  # any failure leaves the watcher working, from memory
            self._give_up(error)
            return None
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.log.warning("Ignoring the unreadable state %r of the watcher.", self.key)
            return None
        self.log.info("Going on from the %d Ready models an earlier run of the watcher knew.", len(value))
        return set(value)

    async def save(self, known: set[str]) -> None:
        """Keep ``known`` for the next run of the watcher (nothing without a store)."""
        if self.store is None:
            return
        try:
            await self.store.aset(self.key, sorted(known))
        except Exception as error:  # any failure leaves the watcher working, from memory
            self._give_up(error)

    def _give_up(self, error: Exception) -> None:
        self.log.warning(
            "The asset state store is not usable (%s); the watcher keeps what it knows in memory only.",
            error,
        )
        self.store = None


def _event(record: ModelRecord) -> TriggerEvent:
    return TriggerEvent({"kind": EVENT_KIND, "model_name": record.model_name, "model": record.to_dict()})


def ready_models(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The models carried by the asset events of ``TuneTheModelModelReadyEventTrigger``, in order.

    One DAG run may be triggered by several events (models that became Ready close together);
    events of other kinds are passed over.

    :param events: asset events, e.g. ``triggering_asset_events[asset]`` in the triggered DAG.
    """
    models = []
    for event in events:
        payload = (getattr(event, "extra", None) or {}).get("payload")
        if (
            isinstance(payload, dict)
            and payload.get("kind") == EVENT_KIND
            and isinstance(payload.get("model"), dict)
        ):
            models.append(payload["model"])
    return models
