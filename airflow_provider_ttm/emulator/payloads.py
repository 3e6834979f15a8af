"""Validation of request bodies: each parser returns typed values or raises a 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from airflow_provider_ttm.emulator.errors import ApiError

MODEL_TYPES: Final = ("classifier", "generator")
MAX_HYPOS: Final = 16
MAX_TOKENS: Final = 1024

Body = Mapping[str, Any]


@dataclass(frozen=True)
class NewModel:
    """A valid create-model request."""

    model_type: str
    name: str
    params: dict[str, int]
    pretrained_model: str | None


@dataclass(frozen=True)
class NewFile:
    """A valid create-file request."""

    name: str
    task_type: str


@dataclass(frozen=True)
class Binding:
    """A valid bind request: the ids of the training and validation files."""

    train_file: str
    validate_file: str


@dataclass(frozen=True)
class Generation:
    """A valid generate request (``None`` where the client left a knob to the model)."""

    input: str
    num_hypos: int
    min_tokens: int
    max_tokens: int
    temperature: float | None
    top_k: int | None
    top_p: float | None
    seed: int | None
    prefix_tokens_only: bool
    span_delimiters: tuple[str, ...]


def _bad(field: str, problem: str) -> ApiError:
    return ApiError(400, f"{field}: {problem}")


def parse_json_object(raw: bytes, what: str = "request body") -> dict[str, Any]:
    """Parse ``raw`` as a JSON object (an empty body is an empty object)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return data


def _reject_unknown(body: Body, known: set[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise _bad(prefix + unknown[0], f"unknown field (known: {', '.join(sorted(known))})")


def _str(body: Body, field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise _bad(field, "must be a string")
    return value


def _required_str(body: Body, field: str) -> str:
    value = _str(body, field)
    if value is None:
        raise _bad(field, "is required")
    return value


def _int(body: Body, field: str, minimum: int, prefix: str = "") -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(prefix + field, f"must be an integer, not {json.dumps(value)}")
    if value < minimum:
        raise _bad(prefix + field, f"must be at least {minimum}")
    return value


def _number(body: Body, field: str, low: float, high: float | None = None) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, f"must be a number, not {json.dumps(value)}")
    if value < low or (high is not None and value > high):
        raise _bad(field, f"must be between {low} and {high}" if high is not None else f"must be >= {low}")
    return float(value)


def _type(body: Body, field: str) -> str:
    value = _required_str(body, field)
    if value not in MODEL_TYPES:
        raise _bad(field, f"must be one of {', '.join(MODEL_TYPES)}, not {json.dumps(value)}")
    return value


def parse_new_model(body: Body) -> NewModel:
    """Validate ``POST /v0/models``; a classifier has 2 classes unless ``num_classes`` says otherwise."""
    _reject_unknown(body, {"model_type", "name", "model_params", "pretrained_model"})
    model_type = _type(body, "model_type")
    raw_params = body.get("model_params")
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        raise _bad("model_params", "must be an object")
    _reject_unknown(raw_params, {"num_classes", "train_iters"}, "model_params.")
    params: dict[str, int] = {}
    num_classes = _int(raw_params, "num_classes", 2, "model_params.")
    if model_type == "classifier":
        params["num_classes"] = 2 if num_classes is None else num_classes
    elif num_classes is not None:
        raise _bad("model_params.num_classes", "is only for classifiers")
    train_iters = _int(raw_params, "train_iters", 1, "model_params.")
    if train_iters is not None:
        params["train_iters"] = train_iters
    return NewModel(
        model_type=model_type,
        name=_str(body, "name") or "",
        params=params,
        pretrained_model=_str(body, "pretrained_model"),
    )


def parse_new_file(body: Body) -> NewFile:
    """Validate ``POST /v0/files``."""
    _reject_unknown(body, {"name", "task_type"})
    name = _required_str(body, "name")
    if not name.strip():
        raise _bad("name", "must not be empty")
    return NewFile(name=name, task_type=_type(body, "task_type"))


def parse_binding(body: Body) -> Binding:
    """Validate ``POST /v0/models/{id}/bind``."""
    _reject_unknown(body, {"train_file", "validate_file"})
    return Binding(
        train_file=_required_str(body, "train_file"),
        validate_file=_required_str(body, "validate_file"),
    )


def parse_classify(body: Body) -> str:
    """Validate ``POST /v0/models/{id}/classify`` and return the input text."""
    _reject_unknown(body, {"input"})
    return _required_str(body, "input")


def parse_generation(body: Body) -> Generation:
    """Validate ``POST /v0/models/{id}/generate``."""
    _reject_unknown(
        body,
        {
            "input",
            "num_hypos",
            "min_tokens",
            "max_tokens",
            "temperature",
            "top_k",
            "top_p",
            "seed",
            "prefix_tokens_only",
            "span_delimiters",
        },
    )
    text = _required_str(body, "input")
    num_hypos = _int(body, "num_hypos", 1) or 1
    if num_hypos > MAX_HYPOS:
        raise _bad("num_hypos", f"must be at most {MAX_HYPOS}")
    min_tokens = _int(body, "min_tokens", 1)
    max_tokens = _int(body, "max_tokens", 1)
    if max_tokens is not None and max_tokens > MAX_TOKENS:
        raise _bad("max_tokens", f"must be at most {MAX_TOKENS}")
    low = min_tokens or 1
    high = max_tokens if max_tokens is not None else max(low, 16)
    if low > high:
        raise _bad("min_tokens", "must not exceed max_tokens")
    prefix_only = body.get("prefix_tokens_only")
    if prefix_only is not None and not isinstance(prefix_only, bool):
        raise _bad("prefix_tokens_only", "must be true or false")
    delimiters = body.get("span_delimiters")
    if delimiters is None:
        delimiters = []
    elif isinstance(delimiters, str):  # the 2023 SDK sends one string
        delimiters = [delimiters]
    if not isinstance(delimiters, list) or not all(isinstance(item, str) for item in delimiters):
        raise _bad("span_delimiters", "must be a string or a list of strings")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad("seed", "must be an integer")
    return Generation(
        input=text,
        num_hypos=num_hypos,
        min_tokens=low,
        max_tokens=high,
        temperature=_number(body, "temperature", 0.0),
        top_k=_int(body, "top_k", 0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        seed=seed,
        prefix_tokens_only=bool(prefix_only),
        span_delimiters=tuple(delimiters),
    )
