"""Datasets and batch inputs read from files, batch results written to files.

A location is a local path (``str`` or ``os.PathLike``), a URL such as ``s3://bucket/key`` or an
``ObjectStoragePath`` (Airflow's object storage, so any filesystem fsspec knows works where its
package is installed). Formats are parsed by the pure ``api.datasets``; this module only reads and
writes. A file that cannot be read is a ``ValueError`` naming the parameter, like any bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_ttm.api.datasets import data_format_of, parse_records

if TYPE_CHECKING:
    from collections.abc import Iterable

Location = str | os.PathLike[str] | ObjectStoragePath
_LOCAL_PROTOCOLS = ("file", "local")


def is_location(value: object) -> bool:
    """Whether ``value`` names a file (rather than holding the data itself)."""
    return isinstance(value, (str, PurePath, ObjectStoragePath, os.PathLike))


def as_path(value: Location) -> Path | ObjectStoragePath:
    """A path object for ``value``: ``ObjectStoragePath`` for URLs, ``Path`` for local paths."""
    if isinstance(value, ObjectStoragePath):
        return value
    text = os.fspath(value)
    return ObjectStoragePath(text) if "://" in text else Path(text)


def load(param: str, value: object, *, data_format: str | None = None) -> Any:
    """The data ``value`` holds: itself when in memory, or the parsed content of the file it names.

    :param param: the operator parameter, named in errors.
    :param value: in-memory data, or a location (see module docstring).
    :param data_format: ``csv``, ``jsonl`` or ``json``; default from the file's suffix.
    :raises ValueError: naming ``param`` when the file cannot be read or parsed.
    """
    if not is_location(value):
        return value
    path = as_path(value)  # type: ignore[arg-type]
    fmt = data_format_of(str(path), data_format, param=param)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise ValueError(f"{param}: cannot read {str(path)!r} ({reason}).") from None
    return parse_records(text, fmt, param=param, source=repr(str(path)))


def write_json_lines(location: Location, records: Iterable[Any]) -> str:
    """Write one JSON object per line to ``location``; return the location as text.

    A local file's missing parent folders are created (object stores have no folders to make).
    """
    path = as_path(location)
    if isinstance(path, Path) or getattr(path, "protocol", None) in _LOCAL_PROTOCOLS:
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False))
            stream.write("\n")
    return str(path)
