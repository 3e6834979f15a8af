"""Calling trained models: classify, generate, and the public models anyone may call (pure).

Inference changes nothing on the service, so its requests are marked idempotent: a lost or failed
call may be sent again.

A classifier of 2 classes answers ONE score, the probability of class 1; a classifier of k >= 3
classes answers k scores. ``predicted_class`` turns either into a class index.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import asdict, dataclass
from typing import Any, Final, TypeGuard

from airflow_provider_ttm.api.endpoints import (
    API_PREFIX,
    MAX_WHOLE_NUMBER,
    ApiRequest,
    model_path,
    read_integer,
    shown,
    whole_number,
)
from airflow_provider_ttm.api.parsing import malformed

#: The few-shot generator the service serves to every key without training (the SDK's ``generate()``).
DEFAULT_GENERATOR: Final = "default-generator"
#: A binary classifier's score at or above which the input is class 1.
DEFAULT_THRESHOLD: Final = 0.5

GENERATION_OPTIONS = (
    "num_hypos",
    "min_tokens",
    "max_tokens",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "prefix_tokens_only",
    "span_delimiters",
)


@dataclass(frozen=True)
class GenerationOptions:
    """The knobs of ``generate``; None leaves one to the service's default.

    :param num_hypos: how many responses to return per input, at least 1.
    :param min_tokens: the fewest tokens of a response, at least 1.
    :param max_tokens: the most tokens of a response, at least ``min_tokens``.
    :param temperature: sampling temperature, a number >= 0.
    :param top_k: sample among the ``top_k`` likeliest tokens (0: no limit).
    :param top_p: nucleus sampling threshold, from 0 to 1.
    :param seed: a whole number making sampling repeatable.
    :param prefix_tokens_only: restrict responses to tokens that can follow the input as a prefix.
    :param span_delimiters: strings that end a response span.
    """

    num_hypos: int | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    prefix_tokens_only: bool | None = None
    span_delimiters: tuple[str, ...] | None = None

    @classmethod
    def from_arguments(cls, **arguments: Any) -> GenerationOptions:
        """Validate the options (rendered template strings such as ``"3"`` are accepted).

        :raises ValueError: naming the option and what was expected.
        """
        unknown = sorted(set(arguments) - set(GENERATION_OPTIONS))
        if unknown:
            raise ValueError(
                f"Unknown generation option {unknown[0]!r}; known: {', '.join(GENERATION_OPTIONS)}."
            )
        value = {name: arguments.get(name) for name in GENERATION_OPTIONS}
        options = cls(
            num_hypos=_optional(value["num_hypos"], lambda v: whole_number("num_hypos", v, minimum=1)),
            min_tokens=_optional(value["min_tokens"], lambda v: whole_number("min_tokens", v, minimum=1)),
            max_tokens=_optional(value["max_tokens"], lambda v: whole_number("max_tokens", v, minimum=1)),
            temperature=_optional(value["temperature"], lambda v: _number("temperature", v, 0.0, None)),
            top_k=_optional(value["top_k"], lambda v: whole_number("top_k", v, minimum=0)),
            top_p=_optional(value["top_p"], lambda v: _number("top_p", v, 0.0, 1.0)),
            seed=_optional(value["seed"], _seed),
            prefix_tokens_only=_optional(value["prefix_tokens_only"], _flag),
            span_delimiters=_optional(value["span_delimiters"], _delimiters),
        )
        low, high = options.min_tokens, options.max_tokens
        if low is not None and high is not None and low > high:
            raise ValueError(
                f"min_tokens ({options.min_tokens}) must not exceed max_tokens ({options.max_tokens})."
            )
        return options

    def body(self) -> dict[str, Any]:
        """The options that are set, in the request's JSON form."""
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        if "span_delimiters" in fields:
            fields["span_delimiters"] = list(fields["span_delimiters"])
        return fields


def _optional(value: Any, check: Any) -> Any:
    return None if value is None else check(value)


def _number(param: str, value: object, low: float, high: float | None) -> float:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if not _is_finite_number(value):
        raise ValueError(f"{param} must be a number; got {shown(value)}.")
    if value < low or (high is not None and value > high):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise ValueError(f"{param} must be a number {bounds}; got {shown(value)}.")
    return float(value)


def _is_finite_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or float a float can hold: not a bool, NaN, an infinity, or an
    integer beyond the largest float (compared exactly, never converted, so never an OverflowError)."""
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max
    )


def _seed(value: object) -> int:
    value = read_integer(value, signed=True)
    if isinstance(value, bool) or not isinstance(value, int) or not abs(value) <= MAX_WHOLE_NUMBER:
        raise ValueError(
            f"seed must be a whole number from {-MAX_WHOLE_NUMBER} to {MAX_WHOLE_NUMBER}; got {shown(value)}."
        )
    return value


def _flag(value: object) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ValueError(f"prefix_tokens_only must be true or false; got {shown(value)}.")
    return value


def _delimiters(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) and item for item in items):
        raise ValueError(
            f"span_delimiters must be a string or a list of non-empty strings; got {shown(value)}."
        )
    return tuple(items)


def classify(model_name: str, text: str) -> ApiRequest:
    """``POST /v0/models/{model_name}/classify``: class scores for one input text."""
    return ApiRequest("POST", model_path(model_name, "classify"), json={"input": _input(text)})


def generate(model_name: str, text: str, options: GenerationOptions | None = None) -> ApiRequest:
    """``POST /v0/models/{model_name}/generate``: responses for one input text.

    :param model_name: the generator's id.
    :param text: the input text.
    :param options: the generation knobs; unset ones are left to the service.
    """
    body = {"input": _input(text), **(options or GenerationOptions()).body()}
    return ApiRequest("POST", model_path(model_name, "generate"), json=body)


def list_public_models() -> ApiRequest:
    """``GET /v0/public-models``: the ready-made models anyone may call."""
    return ApiRequest("GET", f"{API_PREFIX}/public-models")


def _input(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"input must be text; got {type(text).__name__}.")
    return text


def parse_scores(payload: object) -> list[float]:
    """The scores of a classify reply ``{"answer": {"scores": [...]}}``: one (binary) or one per class.

    :raises TuneTheModelMalformedResponseError: unless they are 1 or at least 3 finite numbers.
    """
    scores = _answer(payload).get("scores")
    if (
        not isinstance(scores, list)
        or not scores
        or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores)
    ):
        raise malformed("classify reply has no 'scores' list of numbers")
    if len(scores) == 2:  # the same every time: not worth asking again
        raise malformed(
            "classify reply has 2 scores; a binary classifier answers one (the probability of class 1)",
            retryable=False,
        )
    if not all(_is_finite_number(score) for score in scores):
        raise malformed("classify reply has a score that is not a finite number")
    return [float(score) for score in scores]


def parse_responses(payload: object) -> list[str]:
    """The texts of a generate reply ``{"answer": {"responses": [{"response": "..."}, ...]}}``."""
    responses = _answer(payload).get("responses")
    if not isinstance(responses, list):
        raise malformed("generate reply has no 'responses' list")
    texts = []
    for item in responses:
        text = item.get("response") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise malformed("generate reply has a response without a 'response' string")
        texts.append(text)
    return texts


def validate_threshold(value: object) -> float:
    """Return a binary classifier's decision threshold, a number from 0 to 1 (``"0.7"`` is accepted).

    :raises ValueError: naming ``threshold`` and what was expected.
    """
    try:
        return _number("threshold", value, 0.0, 1.0)
    except ValueError:
        raise ValueError(
            "threshold must be a number from 0 to 1 (a binary classifier's score at or above which "
            f"an input is class 1); got {shown(value)}."
        ) from None


def predicted_class(scores: list[float], threshold: float = DEFAULT_THRESHOLD) -> int:
    """The class of one classify answer (as ``parse_scores`` returns it).

    :param scores: one score, a binary classifier's probability of class 1; or k >= 3 class scores.
    :param threshold: one score at or above it is class 1, below it class 0; k scores ignore it and
        give the index of the highest (the first one on a tie).
    """
    if len(scores) == 1:
        return int(scores[0] >= threshold)
    return max(range(len(scores)), key=scores.__getitem__)


def predicted_classes(batch: list[list[float]], threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """The class of every answer of one model, which must all have the same number of scores.

    :param batch: the scores of each input, in order.
    :param threshold: the binary decision threshold (see ``predicted_class``).
    :raises TuneTheModelMalformedResponseError: when the answers disagree on the number of scores.
    """
    counts = {len(scores) for scores in batch}
    if len(counts) > 1:
        first = next(i for i, scores in enumerate(batch) if len(scores) != len(batch[0]))
        raise malformed(
            f"classify replies of one model disagree on the number of scores: input 0 got "
            f"{len(batch[0])}, input {first} got {len(batch[first])}",
            retryable=False,
        )
    return [predicted_class(scores, threshold) for scores in batch]


def _answer(payload: object) -> dict[str, Any]:
    answer = payload.get("answer") if isinstance(payload, dict) else None
    if not isinstance(answer, dict):
        raise malformed("expected an object with an 'answer' object")
    return answer
