"""The in-process control of a running emulator; the admin endpoints under ``/_emulator/`` mirror it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.emulator.faults import FaultRule
from airflow_provider_ttm.emulator.state import UPLOAD_AUTH_COUNTER

if TYPE_CHECKING:
    from airflow_provider_ttm.emulator.config import EmulatorConfig
    from airflow_provider_ttm.emulator.state import EmulatorState


def _rule(rule: FaultRule | Mapping[str, Any]) -> FaultRule:
    return rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule)


class EmulatorControl:
    """
    Inspect and steer an emulator from tests: faults, counters, models, forced statuses, settings.

    :param state: the emulator's state.
    """

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    @property
    def config(self) -> EmulatorConfig:
        """The settings in force."""
        return self._state.config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """
        Change settings while running, e.g. ``configure(train_seconds=0.1, fit_failure_rate=1.0)``.

        Allowed: ``api_keys``, ``api_key_aliases``, ``auto_train_seconds``, ``train_seconds``, ``file_processing_seconds``,
        ``fit_failure_rate``, ``id_spelling``, ``clock``. Trainings already started keep their timing.
        """
        return self._state.configure(**changes)

    def reset(self) -> None:
        """Forget models, files, counters and faults; return to the settings given at start."""
        self._state.reset()

    def set_faults(self, *rules: FaultRule | Mapping[str, Any]) -> list[dict[str, Any]]:
        """Replace the fault rules (objects or their JSON form); return the active rules."""
        self._state.set_faults([_rule(rule) for rule in rules])
        return self._state.faults()

    def add_fault(
        self, rule: FaultRule | Mapping[str, Any] | None = None, **fields: Any
    ) -> list[dict[str, Any]]:
        """Add one rule, given as an object, a mapping or keywords: ``add_fault(kind="drop", route="POST /v0/models")``."""
        self._state.add_fault(_rule(rule if rule is not None else fields))
        return self._state.faults()

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._state.set_faults([])

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules with their remaining ``times``."""
        return self._state.faults()

    def counters(self) -> dict[str, int]:
        """Requests per ``"METHOD /route/template"`` (e.g. ``"POST /v0/models"``) since the last reset."""
        return self._state.counters()

    def count(self, route: str) -> int:
        """Requests to one ``"METHOD /route/template"`` since the last reset."""
        return self._state.counters().get(route, 0)

    @property
    def upload_requests_with_authorization(self) -> int:
        """Uploads that carried an ``Authorization`` header (a client should never send its key there)."""
        return self.count(UPLOAD_AUTH_COUNTER)

    @property
    def deleted_models(self) -> int:
        """Models deleted since the last reset."""
        return int(self._state.snapshot()["deleted_models"])

    def models(self) -> list[dict[str, Any]]:
        """The live models of every key (both id spellings, plus bound files)."""
        return list(self._state.snapshot()["models"])

    def files(self) -> list[dict[str, Any]]:
        """The live files of every key."""
        return list(self._state.snapshot()["files"])

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_emulator/state`` returns."""
        return self._state.snapshot()

    def force_status(self, model_id: str, status: str) -> dict[str, Any]:
        """Set a model's status now (e.g. ``FitFailed``), cancelling training in progress."""
        return self._state.force_status(model_id, status)
