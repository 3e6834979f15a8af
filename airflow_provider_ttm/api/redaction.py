"""Blanking out the API key in text that leaves the transport, whatever the encoding (pure).

A server may echo the key back escaped: JSON writes ``/`` as ``\\/`` (PHP does) and may write any
character as ``\\uXXXX``; a URL percent-encodes it; ``repr`` of bytes writes ``\\xXX`` and escapes
quotes. ``redact`` matches the key with every character in any of those forms (each character on its
own, so a key escaped only in part is found too), after a cheap check that skips text holding neither
the plain key nor an escape character.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "***"
_ESCAPE_MARKS = ("\\", "%", "&#")
#: An encoded letter or digit (``\u0041``, ``\x41``, ``%41``) or an HTML character reference
#: (encoders write those only on purpose), each after the byte it starts with: a byte is found in a
#: 2 MB list in microseconds, a pattern takes about a millisecond, one alternation thirty.
_ENCODED_LETTERS = (
    (b"\\", re.compile(rb"\\(?:u00|x)[3-7][0-9a-fA-F]")),
    (b"%", re.compile(rb"%[3-7][0-9a-fA-F]")),
    (b"&", re.compile(rb"&#")),
)


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (plain or escaped) replaced by ``***``.

    :param text: the text to clean.
    :param secret: the API key; nothing is replaced when empty.
    """
    if not secret:
        return text
    if secret in text:
        text = text.replace(secret, MASK)
    if any(mark in text for mark in _ESCAPE_MARKS):
        text = _pattern(secret).sub(MASK, text)
    return text


def may_contain(body: bytes, secret: str) -> bool:
    """Whether a raw JSON body may hold ``secret`` in some form: a quick test that spares big replies
    the walk of ``redact_strings``.

    Every form that hides the key's longest run of letters and digits encodes a letter or digit:
    as ``\\uXXXX``, ``%XX``, ``\\xXX`` or an HTML character reference; any other form (plain,
    ``\\/``, encoded punctuation only) leaves that run as it is.

    :param body: the raw reply body.
    :param secret: the API key.
    """
    return _anchor(secret) in body or any(
        mark in body and pattern.search(body) is not None for mark, pattern in _ENCODED_LETTERS
    )


def redact_strings(payload: Any, secret: str) -> Any:
    """``payload`` (decoded JSON) with ``redact`` applied to every string in it, keys included.

    :param payload: decoded JSON: dicts, lists, strings, numbers, booleans and None.
    :param secret: the API key.
    """
    if isinstance(payload, str):
        return redact(payload, secret)
    if isinstance(payload, list):
        return [redact_strings(item, secret) for item in payload]
    if isinstance(payload, dict):
        return {redact(key, secret): redact_strings(value, secret) for key, value in payload.items()}
    return payload


@functools.lru_cache(maxsize=8)
def _anchor(secret: str) -> bytes:
    """The longest run of letters and digits in ``secret`` (empty when it has none)."""
    return max(re.findall(rb"[A-Za-z0-9]*", secret.encode()), key=len)


@functools.lru_cache(maxsize=8)
def _pattern(secret: str) -> re.Pattern[str]:
    return re.compile("".join(_character(char) for char in secret))


def _character(char: str) -> str:
    """Every way the character ``char`` of the key (printable ASCII, see ``ConnectionSettings``) is written."""
    code = ord(char)
    forms = [
        re.escape(char),
        rf"(?i:\\+u{code:04x})",  # JSON \uXXXX, possibly with its backslash escaped again
        rf"(?i:%{code:02x})",  # percent-encoding
        rf"(?i:\\+x{code:02x})",  # repr of bytes
        rf"&#0*{code};|(?i:&#x0*{code:x};)",  # HTML character references
    ]
    if not char.isalnum():
        forms.append(rf"\\+{re.escape(char)}")  # JSON \/ and \", repr's \' and \\
    if char == " ":
        forms.append(r"\+")  # form encoding
    return "(?:" + "|".join(forms) + ")"
