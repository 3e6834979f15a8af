"""Fault rules: which requests misbehave, how, and how often."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

FaultKind = Literal["error", "rate_limit", "latency", "drop", "malformed", "unauthorized", "trickle", "echo"]
FAULT_KINDS: Final = frozenset(get_args(FaultKind))
DEFAULT_STATUS: Final[dict[str, int]] = {
    "error": 503,
    "rate_limit": 429,
    "unauthorized": 401,
    "malformed": 200,
    "trickle": 503,
    "echo": 500,
}
_PARAM = re.compile(r"\{[^}]*\}")


def _normalise(path: str) -> str:
    """``/v0/models/{model_id}/status`` and ``/v0/models/{id}/status`` name the same route."""
    return _PARAM.sub("{}", path.rstrip("/") or "/")


@dataclass(frozen=True)
class FaultRule:
    """
    One way for matching requests to misbehave.

    :param kind: ``error`` (a 5xx), ``rate_limit`` (429 with ``Retry-After``), ``latency`` (a slow
        reply), ``drop`` (the connection closes mid-response), ``malformed`` (200 with truncated JSON)
        ``unauthorized`` (401 even with a good key), ``trickle`` (the reply's body is sent one byte
        every ``delay_seconds``: the real reply when ``after``, else an error) or ``echo`` (an error
        whose JSON body quotes the caller's API key, JSON-escaped as careless servers write it).
    :param route: ``"*"`` for every API request, ``"METHOD /path/template"`` or a method-less
        ``"/path/template"``; parameter names in braces do not matter, a concrete path matches too.
    :param status: the status sent by error, rate_limit, unauthorized, malformed, echo and trickle
        replies.
    :param probability: the chance that a matching request misbehaves (seeded, so reproducible).
    :param times: misbehave this many times, then expire; ``None`` means forever.
    :param retry_after: the ``Retry-After`` header value (seconds or an HTTP date).
    :param delay_seconds: how long a latency fault sleeps; the pause between two trickled bytes.
    :param after: perform the real operation first, then misbehave (a create whose reply is
        dropped still creates the model).
    :param body: a text/plain body for error replies instead of the JSON ``{"detail": ...}``.
    """

    kind: FaultKind
    route: str = "*"
    status: int | None = None
    probability: float = 1.0
    times: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 1.0
    after: bool = False
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}, not {self.kind!r}")
        if not isinstance(self.route, str) or not self.route.strip():
            raise ValueError("route must be '*', 'METHOD /path' or '/path'")
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError("status must be an HTTP status code")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 1):
            raise ValueError("times must be a positive integer or null")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from its JSON form; raise ``ValueError`` naming what is wrong."""
        unknown = set(data) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault rule needs a kind")
        values = dict(data)
        if values.get("retry_after") is not None:
            values["retry_after"] = str(values["retry_after"])
        for name in ("probability", "delay_seconds"):
            if name in values and (
                isinstance(values[name], bool) or not isinstance(values[name], int | float)
            ):
                raise ValueError(f"{name} must be a number")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the rule."""
        return dataclasses.asdict(self)

    @property
    def reply_status(self) -> int:
        """The status code of the reply this rule sends (error, rate_limit, unauthorized, malformed)."""
        return self.status if self.status is not None else DEFAULT_STATUS.get(self.kind, 503)

    def matches(self, method: str, template: str, path: str) -> bool:
        """Whether a request for ``method`` on ``path`` (routed to ``template``) is subject to this rule."""
        if self.route.strip() == "*":
            return True
        rule_method, _, rule_path = self.route.strip().rpartition(" ")
        if rule_method and rule_method.upper() != method.upper():
            return False
        wanted = _normalise(rule_path)
        return wanted in (_normalise(template), _normalise(path))


class FaultBook:
    """
    The active fault rules and how many times each may still fire. Not thread-safe: the emulator
    state calls it under its lock.

    :param seed: seeds the random draws of rules with a probability below 1.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._rules: list[tuple[FaultRule, int | None]] = []

    def replace(self, rules: list[FaultRule]) -> None:
        """Make ``rules`` the active rules, in order of precedence."""
        self._rules = [(rule, rule.times) for rule in rules]

    def append(self, rule: FaultRule) -> None:
        """Add ``rule`` after the active ones."""
        self._rules.append((rule, rule.times))

    def pick(self, method: str, template: str, path: str) -> FaultRule | None:
        """Return the first rule that fires for this request (spending one of its times), if any."""
        for index, (rule, remaining) in enumerate(self._rules):
            if not rule.matches(method, template, path):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            if remaining is not None:
                if remaining <= 1:
                    del self._rules[index]
                else:
                    self._rules[index] = (rule, remaining - 1)
            return rule
        return None

    def active(self) -> list[dict[str, Any]]:
        """The active rules in JSON form, ``times`` showing how many are left."""
        return [{**rule.to_dict(), "times": remaining} for rule, remaining in self._rules]


def parse_rules(data: Any) -> list[FaultRule]:
    """Parse a JSON list of rules (or ``{"faults": [...]}``, or one rule); raise ``ValueError``."""
    if isinstance(data, Mapping):
        data = data.get("faults", [data])
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise ValueError("faults must be a list of rule objects")
    return [FaultRule.from_dict(cast("Mapping[str, Any]", item)) for item in data]
