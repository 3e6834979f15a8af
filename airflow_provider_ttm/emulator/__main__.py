"""``python -m airflow_provider_ttm.emulator``: the same as the ``ttm-emulator`` command."""

from __future__ import annotations

import sys

from airflow_provider_ttm.emulator.cli import main

sys.exit(main())
