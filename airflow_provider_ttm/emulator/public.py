"""
The ready-made models anyone's key may call by id, as the vendor's docs name them.

They are listed by ``GET /v0/public-models``, never among a key's own models, and cannot be
bound, fit or deleted. ``default-generator`` is the generator the SDK's few-shot ``generate()``
calls: callable by id like the others, but not listed.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from airflow_provider_ttm.emulator import lifecycle
from airflow_provider_ttm.emulator.lifecycle import Timeline
from airflow_provider_ttm.emulator.records import ModelRecord, parse_time

DEFAULT_GENERATOR: Final = "default-generator"


class PublicModel(NamedTuple):
    """One ready-made model: its id, type, name, classes (classifiers) and last update."""

    model_id: str
    model_type: str
    name: str
    num_classes: int | None
    updated: str


# The two of the reference's list example keep its names and times; the other times vary the
# number of fraction digits (1 to 6), as the reference's own timestamps do.
LISTED: Final = (
    PublicModel("9323f9dbc976ea5dc6c8272eb90742f9", "classifier", "cyberbullying_tweets", 2, "2022-05-07 20:58:10.878585"),
    PublicModel("f9cab2f96d9e65a125264702489cad7a", "generator", "winemag-data", None, "2022-05-06 17:15:59.202724"),
    PublicModel("13419a9f17bf52cc48f009a512a99735", "classifier", "amazon_polarity", 2, "2022-05-12 09:41:07.5"),
    PublicModel("1ec02ac96b3e3cd7762bf1e6e2955eb3", "classifier", "financial_sentiment", 3, "2022-12-03 17:52:35.81619"),
)  # fmt: skip
UNLISTED: Final = (
    PublicModel(DEFAULT_GENERATOR, "generator", "default-generator", None, "2022-08-01 00:00:00.0"),
)


def _record(model: PublicModel) -> ModelRecord:
    params = {} if model.num_classes is None else {"num_classes": model.num_classes}
    since = parse_time(model.updated)
    return ModelRecord(
        model.model_id, None, model.model_type, model.name, params, Timeline(since, lifecycle.READY)
    )


def listed_models() -> dict[str, ModelRecord]:
    """The models ``GET /v0/public-models`` lists, by id, in the docs' order."""
    return {model.model_id: _record(model) for model in LISTED}


def unlisted_models() -> dict[str, ModelRecord]:
    """The models callable by id that no list shows (``default-generator``)."""
    return {model.model_id: _record(model) for model in UNLISTED}
