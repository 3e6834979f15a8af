"""Models as Airflow assets (datasets on Airflow 2.11): ``ttm://<host>/models/<model id>``.

The URI names a model by the API host of its connection (``host[:port]``, lower case) and its id.
The provider registers the ``ttm`` scheme with Airflow (``asset-uris`` / ``dataset-uris`` in its
provider info), so Airflow checks and normalises every such URI with :func:`sanitize_uri`.

A model's id exists only once a task has created it, so tasks announce models through an asset
alias: the task lists ``AssetAlias(name)`` in its outlets and adds an event for the model's asset
to it (:func:`emit_model_event`); a DAG scheduled on the alias runs on each such event and reads the
model from ``triggering_asset_events`` (:func:`triggering_model_events`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias

from airflow_provider_ttm.api.endpoints import validate_id
from airflow_provider_ttm.version_compat import (
    TRIGGERING_ASSET_EVENTS_KEY,
    asset_event_uri,
    ensure_alias_recorded,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.api.records import ModelRecord

#: The URI scheme of a Tune The Model model.
SCHEME = "ttm"
#: The alias the nightly retrain example announces its champion through.
CHAMPION_ALIAS = "ttm-champion"
_MODELS = "models"


def sanitize_uri(parts: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    """Check and normalise a ``ttm://<host>/models/<model id>`` URI (Airflow's handler for ``ttm``).

    The host is lower-cased and user info dropped; query and fragment are dropped. Anything else
    than one model path on a host raises ValueError, which Airflow reports for the asset.

    :param parts: the URI as ``urllib.parse.urlsplit`` returns it.
    """
    shown = urllib.parse.urlunsplit(parts)
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"A Tune The Model asset URI must start with '{SCHEME}://'; got {shown!r}.")
    netloc = _host(parts, shown)
    segments = parts.path.split("/")
    if len(segments) != 3 or segments[:2] != ["", _MODELS]:
        raise ValueError(
            f"A Tune The Model asset URI must be '{SCHEME}://<host>/{_MODELS}/<model id>'; got {shown!r}."
        )
    model_id = validate_id(
        segments[2], param="the asset URI's model id", what="a model id", origin="by the API"
    )
    return parts._replace(scheme=SCHEME, netloc=netloc, path=f"/{_MODELS}/{model_id}", query="", fragment="")


def _host(parts: urllib.parse.SplitResult, shown: str) -> str:
    """``host[:port]`` of ``parts``, lower case, without user info."""
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError as error:  # a port that is not a number
        raise ValueError(f"A Tune The Model asset URI needs a valid host; got {shown!r}: {error}.") from None
    if not hostname:
        raise ValueError(f"A Tune The Model asset URI needs the API host; got {shown!r}.")
    host = f"[{hostname}]" if ":" in hostname else hostname
    return host if port is None else f"{host}:{port}"


def model_asset_uri(host: str, model_id: str) -> str:
    """The normalised asset URI of a model: ``ttm://<host>/models/<model id>``.

    :param host: the API host of the model's connection, ``host[:port]`` (see :func:`connection_host`).
    :param model_id: the model's id.
    """
    if not isinstance(host, str) or not host or any(c in host for c in "/?#@ "):
        raise ValueError(f"host must be the API host as 'host[:port]'; got {host!r}.")
    validate_id(model_id, param="model_id", what="a model id", origin="by the API")
    return urllib.parse.urlunsplit(
        sanitize_uri(urllib.parse.urlsplit(f"{SCHEME}://{host}/{_MODELS}/{model_id}"))
    )


def model_id_from_uri(uri: str) -> str:
    """The model id in a ``ttm://`` asset URI, else ValueError.

    :param uri: the asset's URI.
    """
    return sanitize_uri(urllib.parse.urlsplit(uri)).path.rsplit("/", 1)[1]


def connection_host(base_url: str) -> str:
    """The host part of a connection's base URL, as the asset URI names it.

    :param base_url: the connection's API base URL (``ConnectionSettings.base_url``).
    """
    return _host(urllib.parse.urlsplit(base_url), base_url)


def model_event_extra(record: ModelRecord, accuracy: float | None = None) -> dict[str, Any]:
    """The extra of a model's asset event: its id, type, status and name, and the accuracy if known.

    :param record: the model as the API describes it.
    :param accuracy: the model's measured accuracy, when the task knows it.
    """
    extra: dict[str, Any] = {
        "model_id": record.model_name,
        "model_type": record.model_type,
        "status": record.status,
        "user_name": record.user_name,
    }
    if accuracy is not None:
        extra["accuracy"] = accuracy
    return extra


def emit_model_event(
    outlet_events: Any, alias: str, host: str, record: ModelRecord, accuracy: float | None = None
) -> Asset:
    """Add an event for the model's asset to the alias; return the asset.

    The task must list ``AssetAlias(alias)`` in its outlets: Airflow records the event (and creates
    the asset the first time) when the task succeeds.

    :param outlet_events: the task's ``outlet_events`` (from its context).
    :param alias: the name of the asset alias.
    :param host: the API host of the model's connection.
    :param record: the model as the API describes it.
    :param accuracy: the model's measured accuracy, when the task knows it.
    """
    asset = Asset(uri=model_asset_uri(host, record.model_name))
    ensure_alias_recorded(alias)
    outlet_events[AssetAlias(alias)].add(asset, extra=model_event_extra(record, accuracy))
    return asset


@dataclass(frozen=True)
class ModelEvent:
    """A model's asset event that started a run.

    :param uri: the model's asset URI.
    :param model_id: the model's id.
    :param extra: the event's extra (see :func:`model_event_extra`).
    :param timestamp: when Airflow recorded the event.
    """

    uri: str
    model_id: str
    extra: dict[str, Any]
    timestamp: datetime


def triggering_model_events(context: Context) -> list[ModelEvent]:
    """The model events among those that started this run, oldest first (empty for other runs).

    Reads ``triggering_asset_events`` (``triggering_dataset_events`` on Airflow 2.11); events of
    other schemes are left out, and an event reached through several aliases counts once.

    :param context: the task's context.
    """
    events: Mapping[Any, Iterable[Any]] = context.get(TRIGGERING_ASSET_EVENTS_KEY) or {}  # type: ignore[assignment]
    found: dict[tuple[str, datetime], ModelEvent] = {}
    for key in events:
        for event in events[key]:
            uri = asset_event_uri(event)
            if urllib.parse.urlsplit(uri).scheme != SCHEME:
                continue
            found[uri, event.timestamp] = ModelEvent(
                uri, model_id_from_uri(uri), dict(event.extra or {}), event.timestamp
            )
    return sorted(found.values(), key=lambda model_event: model_event.timestamp)
