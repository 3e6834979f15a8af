"""Classify, generate and their batches through the hook; HTTP mocked by ``responses``."""

from __future__ import annotations

import json
import threading

import pytest
import responses
from support.fakes import API, MODEL_ID

from airflow_provider_ttm.api.inference import GenerationOptions
from airflow_provider_ttm.exceptions import TuneTheModelBatchItemError, TuneTheModelMalformedResponseError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

CLASSIFY = f"{API}/v0/models/{MODEL_ID}/classify"
GENERATE = f"{API}/v0/models/{MODEL_ID}/generate"


def _scores_for(text: str) -> list[float]:
    """Scores that encode the input, so a result can be matched to its input."""
    return [float(len(text)), 0.5, 0.25]


def _classify_reply(request) -> tuple[int, dict, str]:
    text = json.loads(request.body)["input"]
    return 200, {}, json.dumps({"answer": {"scores": _scores_for(text)}})


@pytest.fixture
def hook(mocked_conn) -> TuneTheModelHook:
    """Five attempts per request (the default): each batch's ``retries`` caps an input's below that."""
    return TuneTheModelHook(ttm_conn_id=mocked_conn(max_attempts=5))


def test_classify_and_generate_one_input(hook, http) -> None:
    http.add_callback(responses.POST, CLASSIFY, callback=_classify_reply)
    http.post(GENERATE, json={"answer": {"responses": [{"response": "one"}, {"response": "two"}]}})

    assert hook.classify(MODEL_ID, "abc") == [3.0, 0.5, 0.25]
    assert hook.generate(MODEL_ID, "abc", GenerationOptions(num_hypos=2, seed=1)) == ["one", "two"]
    assert json.loads(http.calls[-1].request.body) == {"input": "abc", "num_hypos": 2, "seed": 1}


def test_public_models_are_listed(hook, http) -> None:
    http.get(
        f"{API}/v0/public-models",
        json={"models": [{"model_name": "9323f9dbc976ea5dc6c8272eb90742f9", "status": "Ready"}]},
    )

    assert [m.model_name for m in hook.list_public_models()] == ["9323f9dbc976ea5dc6c8272eb90742f9"]


def test_a_batch_keeps_the_input_order(hook, http) -> None:
    http.add_callback(responses.POST, CLASSIFY, callback=_classify_reply)
    texts = ["x" * n for n in range(1, 30)]

    scores = hook.classify_batch(MODEL_ID, texts, max_concurrency=5)

    assert scores == [_scores_for(text) for text in texts]


def test_a_batch_runs_exactly_max_concurrency_requests_at_once(hook, http) -> None:
    concurrency = 3
    barrier = threading.Barrier(concurrency, timeout=10)
    lock = threading.Lock()
    in_flight, most, threads = [0], [0], set()

    def reply(request):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            threads.add(threading.current_thread().name)
        try:
            barrier.wait()  # breaks (and fails the test) unless `concurrency` calls run together
            return _classify_reply(request)
        finally:
            with lock:
                in_flight[0] -= 1

    http.add_callback(responses.POST, CLASSIFY, callback=reply)

    scores = hook.classify_batch(MODEL_ID, [f"t{i}" for i in range(9)], max_concurrency=concurrency)

    assert len(scores) == 9
    assert most[0] == concurrency
    assert len(threads) == concurrency


def test_a_failed_item_is_retried(hook, http, waits) -> None:
    failures = {"bb": 1}

    def reply(request):
        text = json.loads(request.body)["input"]
        if failures.get(text):
            failures[text] -= 1
            return 503, {"Retry-After": "4"}, json.dumps({"detail": "busy"})
        return _classify_reply(request)

    http.add_callback(responses.POST, CLASSIFY, callback=reply)

    scores = hook.classify_batch(MODEL_ID, ["a", "bb", "ccc"], max_concurrency=2, retries=2)

    assert scores == [_scores_for("a"), _scores_for("bb"), _scores_for("ccc")]
    assert waits == [4.0]
    assert len(http.calls) == 4


def test_a_final_failure_names_the_item_and_stops_the_batch(hook, http, waits) -> None:
    def reply(request):
        text = json.loads(request.body)["input"]
        return (500, {}, "{}") if text == "the bad one" else _classify_reply(request)

    http.add_callback(responses.POST, CLASSIFY, callback=reply)
    texts = ["ok 0", "the bad one"] + [f"ok {i}" for i in range(2, 50)]

    with pytest.raises(TuneTheModelBatchItemError) as error:
        hook.classify_batch(MODEL_ID, texts, max_concurrency=1, retries=2)

    assert error.value.index == 1
    assert str(error.value).startswith("Input 1 ('the bad one') failed after 3 attempts: ")
    assert "HTTP 500" in str(error.value)
    sent = [json.loads(call.request.body)["input"] for call in http.calls]
    assert sent == ["ok 0"] + ["the bad one"] * 3  # nothing after the failure was sent


def test_a_permanent_failure_is_not_retried(hook, http, waits) -> None:
    http.post(CLASSIFY, status=400, json={"detail": "Model is Training, not Ready"})

    with pytest.raises(TuneTheModelBatchItemError, match=r"Input 0 \('a'\) failed: .*not Ready"):
        hook.classify_batch(MODEL_ID, ["a"], retries=3)
    assert len(http.calls) == 1
    assert waits == []


def test_a_garbled_reply_is_retried(hook, http, waits) -> None:
    http.post(CLASSIFY, json={"answer": {}})
    http.post(CLASSIFY, json={"answer": {"scores": [0.8]}})

    assert hook.classify_batch(MODEL_ID, ["a"], retries=1) == [[0.8]]


@pytest.mark.parametrize("scores", [[0.36], [1], [0.83, 0.06, 0.11], [0.1, 0.2, 0.3, 0.4]])
def test_one_score_binary_or_one_per_class(hook, http, scores) -> None:
    http.post(CLASSIFY, json={"answer": {"scores": scores}})

    assert hook.classify(MODEL_ID, "a") == [float(score) for score in scores]


def test_two_scores_break_the_documented_contract_and_are_not_asked_again(hook, http, waits) -> None:
    http.post(CLASSIFY, json={"answer": {"scores": [0.3, 0.7]}})

    with pytest.raises(TuneTheModelBatchItemError, match="2 scores; a binary classifier answers one"):
        hook.classify_batch(MODEL_ID, ["a"], retries=3)
    assert len(http.calls) == 1
    assert waits == []


@pytest.mark.parametrize(
    "body",
    [
        '{"answer": {"scores": []}}',
        '{"answer": {"scores": [NaN]}}',
        '{"answer": {"scores": [0.1, Infinity, 0.2]}}',
        '{"answer": {"scores": [true]}}',
        '{"answer": {"scores": "0.5"}}',
    ],
)
def test_a_malformed_scores_reply_is_a_provider_error(hook, http, body) -> None:
    http.post(CLASSIFY, body=body, content_type="application/json")

    with pytest.raises(TuneTheModelMalformedResponseError):
        hook.classify(MODEL_ID, "a")


def test_inputs_are_checked_before_any_request(hook, http) -> None:
    with pytest.raises(ValueError, match="input must be text"):
        hook.classify_batch(MODEL_ID, ["a", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="input must be text"):
        hook.generate_batch(MODEL_ID, [3])  # type: ignore[list-item]
    assert len(http.calls) == 0


def test_an_empty_batch_sends_nothing(hook, http) -> None:
    assert hook.classify_batch(MODEL_ID, []) == []
    assert len(http.calls) == 0


def test_generate_batch_sends_the_options_with_every_input(hook, http) -> None:
    def reply(request):
        body = json.loads(request.body)
        return 200, {}, json.dumps({"answer": {"responses": [{"response": body["input"].upper()}]}})

    http.add_callback(responses.POST, GENERATE, callback=reply)
    options = GenerationOptions(max_tokens=8, temperature=0.5)

    assert hook.generate_batch(MODEL_ID, ["a", "b"], options, max_concurrency=2) == [["A"], ["B"]]
    bodies = [json.loads(call.request.body) for call in http.calls]
    assert all(body["max_tokens"] == 8 and body["temperature"] == 0.5 for body in bodies)


def test_the_reported_failure_is_a_real_one_not_an_item_stopped_because_of_it() -> None:
    from concurrent.futures import Future

    from airflow_provider_ttm.hooks.batch import _Cancelled, _first_failure

    stopped, failed, fine = Future(), Future(), Future()
    stopped.set_exception(_Cancelled())
    real = TuneTheModelBatchItemError("Input 1 failed", index=1)
    failed.set_exception(real)
    fine.set_result([0.5])

    assert _first_failure([stopped, failed, fine]) is real


def test_the_classify_operator_refuses_answers_of_one_model_with_different_score_counts(
    mocked_conn, http, context
) -> None:
    from airflow_provider_ttm.operators.inference import TuneTheModelClassifyOperator

    def reply(request):
        text = json.loads(request.body)["input"]
        scores = [0.4] if text == "binary?" else [0.1, 0.2, 0.7]
        return 200, {}, json.dumps({"answer": {"scores": scores}})

    http.add_callback(responses.POST, CLASSIFY, callback=reply)
    operator = TuneTheModelClassifyOperator(
        task_id="s", model_name=MODEL_ID, inputs=["binary?", "three", "more"], ttm_conn_id=mocked_conn()
    )

    with pytest.raises(TuneTheModelMalformedResponseError, match="input 0 got 1, input 1 got 3"):
        operator.execute(context)


@pytest.mark.parametrize(
    ("scores", "threshold", "expected"),
    [
        ([0.360595703], 0.5, 0),  # the vendor quickstart's cyberbullying_tweets answer
        ([0.360595703], 0.36, 1),
        ([0.5], 0.5, 1),  # at the threshold is class 1
        ([0.0], 0.0, 1),
        ([1.0], 1.0, 1),
        ([0.999], 1.0, 0),
        ([0.831054688, 0.0625, 0.106445312], 0.5, 0),  # financial_sentiment
        ([0.1, 0.2, 0.7], 0.99, 2),  # k >= 3: the threshold does not apply
        ([0.4, 0.4, 0.2], 0.5, 0),  # first on a tie
    ],
)
def test_predicted_class(scores, threshold, expected) -> None:
    from airflow_provider_ttm.api.inference import predicted_class, predicted_classes

    assert predicted_class(scores, threshold) == expected
    assert predicted_classes([scores, scores], threshold) == [expected, expected]
