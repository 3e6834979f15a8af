"""Airflow's own ``outlet_events`` of a running task, and what a task added to one of its aliases."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AssetAlias

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS


def outlet_events() -> Any:
    """A new ``OutletEventAccessors``, as Airflow puts in a task's context (3: Task SDK; 2.11: core)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    else:
        from airflow.utils.context import OutletEventAccessors  # type: ignore[no-redef]
    return OutletEventAccessors()


def alias_events(accessors: Any, alias: str) -> list[tuple[str, dict[str, Any]]]:
    """(asset URI, event extra) of each event added to the alias ``alias``."""
    accessor = accessors[AssetAlias(alias)]
    if AIRFLOW_V_3_0_PLUS:
        return [(event.dest_asset_key.uri, event.extra) for event in accessor.asset_alias_events]
    return [(event["dest_dataset_uri"], event["extra"]) for event in accessor.dataset_alias_events]
