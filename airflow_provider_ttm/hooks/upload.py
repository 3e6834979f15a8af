"""Uploading a dataset to a file's presigned ``upload_url``: a plain PUT that never carries the API key.

The upload URL points at another host (object storage in the real service); its signature is its
authorization. So the PUT goes through a session of its own, with no ``Authorization`` header, no
cookies and no redirects, and only the URL's host and path (never its signature) reach a log line
or an exception. A PUT of the same body is idempotent, so failures the retry policy allows are
retried. The connection's ``timeout`` bounds each attempt in total, as for API calls (see
``deadline.py``).
"""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING

import requests
import urllib3.exceptions

from airflow_provider_ttm import __version__
from airflow_provider_ttm.api.errors import TuneTheModelTransportError
from airflow_provider_ttm.api.files import describe_url, upload_error
from airflow_provider_ttm.api.retry import Retries
from airflow_provider_ttm.hooks.deadline import AttemptDeadline, BoundedAdapter
from airflow_provider_ttm.hooks.retrying import call_with_retries
from airflow_provider_ttm.hooks.transport import timed_out_reading
from airflow_provider_ttm.network import Egress, proxy_failure

if TYPE_CHECKING:
    from airflow_provider_ttm.api.retry import RetryLog
    from airflow_provider_ttm.connection_settings import ConnectionSettings

_EXCERPT_BYTES = 2048
#: What a PUT may raise when the network or the deadline cuts it short.
_FAILURES = (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException)


class UploadTransport:
    """PUTs dataset bodies to presigned URLs, with the connection's timeout, TLS and retry settings.

    :param settings: the connection's settings (its API key is never used here).
    :param log: where retries are logged.
    """

    def __init__(self, settings: ConnectionSettings, log: RetryLog) -> None:
        self.settings = settings
        self.log = log
        self.session = requests.Session()
        self.egress = Egress.resolve(settings)  # the environment is read here, not per upload
        self.session.trust_env = False
        self.session.verify = self.egress.verify
        self.session.headers.update({"User-Agent": f"airflow-provider-ttm/{__version__}"})
        self.session.mount("https://", BoundedAdapter())
        self.session.mount("http://", BoundedAdapter())

    def put(self, url: str, body: bytes) -> None:
        """PUT ``body`` (JSON) to ``url``, retrying what the policy allows.

        :raises TuneTheModelError: when the upload failed for good.
        """
        retries = Retries(self.settings.retry, f"Upload to {describe_url(url)}", self.log)
        call_with_retries(lambda: self.put_once(url, body), retries)

    def put_once(self, url: str, body: bytes) -> None:
        """PUT ``body`` to ``url`` exactly once, within the connection's timeout in total."""
        with AttemptDeadline(self.settings.timeout) as attempt:
            try:
                response = self.session.put(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    proxies=self.egress.requests_proxies(url),  # the upload host may differ from the API's
                    timeout=self.settings.timeout,
                    allow_redirects=False,
                )
            except _FAILURES as error:
                raise _no_answer(
                    url, error, timed_out=attempt.expired, proxy=self.egress.proxy_for(url)
                ) from None
            if attempt.expired:
                response.close()
                raise _no_answer(url, TimeoutError(), timed_out=True)
        with response:
            if 200 <= response.status_code < 300:
                return
            raise upload_error(
                response.status_code,
                response.content[:_EXCERPT_BYTES],
                url,
                retry_after=response.headers.get("Retry-After"),
            )

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


def _no_answer(
    url: str, error: BaseException, *, timed_out: bool, proxy: str | None = None
) -> TuneTheModelTransportError:
    """The error of a PUT that got no HTTP answer (``timed_out``: its deadline passed; ``proxy``: the
    proxy it went through, whose refusal is quoted)."""
    connect_failed = isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.ChunkedEncodingError
    )
    timed_out = timed_out or timed_out_reading(error)
    reason = "no complete reply within the timeout" if timed_out else type(error).__name__
    refused = proxy_failure(error, proxy)
    reason = str(refused) if refused is not None else reason
    return TuneTheModelTransportError(
        f"Uploading the dataset to {describe_url(url)} got no answer ({reason}).",
        sent=timed_out or not connect_failed,
        timed_out=timed_out,
    )
