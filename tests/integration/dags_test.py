"""How the integration tests run ``airflow dags test``, and what of its output they check for the key."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

AIRFLOW_3_0 = AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_1_PLUS
# Airflow 3.0's dag.test() prints its in-process supervisor's debug lines, among them each
# ``MaskSecret`` message it relays, with the secret being masked in clear: Airflow's own echo of the
# provider's mask request, not a provider log line. On 3.0 only, those values are blanked before the
# output is checked for the key; every other line is checked as on the other lines.
_AIRFLOW_3_0_MASK_ECHO = re.compile(r"MaskSecret\(value='[^']*'")


def command(dag_id: str, *args: str) -> list[str]:
    """``airflow dags test DAG_ID ARGS``; on Airflow 3.0 with a fix from 3.1 (see the script)."""
    if AIRFLOW_3_0:
        airflow = [sys.executable, str(Path(__file__).with_name("dags_test_on_airflow_3_0.py"))]
    else:
        airflow = [str(Path(sys.executable).with_name("airflow"))]
    return [*airflow, "dags", "test", dag_id, *args]


def checked_output(output: str) -> str:
    """The output the tests search for the key (on Airflow 3.0 without Airflow's MaskSecret echo)."""
    if AIRFLOW_3_0:
        return _AIRFLOW_3_0_MASK_ECHO.sub("MaskSecret(value='<relayed by Airflow 3.0>'", output)
    return output
