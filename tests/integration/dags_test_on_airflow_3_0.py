"""``airflow dags test`` on Airflow 3.0, with the one-line fix Airflow 3.1 made to its ``dag.test()``.

In 3.0.6 the in-process supervisor of ``dag.test()`` hands a task its first reschedule date as a
string (``TaskRescheduleStartDate.model_construct`` skips validation), so every sensor in
``reschedule`` mode, Airflow's own included, fails on its second poke inside Airflow's
``BaseSensorOperator.execute`` ("'str' object has no attribute 'timestamp'"). Airflow 3.1 builds the
message with validation. A real deployment decodes the message from the supervisor's socket and is
not affected (the end-to-end run on 3.0.6 goes without this). The integration runner uses this
script on Airflow 3.0 only; everything else is Airflow's own CLI.
"""

from __future__ import annotations

import sys
import uuid

from airflow.sdk.api import client
from airflow.sdk.execution_time.comms import TaskRescheduleStartDate


def _get_reschedule_start_date(
    self: client.TaskInstanceOperations, id: uuid.UUID, try_number: int = 1
) -> TaskRescheduleStartDate:
    resp = self.client.get(f"task-reschedules/{id}/start_date", params={"try_number": try_number})
    return TaskRescheduleStartDate(start_date=resp.json())


if __name__ == "__main__":
    client.TaskInstanceOperations.get_reschedule_start_date = _get_reschedule_start_date  # type: ignore[method-assign]
    from airflow.__main__ import main

    sys.exit(main())
