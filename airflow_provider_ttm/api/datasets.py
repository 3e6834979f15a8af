"""Training and validation datasets: their accepted shapes, validation and upload form (pure).

The service takes a dataset as ``{"inputs": [...], "classes": [...]}`` (classifier) or
``{"inputs": [...], "outputs": [...]}`` (generator), at least 32 rows each. A dataset is accepted
here in that form, as a list of rows (mappings or ``(input, target)`` pairs), or as the text of a
CSV, JSON Lines or JSON file, and refused with a ``ValueError`` naming the parameter and the row
before anything is sent. Rows are counted from 0, like list indices; file lines from 1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from airflow_provider_ttm.api.endpoints import MODEL_TYPES, read_integer, shown, validate_model_type

MIN_ROWS = 32
DATA_FORMATS = ("csv", "jsonl", "json")
DEFAULT_INPUT_COLUMN = "input"
#: The row column holding the target when ``target_column`` is not given.
DEFAULT_TARGET_COLUMNS = {"classifier": "class", "generator": "output"}
#: The key of the target column in the service's dataset form.
TARGET_KEYS = {"classifier": "classes", "generator": "outputs"}
_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: one target (class index or output text) per input text.

    :param model_type: ``classifier`` or ``generator``: the kind of model it trains.
    :param inputs: the input texts.
    :param targets: class indices (classifier) or output texts (generator), one per input.
    """

    model_type: str
    inputs: tuple[str, ...]
    targets: tuple[int | str, ...]

    def __len__(self) -> int:
        return len(self.inputs)

    def payload(self) -> dict[str, list[Any]]:
        """The service's form: ``{"inputs": [...], "classes" | "outputs": [...]}``."""
        return {"inputs": list(self.inputs), TARGET_KEYS[self.model_type]: list(self.targets)}

    def to_json(self) -> bytes:
        """The upload body: the service's form as UTF-8 JSON."""
        return json.dumps(self.payload(), ensure_ascii=False).encode()


def build_dataset(
    param: str,
    value: object,
    *,
    model_type: str,
    num_classes: int | None = None,
    input_column: str = DEFAULT_INPUT_COLUMN,
    target_column: str | None = None,
) -> Dataset:
    """Validate ``value`` as a dataset for a ``model_type`` model and return it.

    :param param: the operator parameter ``value`` came from, named in every error.
    :param value: ``{"inputs": [...], "classes" | "outputs": [...]}``, a mapping of columns named
        ``input_column`` and ``target_column``, or a list of rows (mappings or pairs).
    :param model_type: ``classifier`` or ``generator``.
    :param num_classes: the classifier's number of classes; class indices must be below it.
    :param input_column: the column holding the input text.
    :param target_column: the column holding the target; default ``class`` or ``output``.
    :raises ValueError: naming ``param`` and what is wrong, for any bad shape or value.
    """
    validate_model_type(model_type)
    target_column = target_column or DEFAULT_TARGET_COLUMNS[model_type]
    if isinstance(value, Mapping):
        inputs, targets = _columns(param, value, model_type, input_column, target_column)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        inputs, targets = _rows(param, value, input_column, target_column)
    else:
        raise ValueError(
            f"{param} must be a dataset: a mapping of columns, a list of rows, or the path of a "
            f"CSV, JSON Lines or JSON file; got {type(value).__name__}."
        )
    if len(inputs) < MIN_ROWS:
        raise ValueError(f"{param} has {len(inputs)} rows; the service needs at least {MIN_ROWS}.")
    checked_inputs = tuple(_text(param, index, "input", item) for index, item in enumerate(inputs))
    if model_type == "classifier":
        checked: tuple[int | str, ...] = tuple(
            _class_index(param, index, item, num_classes) for index, item in enumerate(targets)
        )
    else:
        checked = tuple(_text(param, index, "output", item) for index, item in enumerate(targets))
    return Dataset(model_type, checked_inputs, checked)


def _columns(
    param: str, value: Mapping[Any, Any], model_type: str, input_column: str, target_column: str
) -> tuple[list[Any], list[Any]]:
    target_key = TARGET_KEYS[model_type]
    other = next(TARGET_KEYS[kind] for kind in MODEL_TYPES if kind != model_type)
    if other in value and target_key not in value and target_column not in value:
        raise ValueError(
            f"{param} has '{other}', the column of another model type; a {model_type} needs '{target_key}'."
        )
    inputs = _column(param, value, ("inputs", input_column))
    targets = _column(param, value, (target_key, target_column))
    if len(inputs) != len(targets):
        raise ValueError(f"{param}: the inputs have {len(inputs)} rows but the targets have {len(targets)}.")
    return inputs, targets


def _column(param: str, value: Mapping[Any, Any], names: tuple[str, str]) -> list[Any]:
    for name in names:
        if name in value:
            column = value[name]
            if not isinstance(column, Sequence) or isinstance(column, (str, bytes)):
                raise ValueError(f"{param}: column {name!r} must be a list; got {type(column).__name__}.")
            return list(column)
    columns = ", ".join(repr(str(key)) for key in value) or "none"
    wanted = " or ".join(repr(name) for name in dict.fromkeys(names))
    raise ValueError(f"{param} has no column {wanted} (its columns: {columns}).")


def _rows(
    param: str, rows: Sequence[Any], input_column: str, target_column: str
) -> tuple[list[Any], list[Any]]:
    inputs: list[Any] = []
    targets: list[Any] = []
    for index, row in enumerate(rows):
        if isinstance(row, Mapping):
            inputs.append(_cell(param, index, row, input_column))
            targets.append(_cell(param, index, row, target_column))
        elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)) and len(row) == 2:
            inputs.append(row[0])
            targets.append(row[1])
        else:
            raise ValueError(
                f"{param}: row {index} must be a mapping of columns or an (input, target) pair; "
                f"got {shown(row)}."
            )
    return inputs, targets


def _cell(param: str, index: int, row: Mapping[Any, Any], column: str) -> Any:
    if column not in row:
        columns = ", ".join(repr(str(key)) for key in row) or "none"
        raise ValueError(f"{param}: row {index} has no column {column!r} (its columns: {columns}).")
    return row[column]


def _text(param: str, index: int, what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{param}: row {index}: the {what} must be text; got {shown(value)}.")
    return value


def _class_index(param: str, index: int, value: object, num_classes: int | None) -> int:
    """A class index: a whole number >= 0 (a string of digits, as CSV gives, is read as one)."""
    value = read_integer(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{param}: row {index}: the class must be a whole number >= 0; got {shown(value)}.")
    if num_classes is not None and value >= num_classes:
        raise ValueError(
            f"{param}: row {index}: class {value} is out of range for a model of {num_classes} "
            f"classes (0 to {num_classes - 1})."
        )
    return value


def data_format_of(name: str, data_format: str | None, *, param: str) -> str:
    """The format of a dataset file: ``data_format`` if given, else read from the name's suffix.

    :param name: the file's name or path.
    :param data_format: ``csv``, ``jsonl`` or ``json``, or None to tell by the suffix.
    :param param: the parameter named in errors.
    """
    if data_format is not None:
        if data_format not in DATA_FORMATS:
            raise ValueError(f"data_format must be one of {', '.join(DATA_FORMATS)}; got {data_format!r}.")
        return data_format
    found = _SUFFIX_FORMATS.get(PurePosixPath(name).suffix.lower())
    if found is None:
        raise ValueError(
            f"{param}: cannot tell the format of {name!r} from its suffix (.csv, .jsonl, .ndjson or "
            ".json); set data_format."
        )
    return found


def parse_records(text: str, data_format: str, *, param: str, source: str) -> Any:
    """Parse a dataset file's text: CSV and JSON Lines give a list of rows; JSON gives its value.

    :param text: the file's content.
    :param data_format: ``csv``, ``jsonl`` or ``json``.
    :param param: the parameter named in errors.
    :param source: the file's name, named in errors.
    """
    if data_format == "csv":
        try:
            return [dict(row) for row in csv.DictReader(io.StringIO(text, newline=""), strict=True)]
        except csv.Error as error:
            raise ValueError(f"{param}: {source} is not valid CSV: {error}.") from None
    if data_format == "jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                rows.append(_json(param, source, line, f"line {number}"))
        return rows
    return _json(param, source, text, "its content")


def _json(param: str, source: str, text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{param}: {source}, {where}, is not valid JSON: {error}.") from None


def inputs_from(param: str, value: object, *, input_column: str = DEFAULT_INPUT_COLUMN) -> list[str]:
    """The input texts of a batch: a list of texts, a list of rows, or a dataset's columns.

    :param param: the parameter named in errors.
    :param value: ``["text", ...]``, ``[{input_column: "text", ...}, ...]`` or ``{"inputs": [...]}``.
    :param input_column: the column holding the text in rows and column mappings.
    """
    if isinstance(value, Mapping):
        items = _column(param, value, ("inputs", input_column))
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = [
            _cell(param, index, item, input_column) if isinstance(item, Mapping) else item
            for index, item in enumerate(value)
        ]
    else:
        raise ValueError(
            f"{param} must be a list of texts, a list of rows, a mapping with 'inputs', or the path of "
            f"a CSV, JSON Lines or JSON file; got {type(value).__name__}."
        )
    return [_text(param, index, "input", item) for index, item in enumerate(items)]
