"""Model records: both id/name spellings, checked ids, UTC timestamps, unknown fields kept, lists and filters."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_ttm.api.files import parse_file_list
from airflow_provider_ttm.api.records import (
    ModelIndex,
    ModelRecord,
    filter_models,
    parse_model,
    parse_model_list,
    parse_timestamp,
)
from airflow_provider_ttm.api.statuses import ModelStatus
from airflow_provider_ttm.exceptions import TuneTheModelMalformedResponseError

# The list reply of the API reference, verbatim.
REFERENCE_LIST = {
    "models": [
        {
            "status": "Ready",
            "model_name": "9323f9dbc976ea5dc6c8272eb90742f9",
            "model_type": "classifier",
            "user_name": "cyberbullying_tweets",
            "last_updated_time": "2022-05-07 20:58:10.878585",
        },
        {
            "status": "Ready",
            "model_name": "f9cab2f96d9e65a125264702489cad7a",
            "model_type": "generator",
            "user_name": "winemag-data",
            "last_updated_time": "2022-05-06 17:15:59.202724",
        },
    ]
}


def test_parse_model_reads_the_reference_reply(model_payload, model_id) -> None:
    record = parse_model(model_payload())

    assert record.model_name == model_id
    assert record.status == "Created"
    assert record.known_status is ModelStatus.CREATED
    assert record.user_name == "my-shiny-classifier"
    assert record.model_type == "classifier"
    assert record.model_params == {"num_classes": 3}
    assert record.extra == {}
    assert not record.is_ready
    assert not record.has_failed


def test_parse_model_reads_the_timestamp_as_utc(model_payload) -> None:
    record = parse_model(model_payload())

    assert record.last_updated_time == dt.datetime(2022, 6, 10, 17, 52, 35, 816190, tzinfo=dt.UTC)
    assert record.last_updated_time.utcoffset() == dt.timedelta(0)


def test_parse_model_accepts_the_sdk_spelling_model_id_and_name() -> None:
    record = parse_model({"model_id": "abc123", "name": "tweets", "status": "training"})

    assert record.model_name == "abc123"
    assert record.user_name == "tweets"
    assert record.known_status is ModelStatus.TRAINING
    assert record.extra == {}


def test_parse_model_prefers_the_reference_spelling_when_both_are_present() -> None:
    record = parse_model(
        {"model_name": "ref-id", "model_id": "sdk-id", "user_name": "ref", "name": "sdk", "status": "Ready"}
    )

    assert (record.model_name, record.user_name) == ("ref-id", "ref")


def test_parse_model_falls_back_to_model_id_when_model_name_is_empty() -> None:
    record = parse_model({"model_name": "", "model_id": "sdk-id", "status": "Ready"})

    assert record.model_name == "sdk-id"


def test_parse_model_keeps_unknown_fields_in_extra(model_payload) -> None:
    record = parse_model(model_payload(pretrained_model="base-1", train_iters=7, owner={"id": 1}))

    assert record.extra == {"pretrained_model": "base-1", "train_iters": 7, "owner": {"id": 1}}


@pytest.mark.parametrize(
    ("status", "ready", "failed"),
    [("ready", True, False), ("READY", True, False), ("fitfailed", False, True), ("Training", False, False)],
)
def test_record_status_properties_ignore_case(model_payload, status, ready, failed) -> None:
    record = parse_model(model_payload(status=status))

    assert record.is_ready is ready
    assert record.has_failed is failed
    assert record.status == status  # kept exactly as the service wrote it


def test_record_with_an_undocumented_status_is_kept_as_text(model_payload) -> None:
    record = parse_model(model_payload(status="Distilling"))

    assert record.status == "Distilling"
    assert record.known_status is None
    assert not record.is_ready
    assert not record.has_failed


def test_parse_model_ignores_wrongly_typed_optional_fields(model_payload) -> None:
    record = parse_model(
        model_payload(model_type=7, model_params=[3], user_name=None, last_updated_time=12345)
    )

    assert record.model_type is None
    assert record.model_params == {}
    assert record.user_name is None
    assert record.last_updated_time is None


def test_to_dict_uses_the_reference_keys_and_keeps_extra_fields(model_payload, model_id) -> None:
    record = parse_model(model_payload(train_iters=7))

    assert record.to_dict() == {
        "train_iters": 7,
        "model_name": model_id,
        "user_name": "my-shiny-classifier",
        "model_type": "classifier",
        "status": "Created",
        "model_params": {"num_classes": 3},
        "last_updated_time": "2022-06-10T17:52:35.816190+00:00",
    }


def test_to_dict_round_trips_through_parse_model(model_payload) -> None:
    record = parse_model(model_payload(extra_field="kept"))

    assert parse_model(record.to_dict()) == record


def test_to_dict_of_a_minimal_record_has_nulls_and_copies_params() -> None:
    record = ModelRecord(model_name="m1", status="Created")
    data = record.to_dict()

    assert data["last_updated_time"] is None
    assert data["user_name"] is None
    data["model_params"]["num_classes"] = 99
    assert record.model_params == {}


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (["not", "an", "object"], "expected a model object, got list"),
        (None, "expected a model object, got NoneType"),
        ("Ready", "expected a model object, got str"),
        ({"status": "Ready"}, "neither 'model_name' nor 'model_id'"),
        ({"model_name": "", "status": "Ready"}, "neither 'model_name' nor 'model_id'"),
        ({"model_name": 42, "status": "Ready"}, "neither 'model_name' nor 'model_id'"),
        ({"model_name": "m1"}, "model m1 has no 'status' string"),
        ({"model_name": "m1", "status": None}, "model m1 has no 'status' string"),
        ({"model_id": "m2", "status": 3}, "model m2 has no 'status' string"),
    ],
)
def test_parse_model_refuses_objects_without_id_or_status(payload, cause) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError) as raised:
        parse_model(payload)

    assert cause in str(raised.value)
    assert raised.value.status_code == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-05-07 20:58:10.878585", dt.datetime(2022, 5, 7, 20, 58, 10, 878585, tzinfo=dt.UTC)),
        ("  2022-05-07 20:58:10  ", dt.datetime(2022, 5, 7, 20, 58, 10, tzinfo=dt.UTC)),
        ("2022-05-07T20:58:10Z", dt.datetime(2022, 5, 7, 20, 58, 10, tzinfo=dt.UTC)),
        ("2022-05-07", dt.datetime(2022, 5, 7, tzinfo=dt.UTC)),
    ],
)
def test_parse_timestamp_reads_naive_times_as_utc(text: str, expected: dt.datetime) -> None:
    parsed = parse_timestamp(text)

    assert isinstance(parsed, dt.datetime)
    assert parsed == expected
    assert parsed.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("fraction", "microseconds"),
    [
        ("8", 800000),
        ("81", 810000),
        ("816", 816000),
        ("8161", 816100),
        ("81619", 816190),  # the reference's own example
        ("816190", 816190),
        ("000001", 1),
    ],
)
@pytest.mark.parametrize("separator", [" ", "T"])
def test_parse_timestamp_reads_one_to_six_fraction_digits(
    fraction: str, microseconds: int, separator: str
) -> None:
    parsed = parse_timestamp(f"2022-06-10{separator}17:52:35.{fraction}")

    assert parsed == dt.datetime(2022, 6, 10, 17, 52, 35, microseconds, tzinfo=dt.UTC)


@pytest.mark.parametrize("fraction", ["8", "81619", "816190", ""])
def test_to_dict_writes_the_timestamp_as_iso_8601_in_utc(model_payload, fraction: str) -> None:
    stamp = "2022-06-10 17:52:35" + (f".{fraction}" if fraction else "")
    data = parse_model(model_payload(last_updated_time=stamp)).to_dict()

    micro = f".{fraction.ljust(6, '0')}" if fraction else ""
    assert data["last_updated_time"] == f"2022-06-10T17:52:35{micro}+00:00"
    assert parse_timestamp(data["last_updated_time"]) == parse_timestamp(stamp)


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "garbage", "2022-13-45 10:00", "P1D", "2022-06-10 17:52:35.", 1651957090, 3.5],
)
def test_parse_timestamp_returns_none_for_absent_or_unreadable_values(value: object) -> None:
    assert parse_timestamp(value) is None


def test_parse_timestamp_keeps_the_instant_of_an_explicit_offset() -> None:
    parsed = parse_timestamp("2022-05-07T22:58:10+02:00")

    assert parsed == dt.datetime(2022, 5, 7, 20, 58, 10, tzinfo=dt.UTC)


def test_parse_timestamp_returns_utc_even_for_an_explicit_offset() -> None:
    parsed = parse_timestamp("2022-05-07T22:58:10+02:00")

    assert parsed is not None
    assert parsed.utcoffset() == dt.timedelta(0)


def test_parse_model_list_reads_the_reference_reply() -> None:
    records = parse_model_list(REFERENCE_LIST)

    assert [record.model_name for record in records] == [
        "9323f9dbc976ea5dc6c8272eb90742f9",
        "f9cab2f96d9e65a125264702489cad7a",
    ]
    assert [record.user_name for record in records] == ["cyberbullying_tweets", "winemag-data"]
    assert all(record.is_ready for record in records)


def test_parse_model_list_accepts_an_empty_list() -> None:
    assert parse_model_list({"models": []}) == []


@pytest.mark.parametrize(
    "payload", [[], None, {}, {"models": None}, {"models": {"a": 1}}, {"data": []}, "models"]
)
def test_parse_model_list_refuses_a_reply_without_a_models_list(payload: object) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError, match="'models' list"):
        parse_model_list(payload)


def test_parse_model_list_refuses_a_list_with_a_broken_model() -> None:
    with pytest.raises(TuneTheModelMalformedResponseError, match="neither 'model_name' nor 'model_id'"):
        parse_model_list({"models": [REFERENCE_LIST["models"][0], {"status": "Ready"}]})


#: Ids no model URL may carry: a path, a query, a traversal, spaces, control characters, too long.
BAD_IDS = [
    "../etc",
    "a/b",
    "x?y=1",
    "-starts-with-dash",
    "has space",
    "tab\there",
    "nl\n",
    "é" * 4,
    "a" * 129,
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize("spelling", ["model_name", "model_id"])
def test_an_id_that_is_not_a_model_id_makes_the_reply_malformed(bad_id: str, spelling: str) -> None:
    entry = {spelling: bad_id, "status": "Ready"}
    good = REFERENCE_LIST["models"][0]

    for parse in (parse_model_list, ModelIndex):
        with pytest.raises(TuneTheModelMalformedResponseError, match="the model id in the reply") as raised:
            parse({"models": [good, entry]})
        assert raised.value.status_code == 200
    with pytest.raises(TuneTheModelMalformedResponseError, match="the model id in the reply"):
        parse_model(entry)


def test_model_index_builds_records_only_for_the_models_asked_for() -> None:
    index = ModelIndex(REFERENCE_LIST)
    cyberbullying = index.get("9323f9dbc976ea5dc6c8272eb90742f9")

    assert len(index) == 2
    assert cyberbullying == parse_model(REFERENCE_LIST["models"][0])
    assert index.get("0" * 32) is None


def test_model_index_lists_ids_in_order_judged_without_parsing() -> None:
    index = ModelIndex(REFERENCE_LIST)
    generator = "f9cab2f96d9e65a125264702489cad7a"

    assert index.ids() == ["9323f9dbc976ea5dc6c8272eb90742f9", generator]
    assert index.ids(where=lambda model: model.text("model_type") == "generator") == [generator]
    assert index.ids(where=lambda model: (model.label or "").startswith("cyber")) == [index.ids()[0]]
    assert generator in index
    assert "0" * 32 not in index


def test_model_index_says_whether_it_covers_the_ids_a_reader_needs() -> None:
    whole, one = ModelIndex(REFERENCE_LIST), ModelIndex(REFERENCE_LIST, wanted={"a" * 32})

    assert whole.covers(None) and whole.covers({"b" * 32})
    assert one.covers({"a" * 32})
    assert not one.covers({"a" * 32, "b" * 32})
    assert not one.covers(None)
    assert len(one) == 0


@pytest.mark.parametrize(
    ("entry", "cause"),
    [
        ({"status": "Ready"}, "neither 'model_name' nor 'model_id'"),
        ({"model_name": "m1"}, "model m1 has no 'status' string"),
        ("m1", "expected a model object, got str"),
    ],
)
def test_model_index_checks_every_entry_not_only_the_ones_asked_for(entry: object, cause: str) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError, match=cause):
        ModelIndex({"models": [REFERENCE_LIST["models"][0], entry]})


@pytest.mark.parametrize("payload", [[], None, {"models": None}, {"data": []}])
def test_model_index_refuses_a_reply_without_a_models_list(payload: object) -> None:
    with pytest.raises(TuneTheModelMalformedResponseError, match="'models' list"):
        ModelIndex(payload)


@pytest.fixture
def mixed_models() -> list[ModelRecord]:
    return [
        ModelRecord(model_name="a", status="Ready", model_type="classifier"),
        ModelRecord(model_name="b", status="training", model_type="generator"),
        ModelRecord(model_name="c", status="FitFailed", model_type="classifier"),
        ModelRecord(model_name="d", status="Mystery", model_type="classifier"),
        ModelRecord(model_name="e", status="ready", model_type="generator"),
    ]


def _names(models: list[ModelRecord]) -> list[str]:
    return [model.model_name for model in models]


def test_filter_models_without_criteria_keeps_everything(mixed_models) -> None:
    assert _names(filter_models(mixed_models)) == ["a", "b", "c", "d", "e"]


def test_filter_models_by_status_ignores_case_on_both_sides(mixed_models) -> None:
    assert _names(filter_models(mixed_models, statuses=["READY"])) == ["a", "e"]
    assert _names(filter_models(mixed_models, statuses=["Training", "fitfailed"])) == ["b", "c"]


def test_filter_models_by_type(mixed_models) -> None:
    assert _names(filter_models(mixed_models, model_type="generator")) == ["b", "e"]


def test_filter_models_by_status_and_type(mixed_models) -> None:
    assert _names(filter_models(mixed_models, statuses=["Ready"], model_type="classifier")) == ["a"]


def test_filter_models_refuses_an_undocumented_status(mixed_models) -> None:
    with pytest.raises(ValueError, match="status must be among") as raised:
        filter_models(mixed_models, statuses=["Ready", "Mystery"])

    assert "'Mystery'" in str(raised.value)
    assert "FitFailed" in str(raised.value)  # lists what is accepted


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize("spelling", ["id", "file_id"])
def test_a_file_id_that_is_not_an_id_makes_a_file_list_malformed(bad_id: str, spelling: str) -> None:
    good = {"id": "f1", "status": "FileReady"}

    with pytest.raises(TuneTheModelMalformedResponseError, match="the file id in the reply") as raised:
        parse_file_list({"files": [good, {spelling: bad_id, "status": "FileReady"}]})

    assert raised.value.status_code == 200
    assert parse_file_list({"files": [good]})[0].file_id == "f1"


def test_model_index_keeps_and_checks_only_the_wanted_entries() -> None:
    wanted, other = (item["model_name"] for item in REFERENCE_LIST["models"][:2])
    payload = {"models": [*REFERENCE_LIST["models"], "not a model", {"model_name": "../x"}]}

    index = ModelIndex(payload, wanted={wanted})

    assert len(index) == 1
    assert index.get(wanted) is not None
    assert index.get(other) is None
    with pytest.raises(TuneTheModelMalformedResponseError, match="the model id in the reply"):
        ModelIndex(payload, wanted={"../x"})
