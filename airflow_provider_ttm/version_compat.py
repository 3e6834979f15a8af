"""Which Airflow this runs on, checked in this one place (the way Apache's own providers do it).

Everything that exists in one supported Airflow but not another is imported through
``airflow.providers.common.compat``; the little that package does not cover is here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from airflow import __version__ as _airflow_version
from airflow.providers.common.compat.sdk import mask_secret
from packaging.version import Version

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """The installed Airflow's version as ``(major, minor, micro)``, pre-release tags dropped."""
    version = Version(_airflow_version)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)
#: Whether the scheduler starts a task with ``start_from_trigger`` in the triggerer, and the triggerer
#: renders the task's templated fields among the trigger's arguments. Airflow 3.1 and 3.2 ignore
#: ``start_from_trigger`` (the scheduler's code for it is commented out); 3.3 has it again, with
#: template rendering (apache/airflow PR 55068). 2.11 and 3.0 start the task there but pass the
#: trigger's arguments unrendered, so a templated ``model_name`` would reach the trigger as it is.
START_FROM_TRIGGER_SUPPORTED: bool = AIRFLOW_V_3_3_PLUS
#: Whether Airflow has event-driven scheduling: ``AssetWatcher`` and ``BaseEventTrigger`` (3.0+).
EVENT_TRIGGERS_SUPPORTED: bool = AIRFLOW_V_3_0_PLUS

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.triggers.base import BaseEventTrigger
else:  # Airflow 2.11: a stand-in base, so the provider's event trigger module still imports
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger
#: The context key (and template variable) of the asset events that started an asset-triggered run:
#: Airflow 2.11 calls assets datasets.
TRIGGERING_ASSET_EVENTS_KEY: str = (
    "triggering_asset_events" if AIRFLOW_V_3_0_PLUS else "triggering_dataset_events"
)
#: The ``run_type`` of a run the scheduler created from asset events.
ASSET_TRIGGERED_RUN_TYPE: str = "asset_triggered" if AIRFLOW_V_3_0_PLUS else "dataset_triggered"


def ensure_alias_recorded(name: str) -> None:
    """Make sure Airflow 2.11's database knows the dataset alias ``name`` (no-op on Airflow 3).

    2.11 records an alias event only for an alias its database knows, and fails the task otherwise
    ("Can't flush None value found in collection DatasetModel.aliases"). Its DAG processor records
    the aliases of a DAG's outlets, but ``airflow dags test`` (``dag.test()``) does not: the alias is
    recorded here as the DAG processor would. Airflow 3 records the aliases itself.

    :param name: the alias's name.
    """
    if AIRFLOW_V_3_0_PLUS:
        return
    from airflow.models.dataset import DatasetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    try:
        with create_session() as session:
            if session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name)) is None:
                session.add(DatasetAliasModel(name=name))
    except IntegrityError:  # another task recorded it at the same time
        pass


def asset_event_uri(event: Any) -> str:
    """The asset URI of a triggering asset event (Airflow 3: ``event.asset.uri``; 2.11: ``event.uri``).

    :param event: one of the events in ``triggering_asset_events`` (``triggering_dataset_events``).
    """
    return str(event.asset.uri if AIRFLOW_V_3_0_PLUS else event.uri)


async def amask_secret(secret: str) -> None:
    """Mask a secret in the logs from async code without blocking the event loop.

    Airflow 3.3 has ``airflow.sdk.log.amask_secret``, which tells the supervisor asynchronously.
    Airflow 3.0-3.2 lack it: the secret is masked in this process and, when the supervisor channel
    has an async ``asend`` (the triggerer's), the supervisor is told through it. A blocking send from
    a worker thread there races the other triggers' requests (3.0's triggerer then fails with
    "Response read out of order"). Elsewhere, and on Airflow 2.11 (which only updates this process's
    masker), the synchronous mask runs in a worker thread.
    """
    try:
        from airflow.sdk.log import amask_secret as sdk_amask_secret
    except ImportError:
        pass
    else:
        await sdk_amask_secret(secret)
        return
    asend = None
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time import task_runner

        asend = getattr(getattr(task_runner, "SUPERVISOR_COMMS", None), "asend", None)
    if asend is None:
        await asyncio.to_thread(mask_secret, secret)
        return
    from airflow.sdk.execution_time.comms import MaskSecret

    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import _secrets_masker  # type: ignore[no-redef]

    _secrets_masker().add_mask(secret, None)
    await asend(MaskSecret(value=secret, name=None))


class TaskStateStore(Protocol):
    """The part of Airflow 3.3's ``task_state_store`` the provider uses (JSON values per key)."""

    def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``."""


def task_state_store(context: Context) -> TaskStateStore | None:
    """The task instance's ``task_state_store``, or None before Airflow 3.3.

    Its values outlive a reschedule and a retry of the same task instance in the same DAG run
    (XComs do not: Airflow clears them each time a task starts, unless it resumes from deferral).
    """
    store = context.get("task_state_store")  # type: ignore[misc]  # absent before 3.3
    return store  # type: ignore[no-any-return]


def first_reschedule_date(context: Context) -> datetime | None:
    """When a sensor in ``reschedule`` mode first poked in this try; None before its first reschedule.

    Airflow 3 asks the task instance. Airflow 2.11 reads its task reschedule table the way its own
    ``BaseSensorOperator`` does (through the same function, which also works without database access).
    """
    ti = context["ti"]
    if AIRFLOW_V_3_0_PLUS:
        return ti.get_first_reschedule_date(context)  # type: ignore[no-any-return]
    from airflow.sensors.base import _orig_start_date  # type: ignore[attr-defined]

    return _orig_start_date(  # type: ignore[no-any-return]
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=ti.map_index,
        try_number=(ti.max_tries or 0) - (ti.task.retries or 0) + 1,
    )


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "ASSET_TRIGGERED_RUN_TYPE",
    "EVENT_TRIGGERS_SUPPORTED",
    "START_FROM_TRIGGER_SUPPORTED",
    "TRIGGERING_ASSET_EVENTS_KEY",
    "BaseEventTrigger",
    "TaskStateStore",
    "amask_secret",
    "asset_event_uri",
    "ensure_alias_recorded",
    "first_reschedule_date",
    "get_base_airflow_version_tuple",
    "task_state_store",
]
