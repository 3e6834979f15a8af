"""``on_kill`` of the operators that start a training (create-and-wait, train-and-wait), on the worker.

Airflow calls ``on_kill`` when the task process is told to stop (the user marked the task failed or
succeeded, or cleared it; the worker shuts down) and after its ``execution_timeout`` passed, and
tells it nothing about which: the task reads its own state (see :mod:`airflow_provider_ttm.kill`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowTaskTimeout

from airflow_provider_ttm.kill import WORKER_KILL_SECONDS, bounded, kill_verdict, stop_training
from airflow_provider_ttm.version_compat import task_instance_state

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook


class StopsItsTrainingOnKill:
    """Mixin: ``on_kill`` deletes the model whose training this try started, when that is what the
    kill means (marked failed; ``execution_timeout`` of the last try) and the model is not Ready.

    The operator calls ``training_started`` once it created the model or requested its fit, and
    ``training_ended`` once the wait is over.
    """

    hook: TuneTheModelHook
    log: Any
    retries: int | None
    #: The model whose training this try started and may stop, with its task instance.
    _started: tuple[str, Any] | None = None

    def training_started(self, context: Context, model_name: str) -> None:
        """Remember that this try started ``model_name``'s training (a kill may stop it).

        :param context: the task's context.
        :param model_name: the model's id.
        """
        self._started = (model_name, context["ti"])

    def training_ended(self) -> None:
        """The wait is over: a kill from now on has nothing to stop."""
        self._started = None

    def on_kill(self) -> None:
        """Delete the model this try started if the task was marked failed or timed out for good."""
        if self._started is None:
            self.log.info("Killed; this try started no training that is still waited on: nothing to stop.")
            return
        model_name, ti = self._started
        # Airflow calls on_kill while handling the AirflowTaskTimeout of execution_timeout.
        timed_out = isinstance(sys.exc_info()[1], AirflowTaskTimeout)
        retry_follows = bool(self.retries) and ti.try_number <= (getattr(ti, "max_tries", 0) or 0)

        def decide_and_stop() -> None:
            state = None
            if not timed_out:
                try:
                    state = task_instance_state(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
                except Exception as error:  # unknown: keep the model
                    self.log.warning("Could not read the task instance's state: %s", type(error).__name__)
            verdict = kill_verdict(timed_out=timed_out, retry_follows=retry_follows, state=state)
            if not verdict.stop:
                self.log.info("Killed: model %s is kept, as %s.", model_name, verdict.reason)
                return
            stop_training(self.hook, model_name, verdict.reason, self.log)

        bounded(
            decide_and_stop, WORKER_KILL_SECONDS, f"Stopping the training of model {model_name}", self.log
        )
