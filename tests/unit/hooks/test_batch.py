"""A batch tries each input at most ``max_attempts`` times in all, whatever layer retries it.

Against the emulator, which counts every request it receives: one input of a batch against a
service that keeps failing (503, 429, a dropped connection) reaches it exactly ``max_attempts``
times, the batch's own ``retries`` only lowering that, and N inputs at most N times that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from support.faults import RETRYABLE_FAULTS

from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

PUBLIC_CLASSIFIER = "9323f9dbc976ea5dc6c8272eb90742f9"
PUBLIC_GENERATOR = "f9cab2f96d9e65a125264702489cad7a"
CLASSIFY = "POST /v0/models/{id}/classify"
GENERATE = "POST /v0/models/{id}/generate"


def _classify(hook: TuneTheModelHook, texts: list[str], **kwargs: Any) -> list[Any]:
    return hook.classify_batch(PUBLIC_CLASSIFIER, texts, **kwargs)


def _generate(hook: TuneTheModelHook, texts: list[str], **kwargs: Any) -> list[Any]:
    return hook.generate_batch(PUBLIC_GENERATOR, texts, **kwargs)


BATCHES = [pytest.param(_classify, CLASSIFY, id="classify"), pytest.param(_generate, GENERATE, id="generate")]


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
@pytest.mark.parametrize(("batch", "route"), BATCHES)
def test_one_failing_input_is_sent_max_attempts_times(
    ttm_emulator, attempts_conn: Callable[[int], str], batch: Callable[..., Any], route: str, fault: dict
) -> None:
    hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    ttm_emulator.control.add_fault(route=route, **fault)

    with pytest.raises(TuneTheModelBatchItemError, match=r"Input 0 \('one input'\) failed after 3 attempts"):
        batch(hook, ["one input"], max_concurrency=1)

    assert ttm_emulator.control.count(route) == 3


@pytest.mark.parametrize(("retries", "sent"), [(0, 1), (1, 2), (2, 3), (4, 5), (10, 5), (1000, 5)])
@pytest.mark.parametrize(("batch", "route"), BATCHES)
def test_the_batchs_retries_cap_an_input_within_max_attempts(
    ttm_emulator,
    attempts_conn: Callable[[int], str],
    batch: Callable[..., Any],
    route: str,
    retries: int,
    sent: int,
) -> None:
    """The issue's example: ``max_attempts`` 5 and the default ``retries=2`` once sent 15 requests."""
    hook = TuneTheModelHook(ttm_conn_id=attempts_conn(5))
    ttm_emulator.control.add_fault(route=route, kind="error", status=503)

    with pytest.raises(TuneTheModelBatchItemError):
        batch(hook, ["one input"], max_concurrency=1, retries=retries)

    assert ttm_emulator.control.count(route) == sent


@pytest.mark.parametrize(("batch", "route"), BATCHES)
def test_a_passing_fault_costs_only_the_attempts_it_needs(
    ttm_emulator, attempts_conn: Callable[[int], str], batch: Callable[..., Any], route: str
) -> None:
    """The first input fails twice and succeeds on its last allowed attempt; the others at once."""
    texts = [f"input {i}" for i in range(8)]
    hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    ttm_emulator.control.add_fault(route=route, kind="error", status=503, times=2)

    results = batch(hook, texts, max_concurrency=1, retries=5)

    assert len(results) == len(texts)
    assert ttm_emulator.control.count(route) == len(texts) + 2


@pytest.mark.parametrize("probability", [1.0, 0.3])
@pytest.mark.parametrize(("batch", "route"), BATCHES)
def test_a_batch_of_n_inputs_sends_at_most_n_times_max_attempts(
    ttm_emulator,
    attempts_conn: Callable[[int], str],
    batch: Callable[..., Any],
    route: str,
    probability: float,
) -> None:
    texts = [f"input {i}" for i in range(40)]
    hook = TuneTheModelHook(ttm_conn_id=attempts_conn(3))
    ttm_emulator.control.add_fault(route=route, kind="error", status=503, probability=probability)

    with contextlib.suppress(TuneTheModelBatchItemError):  # the count is what matters here
        batch(hook, texts, max_concurrency=8, retries=10)

    assert 3 <= ttm_emulator.control.count(route) <= 3 * len(texts)


@pytest.mark.parametrize("retries", [-1, 1.5, True, "two", None])
def test_a_bad_retries_is_refused_before_any_request(ttm_emulator, retries: Any) -> None:
    with pytest.raises(ValueError, match="retries must be a whole number of at least 0"):
        TuneTheModelHook().classify_batch(PUBLIC_CLASSIFIER, ["a"], retries=retries)
    assert ttm_emulator.control.count(CLASSIFY) == 0
