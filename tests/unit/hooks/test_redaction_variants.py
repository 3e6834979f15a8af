"""B2, other variants: every error status and body type, headers, whole-key encodings in a 200
reply, keys with regex metacharacters, the 200-character cut, trigger events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from support.fakes import FakeTaskInstance
from support.hostile_server import HostileServer, Reply, call_within, outcome_of

from airflow_provider_ttm.exceptions import TuneTheModelConnectionConfigError, TuneTheModelError
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.operators.ttm import TuneTheModelListModelsOperator
from airflow_provider_ttm.triggers.ttm import TuneTheModelModelStatusTrigger

BOUND = 20
MODEL = "a" * 32
#: A key with regex metacharacters and characters JSON, URLs and HTML escape.
KEY = "Kq7.Zr*(Wp3+[x]?|^$)Mn8{2}/Ts5"
#: Runs of the key a reader could recognise; none may survive in any text.
PIECES = ["Kq7", "Zr*(", "Wp3", "Mn8", "Ts5"]


def _percent_all(key: str) -> str:
    return "".join(f"%{ord(char):02x}" for char in key)  # lower-case hex, letters too


#: Whole-key encodings, every character encoded, letters and digits included.
ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda key: key,
    "slash-and-unicode-mixed": lambda key: "".join(
        f"\\u{ord(char):04x}" if index % 3 == 0 else char.replace("/", "\\/")
        for index, char in enumerate(key)
    ),
    "percent-all-lower": _percent_all,
    "percent-all-upper": lambda key: _percent_all(key).upper(),
    "entities-decimal-all": lambda key: "".join(f"&#{ord(char)};" for char in key),
    "entities-hex-all": lambda key: "".join(f"&#x{ord(char):x};" for char in key),
    "bytes-repr-all": lambda key: "".join(f"\\\\x{ord(char):02x}" for char in key),
    # Percent-encoded, then every character of that written as a JSON \uXXXX escape.
    "percent-then-unicode-escaped": lambda key: "".join(f"\\u{ord(char):04x}" for char in _percent_all(key)),
}


def _assert_no_key(text: str) -> None:
    for piece in PIECES:
        assert piece not in text, f"{piece!r} leaked in {text!r}"
    for encoding in ENCODINGS.values():
        assert encoding(KEY) not in text, text


def _hook(hostile_conn, **extra) -> TuneTheModelHook:
    return TuneTheModelHook(hostile_conn(password=KEY, max_attempts=1, **extra))


ERROR_BODIES = {
    "json-detail": lambda echoed: ('{"detail": "no access for ' + echoed + '"}', "application/json"),
    "fastapi-422": lambda echoed: (
        '{"detail": [{"loc": ["header", "authorization"], "msg": "bad ' + echoed + '"}]}',
        "application/json",
    ),
    "text-plain": lambda echoed: ("Forbidden for key " + echoed + "\n", "text/plain"),
    "html": lambda echoed: ("<html><h1>Error</h1><p>key=" + echoed + "</p></html>", "text/html"),
    "json-no-message-field": lambda echoed: (
        '{"errors": [{"code": 7, "why": "' + echoed + '"}]}',
        "application/json",
    ),
}


@pytest.mark.parametrize("status", [403, 404, 422, 429, 503])
@pytest.mark.parametrize("body", list(ERROR_BODIES))
def test_an_echoed_key_is_redacted_whatever_the_status_and_body_type(
    hostile_server: HostileServer, hostile_conn, status: int, body: str
) -> None:
    for encoding in ENCODINGS.values():
        text, content_type = ERROR_BODIES[body](encoding(KEY) if body != "fastapi-422" else KEY)
        hostile_server.respond(Reply(status=status, body=text, headers={"Content-Type": content_type}))
        outcome = call_within(BOUND, _hook(hostile_conn).list_models)
        assert isinstance(outcome, TuneTheModelError), outcome
        _assert_no_key(str(outcome))
        _assert_no_key(repr(outcome))


@pytest.mark.parametrize("status", [301, 302, 307, 429, 503])
def test_a_key_in_a_header_is_never_quoted(hostile_server: HostileServer, hostile_conn, status: int) -> None:
    headers = {"Location": f"https://evil.example/?k={KEY}", "Retry-After": KEY, "X-Debug": KEY}
    hostile_server.respond(Reply(status=status, body="", headers=headers))
    outcome = call_within(BOUND, _hook(hostile_conn).list_models)
    assert isinstance(outcome, TuneTheModelError), outcome
    _assert_no_key(str(outcome))
    ok, message = _hook(hostile_conn).test_connection()
    assert not ok
    _assert_no_key(message)


@pytest.mark.parametrize("offset", [150, 185, 190, 195, 198, 199, 200, 201])
@pytest.mark.parametrize("kind", ["html", "json-detail"])
def test_no_part_of_the_key_survives_the_excerpt_cut(
    hostile_server: HostileServer, hostile_conn, offset: int, kind: str
) -> None:
    """Redacted before the cut: the excerpt shows ``***`` or nothing of the key, never a prefix."""
    if kind == "html":
        body = "<p>" + "x" * (offset - 3) + KEY + "</p>" + "y" * 300
    else:
        body = '{"detail": "' + "x" * offset + KEY.replace("/", "\\/") + '"}'
    hostile_server.respond(Reply(status=401, body=body))
    outcome = call_within(BOUND, _hook(hostile_conn).list_models)
    assert isinstance(outcome, TuneTheModelError)
    text = str(outcome)
    _assert_no_key(text)
    assert KEY[:3] not in text.replace("***", "")


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_key_in_a_listed_models_name_never_reaches_the_records(
    hostile_server: HostileServer, hostile_conn, encoding: str
) -> None:
    """A model's user_name goes to XCom with the list operator's result: the key must not."""
    name = "named after " + ENCODINGS[encoding](KEY)
    models = '{"models": [{"model_name": "' + MODEL + '", "status": "Ready", "user_name": "' + name + '"}]}'
    hostile_server.respond(Reply.json(models))
    outcome = call_within(BOUND, _hook(hostile_conn).list_models)
    assert not isinstance(outcome, BaseException), outcome
    _assert_no_key(json.dumps([record.to_dict() for record in outcome]))


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesced", "per-model"])
@pytest.mark.parametrize("where", ["401-detail", "200-user_name"])
def test_a_key_echoed_to_a_trigger_never_reaches_its_event(
    hostile_server: HostileServer, hostile_conn, coalesce: bool, where: str
) -> None:
    echoed = ENCODINGS["percent-all-lower"](KEY) if where == "200-user_name" else KEY.replace("/", "\\/")

    def reply(request) -> Reply:
        if where == "401-detail":
            return Reply(status=401, body='{"detail": "bad key ' + echoed + '"}')
        model = '{"model_name": "' + MODEL + '", "status": "Ready", "user_name": "' + echoed + '"}'
        return Reply.json('{"models": [' + model + "]}" if request.path == "/v0/models" else model)

    hostile_server.respond(reply)
    conn_id = hostile_conn(password=KEY, max_attempts=1)
    trigger = TuneTheModelModelStatusTrigger(
        conn_id, MODEL, 0.05, deadline=time.time() + 10, coalesce=coalesce, max_consecutive_errors=0
    )
    event = asyncio.run(asyncio.wait_for(trigger.run().asend(None), BOUND))
    assert event.payload["status"] == ("error" if where == "401-detail" else "success")
    _assert_no_key(json.dumps(event.payload))
    _assert_no_key(json.dumps(trigger.serialize()))


@pytest.mark.parametrize(
    "key",
    [" \x7fQz81-Wp93-del ", "Qz81-\x1bWp93-escape", "Qz81-Wp93\u00a0nbsp", "Qz81-\x85-Wp93-nel"],
    ids=["del", "escape", "nbsp", "nel"],
)
def test_a_key_a_header_cannot_carry_is_refused_without_quoting_it(
    hostile_server: HostileServer, hostile_conn, key: str
) -> None:
    hook = TuneTheModelHook(hostile_conn(password=key))
    with pytest.raises(TuneTheModelConnectionConfigError) as raised:
        hook.list_models()
    ok, message = hook.test_connection()
    assert not ok
    for text in (str(raised.value), repr(raised.value), message):
        assert "Qz81" not in text
        assert "Wp93" not in text
    assert hostile_server.requests == []


@pytest.mark.parametrize("encoding", ["plain", "percent-all-lower", "entities-hex-all"])
def test_a_key_in_a_models_name_never_reaches_the_list_operators_result(
    hostile_server: HostileServer, hostile_conn, encoding: str
) -> None:
    listed = {
        "model_name": MODEL,
        "status": "Ready",
        "user_name": "x " + ENCODINGS[encoding](KEY),
        "note": KEY,
    }
    hostile_server.respond(Reply.json({"models": [listed]}))
    operator = TuneTheModelListModelsOperator(task_id="l", ttm_conn_id=hostile_conn(password=KEY))
    outcome = outcome_of(operator.execute, {"ti": FakeTaskInstance()})
    assert isinstance(outcome, list), repr(outcome)
    assert [model["model_name"] for model in outcome] == [MODEL]
    _assert_no_key(json.dumps(outcome))
