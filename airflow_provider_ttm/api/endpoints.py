"""The service's endpoints as request descriptions, with their arguments validated (pure).

Each function returns an ``ApiRequest``; a transport (the hook) sends it. Arguments are checked
here, before anything is sent, and every error names the parameter and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

API_PREFIX = "/v0"
MODEL_TYPES = ("classifier", "generator")
MAX_NAME_LENGTH = 256
#: The largest whole number an argument may have: the largest 64-bit signed integer.
MAX_WHOLE_NUMBER = 2**63 - 1

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request to the service.

    :param method: the HTTP method.
    :param path: the path below the base URL, starting with ``/v0/``.
    :param json: the JSON body, if any.
    :param idempotent: whether sending it twice has the same effect as once (safe to retry).
    """

    method: str
    path: str
    json: dict[str, Any] | None = None
    idempotent: bool = True


def list_models() -> ApiRequest:
    """``GET /v0/models``: every model of the API key."""
    return ApiRequest("GET", f"{API_PREFIX}/models")


@dataclass(frozen=True)
class ModelSpec:
    """A model to create, every field checked (and numbers read) when it is built.

    :param model_type: ``classifier`` or ``generator``.
    :param name: a human-readable name, stored by the service as ``user_name``.
    :param num_classes: number of classes of a classifier, at least 2.
    :param train_iters: training iterations, at least 1 (service default when omitted).
    :param pretrained_model: id of a model to start from.

    A whole number may also be given as a string of digits, as a template renders it.
    """

    model_type: str
    name: str | None = None
    num_classes: int | None = None
    train_iters: int | None = None
    pretrained_model: str | None = None

    def __post_init__(self) -> None:
        for field in MODEL_SPEC_FIELDS:
            object.__setattr__(self, field, self.check(field, getattr(self, field)))
        if self.num_classes is not None and self.model_type != "classifier":
            raise ValueError(f"num_classes applies to classifiers only; got it for a {self.model_type}.")

    @staticmethod
    def check(field: str, value: object) -> Any:
        """Return one field's value as kept, checked alone (None: not given, except for a ``model_type``).

        :param field: the field's name, one of ``MODEL_SPEC_FIELDS``.
        :param value: the value given.
        :raises ValueError: naming the field.
        """
        if field == "model_type":
            return validate_model_type(value)
        if value is None:
            return None
        if field == "name":
            return validate_name(value)
        if field == "pretrained_model":
            return validate_model_name(value, param=field)
        return whole_number(field, value, minimum={"num_classes": 2, "train_iters": 1}[field])

    def to_json(self) -> dict[str, Any]:
        """The body of the create request."""
        body: dict[str, Any] = {"model_type": self.model_type}
        if self.name is not None:
            body["name"] = self.name
        params = {
            key: value
            for key, value in (("num_classes", self.num_classes), ("train_iters", self.train_iters))
            if value is not None
        }
        if params:
            body["model_params"] = params
        if self.pretrained_model is not None:
            body["pretrained_model"] = self.pretrained_model
        return body


#: The fields of ``ModelSpec``, in order.
MODEL_SPEC_FIELDS = tuple(field.name for field in fields(ModelSpec))


def create_model(spec: ModelSpec) -> ApiRequest:
    """``POST /v0/models``: create a classifier or a generator (not idempotent).

    :param spec: the model to create.
    """
    return ApiRequest("POST", f"{API_PREFIX}/models", json=spec.to_json(), idempotent=False)


def get_model_status(model_name: str) -> ApiRequest:
    """``GET /v0/models/{model_name}/status``: one model."""
    return ApiRequest("GET", model_path(model_name, "status"))


def delete_model(model_name: str) -> ApiRequest:
    """``DELETE /v0/models/{model_name}/delete``: delete a model (idempotent: gone stays gone)."""
    return ApiRequest("DELETE", model_path(model_name, "delete"))


def model_path(model_name: str, action: str) -> str:
    """The path of one of a model's endpoints, ``/v0/models/{model_name}/{action}``; the id checked."""
    return f"{API_PREFIX}/models/{quote(validate_model_name(model_name), safe='')}/{action}"


def validate_model_type(model_type: object) -> str:
    """Return ``model_type`` if it is ``classifier`` or ``generator``, else raise ValueError."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {', '.join(MODEL_TYPES)}; got {model_type!r}.")
    return str(model_type)


def validate_name(name: object) -> str:
    """Return a model's human-readable name if it is a non-blank string of at most 256 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"name must be a non-blank string of at most {MAX_NAME_LENGTH} characters; got {name!r}."
        )
    return name


def validate_model_name(value: object, *, param: str = "model_name") -> str:
    """Return a model id that is safe to put in a URL path, else raise ValueError naming ``param``."""
    return validate_id(value, param=param, what="a model id", origin="by the create call")


def validate_id(value: object, *, param: str, what: str, origin: str) -> str:
    """Return a model or file id that is safe to put in a URL path, else raise ValueError.

    Ids are letters, digits, ``_`` and ``-`` (the service's are 32 hex characters), so a value such
    as ``../x`` or ``a/b?c`` can never reach another path.

    :param value: the id to check.
    :param param: the parameter it came from, named in the error.
    :param what: ``a model id`` or ``a file id``.
    :param origin: where such ids come from, for the error (``by the create call``).
    """
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{param} must be {what} of 1 to 128 letters, digits, '_' or '-' (as returned {origin}); "
            f"got {shown(value)}."
        )
    return value


def whole_number(param: str, value: object, *, minimum: int, maximum: int = MAX_WHOLE_NUMBER) -> int:
    """Return ``value`` as an int if it is a whole number (or a rendered template of digits) in range.

    Floats, booleans and strings such as ``"3a"`` are refused with a ValueError naming ``param``,
    as is anything above ``maximum`` (by default the largest 64-bit integer, which the service's
    JSON can carry; a longer string of digits is never even converted).
    """
    number = read_integer(value)
    if isinstance(number, bool) or not isinstance(number, int) or not minimum <= number <= maximum:
        too_big = isinstance(number, int) and number > maximum
        upper = f" and at most {maximum}" if too_big or maximum != MAX_WHOLE_NUMBER else ""
        raise ValueError(f"{param} must be a whole number of at least {minimum}{upper}; got {shown(value)}.")
    return number


def read_integer(value: object, *, signed: bool = False) -> object:
    """``value`` as an int when it is text of ASCII digits (as a rendered template or a CSV cell
    gives), with a leading ``-`` when ``signed``; anything else is returned unchanged.

    Text of more digits than the largest 64-bit integer becomes a number beyond it, unconverted
    (so a million digits cost nothing and still fail the range check that follows).
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    negative = signed and text.startswith("-")
    digits = text[1:] if negative else text
    if not (digits.isascii() and digits.isdecimal()):
        return value
    if len(digits) > len(str(MAX_WHOLE_NUMBER)):
        return -(MAX_WHOLE_NUMBER + 1) if negative else MAX_WHOLE_NUMBER + 1
    return int(text)


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages (safe for huge numbers)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return shortened(repr(value), limit)


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with ``...`` when it was longer."""
    return text if len(text) <= limit else f"{text[:limit]}..."
