"""Deterministic stand-ins for a trained model: same model, input (and seed) give the same answer."""

from __future__ import annotations

import math
import random
from typing import Final

from airflow_provider_ttm.emulator.payloads import Generation

_WORDS: Final = [
    "the",
    "model",
    "answers",
    "with",
    "plausible",
    "words",
    "drawn",
    "from",
    "a",
    "small",
    "fixed",
    "vocabulary",
    "so",
    "tests",
    "can",
    "rely",
    "on",
    "stable",
    "output",
    "while",
    "still",
    "seeing",
    "text",
    "that",
    "varies",
    "with",
    "the",
    "input",
    "the",
    "seed",
    "and",
    "the",
    "sampling",
    "knobs",
]


def classify(model_id: str, text: str, num_classes: int) -> list[float]:
    """
    Scores for ``text``, as the service answers: a binary classifier gives ONE score, the
    probability of class 1; a classifier of k >= 3 classes gives k positive floats summing to 1.
    """
    rng = random.Random(f"classify|{model_id}|{text}")
    logits = [rng.gauss(0.0, 1.5) for _ in range(num_classes)]
    top = max(logits)
    weights = [math.exp(logit - top) for logit in logits]
    total = sum(weights)
    probabilities = [weight / total for weight in weights]
    return probabilities[1:] if num_classes == 2 else probabilities


def generate(model_id: str, request: Generation, seed: int) -> list[str]:
    """``request.num_hypos`` continuations of ``request.input``, fixed by ``seed`` and the knobs."""
    knobs = (
        request.temperature,
        request.top_k,
        request.top_p,
        request.min_tokens,
        request.max_tokens,
        request.prefix_tokens_only,
        request.span_delimiters,
    )
    responses = []
    for hypo in range(request.num_hypos):
        rng = random.Random(f"generate|{model_id}|{request.input}|{seed}|{knobs}|{hypo}")
        length = rng.randint(request.min_tokens, request.max_tokens)
        responses.append(" ".join(rng.choice(_WORDS) for _ in range(length)))
    return responses
