"""
Conformance with the API reference: every example request (a curl command) of
tests/data/api-reference.rst is sent to the emulator, and the reply must have the example
response's keys and JSON value types, recursively.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from support.emulator_client import KEY

from airflow_provider_ttm.emulator.records import format_time

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "api-reference.rst"
REFERENCE_HOST = "https://api.tunethemodel.com"
KEY_PLACEHOLDER = "<insert your API key here>"
ID_PLACEHOLDER = "<model_name>"
SDK_SPELLINGS = {"model_id", "name"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}")


@dataclass(frozen=True)
class Example:
    title: str
    curl: str
    response: Any


def _code_blocks(lines: list[str]) -> list[tuple[str, str, str]]:
    """``(section title, language, text)`` of every ``.. code::`` block, in order."""
    blocks, title = [], ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if index + 1 < len(lines) and re.fullmatch(r"\^{3,}", lines[index + 1].strip()) and line.strip():
            title = line.strip()
        directive = re.match(r"^(\s*)\.\. code::\s*(\w+)", line)
        if directive:
            indent = len(directive.group(1))
            body = []
            index += 1
            while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
                body.append(lines[index])
                index += 1
            blocks.append((title, directive.group(2), "\n".join(body).strip()))
            continue
        index += 1
    return blocks


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def load_examples() -> list[Example]:
    """Each bash block followed by a text block is a request with its response."""
    blocks = _code_blocks(REFERENCE.read_text().splitlines())
    examples = []
    for (title, language, text), (_, next_language, next_text) in itertools.pairwise(blocks):
        if language == "bash" and next_language == "text":
            examples.append(Example(title, text, json.loads(next_text)))
    return examples


def parse_curl(command: str) -> tuple[str, str, dict[str, str], str | None]:
    """``(method, url, headers, data)`` of a curl command line."""
    tokens = shlex.split(command.replace("\\\n", " "))
    assert tokens[0] == "curl"
    method, url, headers, data = None, None, {}, None
    words = iter(tokens[1:])
    for token in words:
        if token == "-X":
            method = next(words)
        elif token == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif token == "-d":
            data = next(words)
        else:
            url = token
    assert url is not None
    return method or ("POST" if data is not None else "GET"), url, headers, data


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def assert_same_shape(actual: Any, example: Any, extra_model_keys: set[str], path: str = "$") -> None:
    """Same keys and JSON types as ``example`` (model objects may carry ``extra_model_keys`` too)."""
    assert _kind(actual) == _kind(example), (
        f"{path}: {_kind(actual)} where the reference has {_kind(example)}"
    )
    if isinstance(example, dict):
        extra = extra_model_keys if "model_name" in example else set()
        assert set(actual) == set(example) | extra, (
            f"{path}: keys {sorted(actual)} != {sorted(example)} + {extra}"
        )
        for key, value in example.items():
            assert_same_shape(actual[key], value, extra_model_keys, f"{path}.{key}")
    elif isinstance(example, list):
        assert actual, f"{path}: empty where the reference shows items"
        for index, item in enumerate(actual):
            assert_same_shape(item, example[index % len(example)], extra_model_keys, f"{path}[{index}]")


EXAMPLES = load_examples()


def test_the_reference_is_parsed_completely():
    assert [example.title for example in EXAMPLES] == [
        "List models",
        "Create a model",
        "Get model's status",
        "Delete a model",
    ]
    assert [parse_curl(example.curl)[0] for example in EXAMPLES] == ["GET", "POST", "GET", "DELETE"]


@pytest.mark.parametrize(
    ("spelling", "extra"),
    [("model_name", set()), ("both", SDK_SPELLINGS)],
    ids=["reference-spelling", "both"],
)
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.title for example in EXAMPLES])
def test_example_request_gets_a_reply_shaped_like_the_example(api, server, example, spelling, extra):
    server.control.configure(id_spelling=spelling)
    existing = api.create_model("classifier", name="cyberbullying_tweets")
    api.create_model("generator", name="winemag-data")
    method, url, headers, data = parse_curl(example.curl)
    url = url.replace(REFERENCE_HOST, server.url).replace(ID_PLACEHOLDER, existing["model_name"])
    assert headers.pop("Authorization") == KEY_PLACEHOLDER

    reply = requests.request(method, url, headers={**headers, "Authorization": KEY}, data=data, timeout=5)

    assert reply.status_code == 200, reply.text
    assert_same_shape(reply.json(), example.response, extra)


def _timestamps(value: Any) -> list[str]:
    """Every ``last_updated_time`` in a reply, at any depth."""
    if isinstance(value, dict):
        own = [value["last_updated_time"]] if "last_updated_time" in value else []
        return own + [stamp for item in value.values() for stamp in _timestamps(item)]
    if isinstance(value, list):
        return [stamp for item in value for stamp in _timestamps(item)]
    return []


def test_the_reference_timestamps_carry_1_to_6_fraction_digits():
    stamps = [stamp for example in EXAMPLES for stamp in _timestamps(example.response)]

    assert stamps and all(TIMESTAMP.fullmatch(stamp) for stamp in stamps)
    assert {len(stamp.split(".")[1]) for stamp in stamps} == {5, 6}  # e.g. 17:52:35.81619


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.title for example in EXAMPLES])
def test_example_replies_use_the_reference_timestamp_format(api, server, clock, example):
    clock.advance(0.25)  # a fraction with trailing zeros, which the reference drops
    existing = api.create_model("classifier", name="cyberbullying_tweets")
    clock.advance(7 * 60 + 0.123456)
    method, url, headers, data = parse_curl(example.curl)
    url = url.replace(REFERENCE_HOST, server.url).replace(ID_PLACEHOLDER, existing["model_name"])

    reply = requests.request(method, url, headers={**headers, "Authorization": KEY}, data=data, timeout=5)

    stamps = _timestamps(reply.json())
    assert stamps and all(TIMESTAMP.fullmatch(stamp) for stamp in stamps), stamps
    if example.title == "Delete a model":  # the reference's delete comes 7 minutes after the create
        assert stamps == [format_time(clock())]
        assert existing["last_updated_time"].endswith(".25")


def test_the_shape_check_can_fail():
    example = EXAMPLES[1].response
    with pytest.raises(AssertionError, match=r"model_params\.num_classes"):
        assert_same_shape({**example, "model_params": {"num_classes": "3"}}, example, set())
    with pytest.raises(AssertionError, match="keys"):
        assert_same_shape({**example, "model_id": "x"}, example, set())
    with pytest.raises(AssertionError, match="empty"):
        assert_same_shape({"models": []}, EXAMPLES[0].response, set())
