"""The emulator's settings, and the duration syntax (``5s``, ``2m``, ``1.5``) of the CLI and admin API."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from airflow_provider_ttm.emulator.clock import Clock
from airflow_provider_ttm.emulator.faults import FaultRule

IdSpelling = Literal["both", "model_name", "model_id"]
ID_SPELLINGS: Final = get_args(IdSpelling)
DEFAULT_API_KEY: Final = "ttm-emulator-key"
# What may change while the emulator runs; the rest is fixed at start.
RUNTIME_FIELDS: Final = frozenset(
    {
        "api_keys",
        "api_key_aliases",
        "auto_train_seconds",
        "train_seconds",
        "file_processing_seconds",
        "fit_failure_rate",
        "id_spelling",
        "clock",
    }
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``: a number, or a string like ``"1.5"``, ``"250ms"``, ``"5s"``, ``"2m"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 5s, 2m, 1.5)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


@dataclass(frozen=True)
class EmulatorConfig:
    """
    How the emulator behaves.

    :param api_keys: the keys accepted in the ``Authorization`` header.
    :param host: the address to listen on (loopback by default).
    :param port: the port; 0 picks a free one.
    :param train_seconds: how long a fit takes from TrainRequested to Ready (or FitFailed).
    :param auto_train_seconds: if set, a bare created model trains by itself and is Ready (or
        FitFailed, see ``fit_failure_rate``) after this many seconds; if ``None`` it stays Created
        until datasets are bound and fit. Binding datasets before it is Ready stops the
        auto-training, so a DAG that trains its model for real goes through the real life cycle.
    :param file_processing_seconds: how long an uploaded dataset stays FileLoading before FileReady
        (or FileFailed, if it is not a valid dataset).
    :param fit_failure_rate: the share of trainings (fits and auto-trainings) that end FitFailed,
        drawn from the seeded RNG.
    :param seed: seeds fit failures, fault probabilities and unseeded generation.
    :param id_spelling: ``both`` id spellings, or only one: ``model_name`` (the reference's
        ``model_name`` and ``user_name``, files' ``id``) or ``model_id`` (the 2023 SDK's ``model_id``
        and ``name``, files' ``file_id``).
    :param faults: fault rules active from the start.
    :param clock: the time source (see :class:`~airflow_provider_ttm.emulator.clock.ManualClock`).
    :param ssl_certfile: a PEM certificate to serve HTTPS with.
    :param ssl_keyfile: the certificate's private key.
    :param log_level: uvicorn's log level.
    :param api_key_aliases: key -> the key whose account it opens: an aliased key sees and changes
        that key's models and files, as a rotated key of the same account does (the old key may then
        be revoked, dropped from ``api_keys``). The alias must itself be in ``api_keys`` to be accepted.
    """

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    host: str = "127.0.0.1"
    port: int = 0
    train_seconds: float = 1.0
    auto_train_seconds: float | None = None
    file_processing_seconds: float = 0.2
    fit_failure_rate: float = 0.0
    seed: int = 0
    id_spelling: IdSpelling = "both"
    faults: tuple[FaultRule, ...] = ()
    clock: Clock = field(default=time.time, compare=False)
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    log_level: str = "warning"
    # Last: the fields before it keep their positions of 0.1.0.
    api_key_aliases: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.api_keys, str) or not self.api_keys:
            raise ValueError("api_keys must be a non-empty sequence of keys")
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        if not all(isinstance(key, str) and key for key in self.api_keys):
            raise ValueError("every API key must be a non-empty string")
        if not isinstance(self.api_key_aliases, Mapping) or not all(
            isinstance(key, str) and key and isinstance(account, str) and account
            for key, account in self.api_key_aliases.items()
        ):
            raise ValueError("api_key_aliases must map non-empty keys to non-empty keys")
        object.__setattr__(self, "api_key_aliases", dict(self.api_key_aliases))
        for name in ("train_seconds", "auto_train_seconds", "file_processing_seconds"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_duration(value))
        rate = self.fit_failure_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError("fit_failure_rate must be between 0 and 1")
        if self.id_spelling not in ID_SPELLINGS:
            raise ValueError(f"id_spelling must be one of {', '.join(ID_SPELLINGS)}")
        object.__setattr__(self, "faults", tuple(self.faults))
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("ssl_certfile and ssl_keyfile go together")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` to the run-time settings (see ``RUNTIME_FIELDS``)."""
        fixed = set(changes) - RUNTIME_FIELDS
        if fixed:
            raise ValueError(f"cannot change at run time: {', '.join(sorted(fixed))}")
        return dataclasses.replace(self, **changes)

    def public_settings(self) -> dict[str, Any]:
        """The settings as JSON, without the API keys or the clock."""
        return {
            "api_key_count": len(self.api_keys),
            "api_key_alias_count": len(self.api_key_aliases),
            "host": self.host,
            "port": self.port,
            "train_seconds": self.train_seconds,
            "auto_train_seconds": self.auto_train_seconds,
            "file_processing_seconds": self.file_processing_seconds,
            "fit_failure_rate": self.fit_failure_rate,
            "seed": self.seed,
            "id_spelling": self.id_spelling,
            "tls": self.ssl_certfile is not None,
        }
