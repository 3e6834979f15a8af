"""The one retry engine: a blocking and an async runner of ``api.retry.Retries``.

Every request with retries goes through here: API calls (both transports), dataset uploads and
the items of a batch; each through exactly one runner, with one ``Retries`` as its whole budget of
``max_attempts`` (a batch's items go over transports that try once, and are retried here only). Why not tenacity (which Airflow installs): the policy's one step that is not
a wait, recovering a create whose reply was lost by looking the model up instead of sending the
create again, returns a result from the middle of a failure; in tenacity that is a callback that
smuggles state out of ``retry_error_callback``. Ten lines of loop keep it readable.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_ttm.api.errors import TuneTheModelError
from airflow_provider_ttm.api.retry import may_have_taken_effect

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TypeAlias

    from airflow_provider_ttm.api.retry import Retries

    #: Called when a non-idempotent request may have taken effect: returns the reply the service
    #: would have given (found another way), None when it surely did not take effect, or raises.
    Recovery: TypeAlias = Callable[[TuneTheModelError], Any | None]

ResultT = TypeVar("ResultT")


def call_with_retries(
    call: Callable[[], ResultT], retries: Retries, *, recover: Recovery | None = None
) -> ResultT:
    """``call()``, called again after each failure the policy allows to retry, with its wait.

    :param call: one attempt.
    :param retries: the request's retry state (policy, attempt count, log line).
    :param recover: for a non-idempotent request whose attempt may have taken effect (see
        ``Recovery``); when it finds that it did not, that attempt may be sent again.
    """
    while True:
        try:
            return call()
        except TuneTheModelError as error:
            looked = recover is not None and not retries.idempotent and may_have_taken_effect(error)
            recovered = recover(error) if looked and recover is not None else None
            if recovered is not None:
                return recovered
            time.sleep(retries.wait_after(error, took_no_effect=looked))


async def acall_with_retries(call: Callable[[], Awaitable[ResultT]], retries: Retries) -> ResultT:
    """``await call()``, awaited again after each failure the policy allows to retry, with its wait.

    :param call: one attempt.
    :param retries: the request's retry state (policy, attempt count, log line).
    """
    while True:
        try:
            return await call()
        except TuneTheModelError as error:
            await asyncio.sleep(retries.wait_after(error))
