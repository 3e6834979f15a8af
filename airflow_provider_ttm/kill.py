"""What a user's action on a running or deferred task does to the training the task started.

TTM has no cancel endpoint: stopping a fit means deleting its model. So a killed task deletes only
what it started itself in this try (a model it created, or one whose fit it requested) and only
while that model is still on its way to Ready (neither Ready nor FitFailed), and only when:

- the user marked the task failed (the task instance is ``failed`` when the kill is handled), or
- its ``execution_timeout`` ended its last try (with a retry to come, the retry resumes the model).

Mark success, clear (the next try resumes the model, as after a crash), a worker or triggerer
shutting down, or a state that cannot be read keep the model: when the actions cannot be told
apart, nothing the user may keep is deleted. See ``docs/deferrable.md`` ("User actions").
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.records import parse_model
from airflow_provider_ttm.api.statuses import has_model_failed, is_model_ready
from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelNotFoundError

if TYPE_CHECKING:
    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

#: The task instance state a "mark failed" leaves (what a kill reads to tell the actions apart).
MARKED_FAILED = "failed"
#: The worker's ``on_kill`` has this long in all: Airflow 3's supervisor sends SIGKILL 5 s after SIGTERM.
WORKER_KILL_SECONDS = 4.0
#: The trigger's ``on_kill`` has this long in all, within ``[triggerer] on_kill_timeout`` (30 s default).
TRIGGER_KILL_SECONDS = 20.0


@dataclass(frozen=True)
class KillVerdict:
    """Whether a kill stops the task's own training, and why (for the log).

    :param stop: delete the model (if it is still training).
    :param reason: what the kill was, as far as the task can tell.
    """

    stop: bool
    reason: str


def kill_verdict(*, timed_out: bool, retry_follows: bool, state: str | None) -> KillVerdict:
    """What a kill of a task that started a training means for it.

    :param timed_out: the task's ``execution_timeout`` ended this try.
    :param retry_follows: the task will be retried after this try fails.
    :param state: the task instance's state when the kill is handled (None: unknown or no state).
    """
    if timed_out:
        if retry_follows:
            return KillVerdict(
                False, "its execution_timeout passed and a retry follows (it resumes the model)"
            )
        return KillVerdict(True, "its execution_timeout ended its last try")
    if state == MARKED_FAILED:
        return KillVerdict(True, "it was marked failed")
    return KillVerdict(
        False,
        f"the task instance is {state or 'in no known state'}: marked success, cleared or shut down, "
        "not marked failed",
    )


def _still_training(status: str) -> bool:
    return not is_model_ready(status) and not has_model_failed(status)


def stop_training(hook: TuneTheModelHook, model_name: str, reason: str, log: Any) -> None:
    """Delete ``model_name`` unless it is Ready or FitFailed (blocking; bound it with ``bounded``).

    :param hook: the task's hook.
    :param model_name: the model the task started.
    :param reason: why, for the log.
    :param log: the task's logger.
    """
    try:
        status = hook.get_model(model_name).status
        if not _still_training(status):
            log.info("Model %s is %s: kept (%s).", model_name, status, reason)
            return
        hook.delete_model(model_name)
    except TuneTheModelError as error:
        log.warning("Could not stop the training of model %s (%s): %s", model_name, reason, error)
        return
    log.warning("Deleted model %s (it was %s) to stop its training: %s.", model_name, status, reason)


async def astop_training(hook: TuneTheModelHook, model_name: str, reason: str, log: Any) -> None:
    """``stop_training`` without blocking, over a transport of its own (the trigger's ``on_kill``).

    :param hook: a hook of the trigger's connection.
    :param model_name: the model the task started.
    :param reason: why, for the log.
    :param log: the trigger's logger.
    """
    try:
        transport = await hook.async_transport()
    except TuneTheModelError as error:
        log.warning("Could not stop the training of model %s (%s): %s", model_name, reason, error)
        return
    try:
        status = (await hook.aget_model(transport, model_name)).status
        if not _still_training(status):
            log.info("Model %s is %s: kept (%s).", model_name, status, reason)
            return
        parse_model(await transport.send(endpoints.delete_model(model_name)))
    except TuneTheModelNotFoundError:
        log.info("Model %s is already gone (%s).", model_name, reason)
        return
    except TuneTheModelError as error:
        log.warning("Could not stop the training of model %s (%s): %s", model_name, reason, error)
        return
    finally:
        await transport.aclose()
    log.warning("Deleted model %s (it was %s) to stop its training: %s.", model_name, status, reason)


def bounded(work: Any, seconds: float, what: str, log: Any) -> None:
    """Run ``work()`` in a daemon thread and wait at most ``seconds`` for it (an ``on_kill`` may be
    given little time, and runs in a signal handler, where a blocked call must not hold the task).

    :param work: what to run (it logs its own outcome and raises nothing).
    :param seconds: the longest to wait.
    :param what: what it does, for the log line when it is not done in time.
    :param log: the task's logger.
    """
    thread = threading.Thread(target=work, name="ttm-on-kill", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        log.warning("%s did not finish within %.0f s; the model may still be training.", what, seconds)


async def abounded(work: Any, seconds: float, what: str, log: Any) -> None:
    """Await the coroutine ``work`` to its end, at most ``seconds``, even if cancelled meanwhile.

    Airflow 3.3's triggerer cancels a trigger again at each state sync until it has ended, which
    would cut its ``on_kill`` short after a few seconds, half-way through a delete: a cancel that
    arrives while ``work`` runs is held until ``work`` ends (it is bounded), then raised.

    :param work: the coroutine (it logs its own outcome and raises nothing).
    :param seconds: the longest to wait.
    :param what: what it does, for the log line when it is not done in time.
    :param log: the trigger's logger.
    """
    task = asyncio.ensure_future(asyncio.wait_for(work, seconds))
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
        except TimeoutError:
            log.warning("%s did not finish within %.0f s; the model may still be training.", what, seconds)
    if cancelled:
        raise asyncio.CancelledError
