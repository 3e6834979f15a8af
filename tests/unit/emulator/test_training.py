"""Bind, fit, the status life cycle (on a hand-driven clock), auto-training, classify and generate."""

from __future__ import annotations

import math

import pytest
from support.emulator_client import FILE_SECONDS, TRAIN_SECONDS, classifier_dataset

from airflow_provider_ttm.emulator.records import format_time


def test_the_whole_life_cycle(api, clock):
    model_id = api.create_model()["model_name"]
    files = [api.uploaded_file(), api.uploaded_file()]
    clock.advance(FILE_SECONDS)

    bound = api.ok(
        "POST", f"/v0/models/{model_id}/bind", json={"train_file": files[0], "validate_file": files[1]}
    )
    assert bound["status"] == "DatasetsLoaded"
    fit_at = clock()
    assert api.ok("POST", f"/v0/models/{model_id}/fit")["status"] == "TrainRequested"

    seen = []
    for fraction in (0.05, 0.2, 0.5, 0.99, 1.01, 3.0):
        clock.advance(fit_at + fraction * TRAIN_SECONDS - clock())
        seen.append(api.status(model_id))

    assert seen == ["TrainRequested", "InQueue", "Training", "Training", "Ready", "Ready"]
    ready = api.ok("GET", f"/v0/models/{model_id}/status")
    assert ready["last_updated_time"] == format_time(fit_at + TRAIN_SECONDS)


def test_a_created_model_stays_created(api, clock):
    model_id = api.create_model()["model_name"]

    clock.advance(10 * 24 * 3600)

    assert api.status(model_id) == "Created"


def test_auto_train_makes_a_bare_model_ready_by_itself(api, server, clock):
    server.control.configure(auto_train_seconds=100.0)
    model_id = api.create_model()["model_name"]

    seen = []
    for _ in range(11):
        seen.append(api.status(model_id))
        clock.advance(10.0)

    assert seen[0] == "Created"
    assert seen[-1] == "Ready"
    assert {"TrainRequested", "InQueue", "Training"} <= set(seen)
    assert api.ok("POST", f"/v0/models/{model_id}/classify", json={"input": "x"})["answer"]["scores"]


def test_auto_training_fails_at_the_fit_failure_rate(api, server, clock):
    server.control.configure(auto_train_seconds=1.0, fit_failure_rate=1.0)
    model_id = api.create_model()["model_name"]

    clock.advance(0.5)
    assert api.status(model_id) == "Training"
    clock.advance(0.5)
    assert api.status(model_id) == "FitFailed"


def test_fit_needs_bound_datasets(api):
    model_id = api.create_model()["model_name"]

    response = api.post(f"/v0/models/{model_id}/fit")

    assert response.status_code == 400
    assert "Created" in response.json()["detail"]
    assert "DatasetsLoaded" in response.json()["detail"]


def test_fit_and_bind_are_refused_while_training(api, clock):
    model_id = api.bound_model(clock)
    api.ok("POST", f"/v0/models/{model_id}/fit")
    clock.advance(TRAIN_SECONDS / 2)
    files = [api.uploaded_file(), api.uploaded_file()]
    clock.advance(FILE_SECONDS / 10)

    refit = api.post(f"/v0/models/{model_id}/fit")
    rebind = api.post(f"/v0/models/{model_id}/bind", json={"train_file": files[0], "validate_file": files[1]})

    assert refit.status_code == rebind.status_code == 400
    assert "Training" in refit.json()["detail"]
    assert "Training" in rebind.json()["detail"]


@pytest.mark.parametrize(
    "problem", ["not uploaded", "failed", "wrong type", "unknown", "other key", "class range", "missing"]
)
def test_bind_checks_the_files(api, other_api, clock, problem):
    model_id = api.create_model(model_params={"num_classes": 3})["model_name"]
    good = api.uploaded_file()
    clock.advance(FILE_SECONDS)
    if problem == "not uploaded":
        bad = api.ok("POST", "/v0/files", json={"name": "x.json", "task_type": "classifier"})["id"]
    elif problem == "failed":
        bad = api.uploaded_file(dataset={"inputs": ["too few"], "classes": [0]})
    elif problem == "wrong type":
        bad = api.uploaded_file("generator")
    elif problem == "unknown":
        bad = "f" * 32
    elif problem == "other key":
        bad = other_api.uploaded_file()
    elif problem == "class range":
        bad = api.uploaded_file(dataset=classifier_dataset(num_classes=4))
    else:
        bad = None
    clock.advance(FILE_SECONDS)

    response = api.post(f"/v0/models/{model_id}/bind", json={"train_file": good, "validate_file": bad})

    assert response.status_code == 400
    assert "validate_file" in response.json()["detail"]
    assert api.status(model_id) == "Created"


def test_a_failed_fit_can_be_bound_and_fit_again(api, server, clock):
    server.control.configure(fit_failure_rate=1.0)
    model_id = api.trained_model(clock)
    assert api.status(model_id) == "FitFailed"

    server.control.configure(fit_failure_rate=0.0)
    files = [api.uploaded_file(), api.uploaded_file()]
    clock.advance(FILE_SECONDS)
    api.ok("POST", f"/v0/models/{model_id}/bind", json={"train_file": files[0], "validate_file": files[1]})
    api.ok("POST", f"/v0/models/{model_id}/fit")
    clock.advance(TRAIN_SECONDS)

    assert api.status(model_id) == "Ready"


def test_fit_failures_follow_the_seeded_rate(api, server, clock):
    def outcomes():
        server.control.configure(clock=clock, fit_failure_rate=0.5)
        return [api.status(api.trained_model(clock)) for _ in range(12)]

    first = outcomes()
    server.control.reset()
    second = outcomes()

    assert first == second
    assert set(first) == {"Ready", "FitFailed"}


def test_a_training_keeps_the_duration_it_started_with(api, server, clock):
    model_id = api.bound_model(clock)
    api.ok("POST", f"/v0/models/{model_id}/fit")

    server.control.configure(train_seconds=1000.0)
    clock.advance(TRAIN_SECONDS)

    assert api.status(model_id) == "Ready"


def test_forcing_a_status_cancels_the_training(api, server, clock):
    model_id = api.bound_model(clock)
    api.ok("POST", f"/v0/models/{model_id}/fit")

    forced = server.control.force_status(model_id, "FitFailed")
    clock.advance(TRAIN_SECONDS * 2)

    assert forced["status"] == "FitFailed"
    assert api.status(model_id) == "FitFailed"


def test_ready_to_fit_can_be_fit(api, server, clock):
    model_id = api.create_model()["model_name"]
    server.control.force_status(model_id, "ReadyToFit")

    assert api.ok("POST", f"/v0/models/{model_id}/fit")["status"] == "TrainRequested"


def test_classify_is_deterministic_and_sums_to_one(api, clock):
    model_id = api.trained_model(clock)

    def scores(text):
        return api.ok("POST", f"/v0/models/{model_id}/classify", json={"input": text})["answer"]["scores"]

    first = scores("you are great")

    assert len(first) == 3
    assert all(isinstance(score, float) and 0 < score < 1 for score in first)
    assert math.isclose(sum(first), 1.0, abs_tol=1e-9)
    assert scores("you are great") == first
    assert scores("something else") != first


@pytest.mark.parametrize(
    ("setup", "body", "message"),
    [
        ("created", {"input": "x"}, "Created"),
        ("generator", {"input": "x"}, "generator"),
        ("ready", {}, "input"),
        ("ready", {"input": 3}, "input"),
        ("ready", {"input": "x", "top_k": 3}, "top_k"),
    ],
)
def test_classify_refusals(api, clock, setup, body, message):
    if setup == "created":
        model_id = api.create_model()["model_name"]
    else:
        model_id = api.trained_model(clock, "generator" if setup == "generator" else "classifier")

    response = api.post(f"/v0/models/{model_id}/classify", json=body)

    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_generate_is_deterministic_for_a_seed(api, clock):
    model_id = api.trained_model(clock, "generator")

    def responses(**knobs):
        body = {"input": "Once upon a time", **knobs}
        answer = api.ok("POST", f"/v0/models/{model_id}/generate", json=body)["answer"]
        return [hypo["response"] for hypo in answer["responses"]]

    first = responses(seed=7, num_hypos=3, min_tokens=2, max_tokens=5, temperature=0.7, top_k=40, top_p=0.9)

    assert len(first) == 3
    assert all(isinstance(text, str) and 2 <= len(text.split()) <= 5 for text in first)
    assert (
        responses(seed=7, num_hypos=3, min_tokens=2, max_tokens=5, temperature=0.7, top_k=40, top_p=0.9)
        == first
    )
    assert (
        responses(seed=8, num_hypos=3, min_tokens=2, max_tokens=5, temperature=0.7, top_k=40, top_p=0.9)
        != first
    )
    assert len(responses()) == 1
    assert responses(span_delimiters=["<", ">"], prefix_tokens_only=True, seed=1)
    assert responses(span_delimiters="|", seed=1) != responses(seed=1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "x", "num_hypos": 0}, "num_hypos"),
        ({"input": "x", "num_hypos": 100}, "num_hypos"),
        ({"input": "x", "top_p": 2}, "top_p"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": "x", "min_tokens": 9, "max_tokens": 3}, "min_tokens"),
        ({"input": "x", "max_tokens": 10**6}, "max_tokens"),
        ({"input": "x", "seed": "7"}, "seed"),
        ({"input": "x", "prefix_tokens_only": "yes"}, "prefix_tokens_only"),
        ({"input": "x", "span_delimiters": [1]}, "span_delimiters"),
        ({"prompt": "x"}, "prompt"),
    ],
)
def test_bad_generate_bodies_are_400(api, clock, body, field):
    model_id = api.trained_model(clock, "generator")

    response = api.post(f"/v0/models/{model_id}/generate", json=body)

    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_generate_refuses_a_classifier(api, clock):
    model_id = api.trained_model(clock)

    response = api.post(f"/v0/models/{model_id}/generate", json={"input": "x"})

    assert response.status_code == 400
    assert "classifier" in response.json()["detail"]


def test_bind_body_is_validated(api):
    model_id = api.create_model()["model_name"]

    response = api.post(f"/v0/models/{model_id}/bind", json={"train_file": "a"})

    assert response.status_code == 400
    assert "validate_file" in response.json()["detail"]


def _bind(api, model_id, files):
    return api.ok(
        "POST", f"/v0/models/{model_id}/bind", json={"train_file": files[0], "validate_file": files[1]}
    )


@pytest.mark.parametrize("ready_first", [0, 1], ids=["both-loading", "one-ready"])
def test_a_bind_while_files_load_is_accepted_and_the_fit_waits_for_them(api, clock, ready_first):
    model_id = api.create_model()["model_name"]
    files = [api.uploaded_file() for _ in range(ready_first)]
    clock.advance(FILE_SECONDS * ready_first)
    files += [api.uploaded_file() for _ in range(2 - ready_first)]
    loaded_at = clock() + FILE_SECONDS
    assert api.ok("GET", f"/v0/files/{files[-1]}/status")["status"] == "FileLoading"

    assert _bind(api, model_id, files)["status"] == "DatasetsLoaded"
    assert api.ok("POST", f"/v0/models/{model_id}/fit")["status"] == "TrainRequested"

    seen = {}
    for moment in (0.5 * FILE_SECONDS, 0.99 * FILE_SECONDS, FILE_SECONDS + 0.5 * TRAIN_SECONDS):
        clock.advance(loaded_at - FILE_SECONDS + moment - clock())
        seen[moment] = api.status(model_id)
    clock.advance(loaded_at + TRAIN_SECONDS - clock() - 0.01)
    almost = api.status(model_id)
    clock.advance(0.01)

    assert list(seen.values()) == ["TrainRequested", "TrainRequested", "Training"]
    assert almost == "Training"  # the training's full length counts from when the files were ready
    assert api.ok("GET", f"/v0/models/{model_id}/status")["last_updated_time"] == format_time(
        loaded_at + TRAIN_SECONDS
    )
    assert api.status(model_id) == "Ready"


@pytest.mark.parametrize(
    ("bad_dataset", "reason"),
    [
        ({"inputs": ["too few"], "classes": [0]}, "has 1 rows"),
        ({"inputs": ["x"] * 32, "outputs": ["y"] * 32}, "outputs"),
        (classifier_dataset(num_classes=5), "class label 4 is out of range"),
    ],
    ids=["too-few-rows", "wrong-columns", "class-out-of-range"],
)
@pytest.mark.parametrize("fit_after_processing", [False, True], ids=["fit-at-once", "fit-later"])
def test_a_file_that_fails_processing_after_the_bind_makes_the_fit_fail(
    api, server, clock, bad_dataset, reason, fit_after_processing
):
    model_id = api.create_model(model_params={"num_classes": 3})["model_name"]
    files = [api.uploaded_file(), api.uploaded_file(dataset=bad_dataset)]
    assert _bind(api, model_id, files)["status"] == "DatasetsLoaded"
    if fit_after_processing:
        clock.advance(FILE_SECONDS)

    fit = api.ok("POST", f"/v0/models/{model_id}/fit")
    before = api.status(model_id)
    clock.advance(FILE_SECONDS)
    after = api.status(model_id)
    clock.advance(TRAIN_SECONDS)

    assert (fit["status"], before) == (
        ("FitFailed", "FitFailed") if fit_after_processing else ("TrainRequested", "TrainRequested")
    )
    assert after == "FitFailed"
    assert api.status(model_id) == "FitFailed"  # never Ready
    (model,) = server.control.models()
    assert model["dataset_failure"].startswith("validate_file: ")
    assert reason in model["dataset_failure"]


def test_a_model_failed_by_its_files_can_be_bound_again_and_trained(api, clock):
    model_id = api.create_model()["model_name"]
    _bind(api, model_id, [api.uploaded_file(), api.uploaded_file(dataset={"inputs": []})])
    api.ok("POST", f"/v0/models/{model_id}/fit")
    clock.advance(FILE_SECONDS)
    assert api.status(model_id) == "FitFailed"

    _bind(api, model_id, [api.uploaded_file(), api.uploaded_file()])
    api.ok("POST", f"/v0/models/{model_id}/fit")
    clock.advance(FILE_SECONDS + TRAIN_SECONDS)

    assert api.status(model_id) == "Ready"


@pytest.mark.parametrize(("num_classes", "count"), [(2, 1), (3, 3), (5, 5)])
def test_a_trained_classifier_answers_one_score_if_binary_else_one_per_class(api, clock, num_classes, count):
    model_id = api.create_model(model_params={"num_classes": num_classes})["model_name"]
    dataset = classifier_dataset(num_classes=num_classes)
    _bind(api, model_id, [api.uploaded_file(dataset=dataset), api.uploaded_file(dataset=dataset)])
    api.ok("POST", f"/v0/models/{model_id}/fit")
    clock.advance(FILE_SECONDS + TRAIN_SECONDS)

    answers = [
        api.ok("POST", f"/v0/models/{model_id}/classify", json={"input": f"text {i}"})["answer"]["scores"]
        for i in range(20)
    ]

    assert {len(scores) for scores in answers} == {count}
    assert all(0.0 < score < 1.0 for scores in answers for score in scores)
    if count > 1:
        assert all(math.isclose(sum(scores), 1.0, abs_tol=1e-9) for scores in answers)
    else:  # a probability of class 1 that varies with the input, on both sides of 0.5
        assert min(s[0] for s in answers) < 0.5 < max(s[0] for s in answers)
