"""Dataset files: their endpoints, records, upload URLs and upload errors (pure).

A file is created with ``POST /v0/files``, which answers with a presigned ``upload_url`` on another
host (object storage). The dataset is PUT there *without* the API key: the URL's signature is its
authorization, and the key must never leave for a host other than the API's. Statuses are read
through ``statuses`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_ttm.api.endpoints import (
    API_PREFIX,
    ApiRequest,
    validate_id,
    validate_model_type,
    validate_name,
)
from airflow_provider_ttm.api.errors import (
    TuneTheModelApiError,
    TuneTheModelBadRequestError,
    TuneTheModelRateLimitedError,
    TuneTheModelServerError,
)
from airflow_provider_ttm.api.parsing import ObjectKeys, identified, is_loopback_host, malformed
from airflow_provider_ttm.api.replies import excerpt
from airflow_provider_ttm.api.retry import parse_retry_after
from airflow_provider_ttm.api.statuses import FileStatus, StatusMeaning


@dataclass(frozen=True)
class FileRecord(StatusMeaning):
    """One dataset file as the service describes it.

    :param file_id: the file's id, used in file URLs and in bind requests.
    :param status: the status exactly as the service wrote it (see ``FileStatus``).
    :param task_type: ``classifier`` or ``generator``.
    :param file_name: the name given at creation.
    :param upload_url: where to PUT the dataset (presigned; sent without the API key).
    :param extra: every other field of the reply, unchanged.
    """

    file_id: str
    status: str
    task_type: str | None = None
    file_name: str | None = None
    upload_url: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    READY = FileStatus.READY
    FAILED = FileStatus.FAILED

    def to_dict(self, *, with_upload_url: bool = False) -> dict[str, Any]:
        """Plain JSON-ready form, for XCom; the presigned upload URL only when asked for.

        :param with_upload_url: include ``upload_url`` (it grants write access: keep it out of XCom).
        """
        payload = {
            **self.extra,
            "id": self.file_id,
            "status": self.status,
            "task_type": self.task_type,
            "file_name": self.file_name,
        }
        if with_upload_url:
            payload["upload_url"] = self.upload_url
        return payload


def parse_file(payload: object) -> FileRecord:
    """Build a ``FileRecord`` from one file object of a reply (``id`` or ``file_id``).

    :raises TuneTheModelMalformedResponseError: when the object has no valid id or no status.
    """
    file = identified(payload, _FILE_KEYS)
    return FileRecord(
        file_id=file.object_id,
        status=file.status,
        task_type=file.text("task_type"),
        file_name=file.label,
        upload_url=file.text("upload_url") or None,
        extra=file.extra,
    )


def parse_file_list(payload: object) -> list[FileRecord]:
    """Parse the ``{"files": [...]}`` reply of ``GET /v0/files``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("files"), list):
        raise malformed("expected an object with a 'files' list")
    return [parse_file(item) for item in payload["files"]]


def list_files() -> ApiRequest:
    """``GET /v0/files``: every file of the API key."""
    return ApiRequest("GET", f"{API_PREFIX}/files")


def create_file(name: str, task_type: str) -> ApiRequest:
    """``POST /v0/files``: a new, empty file with an upload URL (not idempotent).

    :param name: the file's name; makes a lost reply recoverable (see the hook).
    :param task_type: ``classifier`` or ``generator``: the kind of model the dataset trains.
    """
    body = {"name": validate_name(name), "task_type": validate_model_type(task_type)}
    return ApiRequest("POST", f"{API_PREFIX}/files", json=body, idempotent=False)


def get_file_status(file_id: str) -> ApiRequest:
    """``GET /v0/files/{file_id}/status``: one file."""
    return ApiRequest("GET", _file_path(file_id, "status"))


def delete_file(file_id: str) -> ApiRequest:
    """``DELETE /v0/files/{file_id}/delete``: delete a file (idempotent: gone stays gone)."""
    return ApiRequest("DELETE", _file_path(file_id, "delete"))


def validate_file_id(value: object, *, param: str = "file_id") -> str:
    """Return a file id that is safe to put in a URL path, else raise ValueError naming ``param``."""
    return validate_id(value, param=param, what="a file id", origin="when the file was created")


_FILE_KEYS = ObjectKeys(
    what="file",
    ids=("id", "file_id"),
    labels=("file_name", "name"),
    others=("task_type", "upload_url"),
    validate=validate_file_id,
)


def _file_path(file_id: str, action: str) -> str:
    return f"{API_PREFIX}/files/{quote(validate_file_id(file_id), safe='')}/{action}"


def checked_upload_url(record: FileRecord, *, allow_http: bool) -> str:
    """The file's upload URL, if it is an absolute http(s) URL the dataset may be sent to.

    :param record: the file, as created.
    :param allow_http: accept plain ``http://`` (when the API itself is reached over http);
        loopback hosts are always accepted.
    :raises TuneTheModelMalformedResponseError: when the service gave no usable URL.
    """
    url = record.upload_url
    if url is None:
        raise malformed(f"file {record.file_id} has no 'upload_url'")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise malformed(f"file {record.file_id} has an upload URL that is not http(s): {describe_url(url)!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback_host(parts.hostname):
        raise malformed(
            f"file {record.file_id} has a plain http:// upload URL on {parts.hostname!r}; refusing to "
            "send the dataset unencrypted"
        )
    return url


def describe_url(url: str) -> str:
    """``scheme://host/path`` of a URL: what may be logged of a presigned URL (not its signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


def upload_error(
    status_code: int, body: bytes, url: str, *, retry_after: str | None = None
) -> TuneTheModelApiError:
    """The exception for a failed upload (object storage, not the API: its 403 is not about the key).

    :param status_code: the HTTP status of the PUT.
    :param body: the reply's body (text or XML from object storage).
    :param url: the upload URL; only its host and path are quoted.
    :param retry_after: the ``Retry-After`` header, if any.
    """
    where = f"Uploading the dataset to {describe_url(url)} failed (HTTP {status_code}: {excerpt(body)})"
    if status_code == 429:
        return TuneTheModelRateLimitedError(
            where, status_code=status_code, retry_after=parse_retry_after(retry_after)
        )
    if status_code >= 500:
        return TuneTheModelServerError(
            where, status_code=status_code, retry_after=parse_retry_after(retry_after)
        )
    if 300 <= status_code < 400:
        return TuneTheModelBadRequestError(f"{where}; redirects are not followed.", status_code=status_code)
    return TuneTheModelBadRequestError(
        f"{where}. The presigned URL may have expired; a new try of the task creates a new file.",
        status_code=status_code,
    )
