"""``ModelAssetMixin``: an operator that announces the model it made as an asset event."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AssetAlias

from airflow_provider_ttm.arguments import text
from airflow_provider_ttm.assets import connection_host, emit_model_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

log = logging.getLogger(__name__)


class ModelAssetMixin:
    """Adds ``asset_alias``: on success the task adds an event for its model's asset to that alias.

    The asset is ``ttm://<host>/models/<model id>`` (see :mod:`airflow_provider_ttm.assets`); the
    event's extra holds the model's id, type, status and name. The alias is added to the task's
    ``outlets``, so a DAG scheduled on ``AssetAlias(asset_alias)`` runs on each such event (on
    Airflow 2.11 a ``DatasetAlias`` and a dataset event). Without ``asset_alias`` nothing is
    announced and no request is made for it; with it, one request reads the model's record.
    A mapped task (``.partial(...).expand(...)``) gets its outlets from ``partial``: give it
    ``outlets=[AssetAlias(name)]`` as well as ``asset_alias=name``.

    :param asset_alias: the name of the asset alias to announce the model through.
    """

    hook: TuneTheModelHook

    def __init__(self, *, asset_alias: str | None = None, **kwargs: Any) -> None:
        if asset_alias is not None:
            text("asset_alias", asset_alias, max_length=1500)  # Airflow's limit for a name
            outlets = kwargs.get("outlets")
            listed = (
                [] if outlets is None else list(outlets) if isinstance(outlets, list | tuple) else [outlets]
            )
            alias = AssetAlias(asset_alias)
            kwargs["outlets"] = listed if alias in listed else [*listed, alias]
        super().__init__(**kwargs)
        self.asset_alias = asset_alias

    def announced(self, context: Context, model_id: str) -> str:
        """Add the event for ``model_id`` to ``asset_alias``, if one was given; return ``model_id``.

        :param context: the task's context.
        :param model_id: the model the task created or trained.
        """
        if self.asset_alias is None:
            return model_id
        record = self.hook.get_model(model_id)
        host = connection_host(self.hook.settings.base_url)
        asset = emit_model_event(context["outlet_events"], self.asset_alias, host, record)
        log.info(
            "Announced model %s (%s) through asset alias %r.", asset.uri, record.status, self.asset_alias
        )
        return model_id
