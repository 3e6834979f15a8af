"""The emulator is an independent implementation: no Airflow, nothing of the provider outside it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import airflow_provider_ttm.emulator as emulator_package

EMULATOR_DIR = Path(emulator_package.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sources_import_only_the_emulator_of_this_package():
    sources = sorted(EMULATOR_DIR.glob("*.py"))
    assert len(sources) > 10
    for source in sources:
        for name in _imports(source):
            assert not name.startswith("airflow.") and name != "airflow", f"{source.name} imports {name}"
            if name.startswith("airflow_provider_ttm"):
                assert name.startswith("airflow_provider_ttm.emulator"), f"{source.name} imports {name}"


def test_importing_everything_loads_no_airflow():
    code = (
        "import sys\n"
        "import airflow_provider_ttm.emulator.cli, airflow_provider_ttm.emulator.server\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_ttm.')\n"
        "             and not m.startswith('airflow_provider_ttm.emulator')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]
