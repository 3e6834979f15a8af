"""TuneTheModelCleanupOperator against the emulator: it deletes exactly the expired models, nothing else."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import responses
from support.fakes import API, FakeTaskInstance

from airflow_provider_ttm.api.statuses import ModelStatus
from airflow_provider_ttm.emulator import ManualClock
from airflow_provider_ttm.exceptions import TuneTheModelServerError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.base import default_model_name
from airflow_provider_ttm.operators.cleanup import (
    DEFAULT_STATUSES,
    DELETED_BEFORE_FAILURE,
    TuneTheModelCleanupOperator,
    is_default_model_name,
)

DAY = 24 * 3600.0
DELETE_ROUTE = "DELETE /v0/models/{id}/delete"
MAX_AGE = timedelta(days=7)
STATUSES = [status.value for status in ModelStatus]


class Ages:
    """Makes models of a given age on the emulator: its clock starts 60 days ago and only moves on."""

    def __init__(self, clock: ManualClock, hook: TuneTheModelHook, control: Any) -> None:
        self.clock, self.hook, self.control = clock, hook, control

    def model(self, name: str, *, days_ago: float, status: str | None = None) -> str:
        """Create ``name`` (a classifier) last updated ``days_ago`` days ago, in ``status``; its id."""
        self.clock.advance(time.time() - days_ago * DAY - self.clock())
        model_name = self.hook.create_model("classifier", name=name, num_classes=2).model_name
        if status is not None:
            self.control.force_status(model_name, status)
        return model_name

    def live(self) -> set[str]:
        """The ids of the models still on the emulator."""
        return {model["model_name"] for model in self.control.models()}


@pytest.fixture
def ages(ttm_emulator) -> Ages:
    clock = ManualClock(start=time.time() - 60 * DAY)
    ttm_emulator.control.configure(clock=clock)
    return Ages(clock, TuneTheModelHook(), ttm_emulator.control)


def _name(task_id: str, run_id: str = "scheduled__2026-10-01T02:00:00+00:00", map_index: int = -1) -> str:
    ti = FakeTaskInstance(dag_id="nightly", task_id=task_id, run_id=run_id, map_index=map_index)
    return default_model_name({"ti": ti})  # type: ignore[typeddict-item]


def _ids(result: list[dict[str, Any]]) -> list[str]:
    return [model["model_name"] for model in result]


@pytest.mark.parametrize(
    "run_id",
    [
        "manual__2026-11-26T00:00:00+00:00",
        "scheduled__2026-11-26T02:00:00+00:00",
        "backfill__2026-11-26T02:00:00+00:00",
        "asset_triggered__2026-11-26T02:00:00.123456+00:00_Ab3dEf9h",
        "dataset_triggered__2026-11-26T02:00:00+00:00",
        "operator_triggered__2026-11-26T02:00:00+00:00",
    ],
)
def test_default_names_of_airflow_run_ids_are_recognised(run_id) -> None:
    assert is_default_model_name(_name("create", run_id))
    assert is_default_model_name(_name("group.create", run_id, map_index=3))
    assert is_default_model_name(_name("c" * 150, run_id))  # cut to 200 characters, in the run id
    assert not is_default_model_name(_name("c" * 200, run_id))  # cut before the run id: unknown


@pytest.mark.parametrize(
    "name",
    [
        None,
        "tweets",
        "my-shiny-classifier",
        "nightly.create.my_own_run",  # a run id given by hand: not known to be the provider's
        "create.manual__2026-11-26T00:00:00+00:00",  # no dag id
        "nightly..manual__2026-11-26T00:00:00+00:00",
        "a b.create.manual__2026-11-26T00:00:00+00:00",
    ],
)
def test_other_names_are_not_default_names(name) -> None:
    assert not is_default_model_name(name)


def test_deletes_only_old_models_with_default_names(ages, ttm_emulator, context) -> None:
    old = ages.model(_name("create"), days_ago=30)
    user_named = ages.model("tweets", days_ago=30)
    hand_run = ages.model("nightly.create.my_own_run", days_ago=30)
    old_mapped = ages.model(_name("create", map_index=2), days_ago=10)
    young = ages.model(_name("create", "manual__2026-11-30T00:00:00+00:00"), days_ago=6)

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE).execute(context)

    assert _ids(result) == [old, old_mapped]  # oldest first
    assert ages.live() == {user_named, hand_run, young}
    assert ttm_emulator.control.count(DELETE_ROUTE) == 2
    assert [round(model["age_seconds"] / DAY) for model in result] == [30, 10]
    assert result[0]["user_name"] == _name("create")


def test_name_prefix_replaces_the_default_names(ages, context) -> None:
    mine = ages.model("churn-v1", days_ago=30)
    default = ages.model(_name("create"), days_ago=30)
    other = ages.model("xchurn", days_ago=30)
    mine_young = ages.model("churn-v2", days_ago=1)

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE, name_prefix="churn-").execute(
        context
    )

    assert _ids(result) == [mine]
    assert ages.live() == {mine_young, default, other}


def test_age_is_measured_from_last_updated_time(ages, context) -> None:
    created_long_ago = ages.model(_name("a"), days_ago=30)
    trained_lately = ages.model(_name("b"), days_ago=30)
    ages.clock.advance(time.time() - 2 * DAY - ages.clock())
    ages.control.force_status(trained_lately, "Ready")  # the service changed it two days ago

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=timedelta(days=3)).execute(context)

    assert _ids(result) == [created_long_ago]
    assert ages.live() == {trained_lately}


def test_max_age_in_seconds(ages, context) -> None:
    two_hours = ages.model(_name("a"), days_ago=2 / 24)
    half_hour = ages.model(_name("b"), days_ago=0.5 / 24)

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=3600).execute(context)

    assert _ids(result) == [two_hours]
    assert ages.live() == {half_hour}


def test_by_default_models_in_training_are_kept(ages, context) -> None:
    by_status = {status: ages.model(_name(status), days_ago=30, status=status) for status in STATUSES}

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE).execute(context)

    training = {"TrainRequested", "InQueue", "Training"}
    assert set(DEFAULT_STATUSES) == set(STATUSES) - training
    assert set(_ids(result)) == {by_status[status] for status in DEFAULT_STATUSES}
    assert ages.live() == {by_status[status] for status in training}


def test_statuses_narrow_the_selection(ages, context) -> None:
    failed = ages.model(_name("a"), days_ago=30, status="FitFailed")
    ready = ages.model(_name("b"), days_ago=30, status="Ready")
    stuck = ages.model(_name("c"), days_ago=30, status="Training")

    result = TuneTheModelCleanupOperator(
        task_id="clean", max_age=MAX_AGE, statuses=["fitfailed", "TRAINING"]
    ).execute(context)

    assert set(_ids(result)) == {failed, stuck}
    assert ages.live() == {ready}


def test_protected_ids_are_never_deleted(ages, context) -> None:
    champion = ages.model(_name("a"), days_ago=30, status="Ready")
    runner_up = ages.model(_name("b"), days_ago=30, status="Ready")
    loser = ages.model(_name("c"), days_ago=30, status="Ready")

    as_list = TuneTheModelCleanupOperator(
        task_id="clean", max_age=MAX_AGE, protected_model_ids=[champion, " ", runner_up], dry_run=True
    ).execute(context)
    as_string = TuneTheModelCleanupOperator(
        task_id="clean", max_age=MAX_AGE, protected_model_ids=champion
    ).execute(context)

    assert _ids(as_list) == [loser]
    assert set(_ids(as_string)) == {runner_up, loser}
    assert ages.live() == {champion}


def test_protected_ids_are_rendered_from_templates(ages, ttm_emulator) -> None:
    champion = ages.model(_name("a"), days_ago=30, status="Ready")
    loser = ages.model(_name("b"), days_ago=30, status="Ready")
    task = TuneTheModelCleanupOperator(
        task_id="clean", max_age=MAX_AGE, protected_model_ids=["{{ champion }}", "{{ unset }}"]
    )
    context: Any = {"ti": FakeTaskInstance(), "champion": champion, "unset": ""}

    task.render_template_fields(context)
    result = task.execute(context)

    assert task.protected_model_ids == [champion, ""]
    assert _ids(result) == [loser]
    assert ages.live() == {champion}


def test_dry_run_lists_what_a_run_deletes_and_deletes_nothing(ages, ttm_emulator, context, logs) -> None:
    old = ages.model(_name("a"), days_ago=30, status="Ready")
    failed = ages.model(_name("b"), days_ago=20, status="FitFailed")
    ages.model(_name("c"), days_ago=1)

    listed = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE, dry_run=True).execute(context)

    assert _ids(listed) == [old, failed]
    assert ttm_emulator.control.count(DELETE_ROUTE) == 0
    assert len(ages.live()) == 3
    assert any(f"Would delete model {old} ({_name('a')}), 30 days" in line for line in logs.messages())
    deleted = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE).execute(context)
    assert _ids(deleted) == _ids(listed)


def test_each_deletion_is_logged_with_id_name_age_and_status(ages, context, logs) -> None:
    old = ages.model(_name("a"), days_ago=30, status="FitFailed")
    ages.model("tweets", days_ago=30)
    ages.model(_name("b"), days_ago=30, status="Training")

    TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE).execute(context)

    lines = logs.messages()
    assert any(
        line.startswith(f"Deleted model {old} ({_name('a')}), 30 days, 0:00:") and line.endswith("FitFailed.")
        for line in lines
    ), lines
    summary = "Of 3 models, 2 have the default names: 1 unchanged for more than 7 days, to delete; kept 1 in status Training."
    assert summary in lines, lines


def test_a_failed_delete_stops_the_run_and_reports_what_was_deleted(
    ages, ttm_emulator, one_attempt_conn, context
) -> None:
    first = ages.model(_name("a"), days_ago=30)
    second = ages.model(_name("b"), days_ago=20)
    third = ages.model(_name("c"), days_ago=10)
    young = ages.model(_name("d"), days_ago=1)
    ttm_emulator.control.add_fault(kind="error", route=f"DELETE /v0/models/{second}/delete", times=1)
    task = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE, ttm_conn_id=one_attempt_conn)

    with pytest.raises(TuneTheModelServerError):
        task.execute(context)

    assert _ids(context["ti"].xcoms[DELETED_BEFORE_FAILURE]) == [first]
    assert ages.live() == {second, third, young}
    retried = task.execute({"ti": FakeTaskInstance()})
    assert _ids(retried) == [second, third]
    assert ages.live() == {young}


def test_a_model_already_gone_counts_as_deleted(ages, ttm_emulator, context, waits, logs) -> None:
    old = ages.model(_name("a"), days_ago=30)
    # The delete takes effect but its reply is lost; the hook's retry then finds the model gone.
    ttm_emulator.control.add_fault(kind="drop", route=f"DELETE /v0/models/{old}/delete", times=1, after=True)

    result = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE).execute(context)

    assert _ids(result) == [old]
    assert ttm_emulator.control.count(DELETE_ROUTE) == 2
    assert ages.live() == set()
    assert any("(it was already gone)" in line for line in logs.messages())


def test_public_models_and_models_without_a_time_are_never_deleted(http, context, mocked_conn) -> None:
    """The reference's list example shows public models among the key's own: they are kept."""
    own, public, timeless = "a" * 32, "9323f9dbc976ea5dc6c8272eb90742f9", "b" * 32
    entry = {"status": "Ready", "model_type": "classifier", "last_updated_time": "2022-05-07 20:58:10.8"}
    listed = [
        {**entry, "model_name": own, "user_name": "shared-own"},
        {**entry, "model_name": public, "user_name": "shared-public"},
        {**entry, "model_name": timeless, "user_name": "shared-timeless", "last_updated_time": None},
    ]
    http.get(f"{API}/v0/models", json={"models": listed})
    http.get(f"{API}/v0/public-models", json={"models": [listed[1]]})
    deleted = http.delete(f"{API}/v0/models/{own}/delete", json=listed[0])
    task = TuneTheModelCleanupOperator(
        task_id="clean", max_age=MAX_AGE, name_prefix="shared-", ttm_conn_id=mocked_conn()
    )

    assert _ids(task.execute(context)) == [own]
    assert deleted.call_count == 1
    assert [call.request.method for call in http.calls].count(responses.DELETE) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_age": 0}, "max_age must be a number of seconds"),
        ({"max_age": timedelta(days=-1)}, "max_age must be a number of seconds"),
        ({"max_age": "7 days"}, "max_age must be a number of seconds"),
        ({"max_age": None}, "max_age must be a number of seconds"),
        ({"name_prefix": ""}, "name_prefix must be a non-blank string"),
        ({"name_prefix": 3}, "name_prefix must be a non-blank string"),
        ({"statuses": "Ready"}, "statuses must be a list"),
        ({"statuses": []}, "statuses must hold at least one model status"),
        ({"statuses": ["Done"]}, "statuses must hold model statuses among"),
        ({"protected_model_ids": "../x"}, "protected_model_ids must be a model id"),
        ({"protected_model_ids": [1]}, "protected_model_ids must be a model id"),
        ({"protected_model_ids": {"a": 1}}, "protected_model_ids must be a list of model ids"),
        ({"dry_run": "false"}, "dry_run must be True or False"),
        ({"ttm_conn_id": " "}, "ttm_conn_id must be a non-blank string"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(ttm_emulator, refusal, kwargs, message) -> None:
    (named,) = kwargs
    refusal(TuneTheModelCleanupOperator, {"max_age": MAX_AGE, **kwargs}, named, message)
    assert ttm_emulator.control.counters() == {}


@pytest.mark.parametrize(
    ("field", "rendered", "message"),
    [
        ("protected_model_ids", ["{{ x }}"], "protected_model_ids must be a model id"),
        ("protected_model_ids", "{{ x }}", "protected_model_ids must be a model id"),
        ("statuses", ["{{ x }}"], "statuses must hold model statuses among"),
        ("name_prefix", "{{ x }}", "name_prefix must be a non-blank string"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(ages, ttm_emulator, field, rendered, message) -> None:
    ages.model(_name("a"), days_ago=30)
    before = ttm_emulator.control.counters()
    task = TuneTheModelCleanupOperator(task_id="clean", max_age=MAX_AGE, **{field: rendered})
    context: Any = {"ti": FakeTaskInstance(), "x": "../x" if field != "name_prefix" else " "}

    task.render_template_fields(context)
    with pytest.raises(ValueError, match=message):
        task.execute(context)

    assert ttm_emulator.control.counters() == before
    assert len(ages.live()) == 1
