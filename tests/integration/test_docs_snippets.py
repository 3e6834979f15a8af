"""Every Python block of README.md and docs/*.md (and the pages they include) runs as shown.

A block that defines a DAG (calls ``DAG`` or uses ``@dag``) is written to a DAG folder of its own,
parsed there as Airflow parses DAG files (``DagBag``: no import error, a DAG found) and run with
``airflow dags test`` (``dag.test()``) against the emulator: the run and every task must succeed,
and no model or dataset file may be left. Any other block is executed with ``ttm_default`` pointing
at the emulator and must not raise. Nothing of a block is edited.

The emulator runs at its start settings, where a model that is only created stays ``Created``
until datasets are bound and a fit is requested, as on the service. The one setting changed is
how long a requested fit takes, 0 s instead of 1 s (``FIT_SECONDS``): a wait's first status check
then finds the model ``Ready`` rather than after the block's own ``poll_interval`` of minutes. A
user running a block against ``python -m airflow_provider_ttm.emulator`` sees the same run, one
poll interval later. A block that never trains its model waits until its own timeout: the run's
bound (the ``dag_runner``'s 300 s) turns that into a failure naming the models and their statuses.

``{literalinclude}`` blocks show files of ``dags/``, which tests/integration/test_example_dags.py
runs; a Python block that cannot run here is in ``NOT_RUN`` with the reason (and not collected).
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
from pathlib import Path

import pytest
from support.code_blocks import CodeBlock, code_blocks

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_PAGES = sorted((REPO_ROOT / "docs").glob("*.md"))


def _included_pages(pages: list[Path]) -> list[Path]:
    """The Markdown files the pages ``{include}`` (CHANGELOG.md, shown by docs/changelog.md)."""
    return sorted(
        {
            (page.parent / block.info.split(maxsplit=1)[1]).resolve()
            for page in pages
            for block in code_blocks(page.read_text(encoding="utf-8"))
            if block.directive == "include" and block.info.endswith(".md")
        }
    )


PAGES = [REPO_ROOT / "README.md", *DOCS_PAGES, *_included_pages(DOCS_PAGES)]
#: How long a requested fit takes in the emulator during these runs (its default is 1 s).
FIT_SECONDS = 0.0
SUCCESS = "success"
#: Python blocks that do not run here, by page and first line, with the reason.
NOT_RUN = {
    ("docs/packaging.md", "import statistics, subprocess, sys, time"): (
        "the measurement script behind that page's figures: 63 interpreter starts, over a minute"
    ),
}


def _python_blocks() -> list[tuple[str, CodeBlock]]:
    return [
        (page.relative_to(REPO_ROOT).as_posix(), block)
        for page in PAGES
        for block in code_blocks(page.read_text(encoding="utf-8"))
        if block.is_python
    ]


def _first_line(block: CodeBlock) -> str:
    return next(line.strip() for line in block.code.splitlines() if line.strip())


ALL_PYTHON_BLOCKS = _python_blocks()
PYTHON_BLOCKS = [
    (page, block) for page, block in ALL_PYTHON_BLOCKS if (page, _first_line(block)) not in NOT_RUN
]


def test_the_pages_have_python_blocks_and_the_exceptions_are_still_there() -> None:
    assert REPO_ROOT / "CHANGELOG.md" in PAGES  # through docs/changelog.md
    shown = {(page, _first_line(block)) for page, block in ALL_PYTHON_BLOCKS}
    assert ("README.md", "import pendulum") in shown
    assert set(NOT_RUN) <= shown, "an entry of NOT_RUN names a block no page shows any more"
    assert any(_defines_dag(block.code) for page, block in PYTHON_BLOCKS if page == "README.md")


def test_every_included_file_is_an_example_dag() -> None:
    for page in PAGES:
        for block in code_blocks(page.read_text(encoding="utf-8")):
            if block.directive == "literalinclude":
                target = (page.parent / block.info.split(maxsplit=1)[1]).resolve()
                assert target.parent == REPO_ROOT / "dags", f"{page.name}:{block.line} includes {target}"


@pytest.mark.parametrize(
    ("page", "block"), PYTHON_BLOCKS, ids=[f"{page}:{block.line}" for page, block in PYTHON_BLOCKS]
)
def test_python_block_runs(
    page: str, block: CodeBlock, ttm_emulator, dag_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttm_emulator.control.configure(train_seconds=FIT_SECONDS)
    name = "snippet_" + hashlib.sha256(f"{page}:{block.line}".encode()).hexdigest()[:8]
    if not _defines_dag(block.code):
        exec(compile(block.code, f"{page}:{block.line}", "exec"), {"__name__": name})
        return
    module = tmp_path / f"{name}.py"
    module.write_text(block.code, encoding="utf-8")
    dag_ids = _parsed_dag_ids(module)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path))
    for dag_id in dag_ids:
        try:
            result = dag_runner.run(dag_id)
        except subprocess.TimeoutExpired:
            statuses = {model["model_name"]: model["status"] for model in ttm_emulator.control.models()}
            pytest.fail(
                f"{page}:{block.line}: DAG {dag_id} did not finish; the emulator's models: {statuses} "
                "(a model that is only created stays Created until it is trained)"
            )
        assert result.state == SUCCESS, result.output[-3000:]
        failed = {task: states for task, states in result.task_states.items() if set(states) != {SUCCESS}}
        assert failed == {}, result.output[-3000:]
        assert ttm_emulator.api_key not in result.output
        assert all(ttm_emulator.api_key not in kwargs for kwargs in result.trigger_kwargs)
    assert ttm_emulator.control.models() == [], "the DAG left a model behind"
    assert ttm_emulator.control.files() == [], "the DAG left a dataset file behind"


def _defines_dag(code: str) -> bool:
    """Whether ``code`` calls ``DAG(...)`` or decorates a function with ``@dag``."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and _name(node.func) == "DAG":
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            _name(d.func if isinstance(d, ast.Call) else d) == "dag" for d in node.decorator_list
        ):
            return True
    return False


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _parsed_dag_ids(module: Path) -> list[str]:
    """The ids of the DAGs ``module`` defines, parsed as Airflow parses a DAG file (no import error)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(module))
    assert bag.import_errors == {}, next(iter(bag.import_errors.values()))
    assert bag.dag_ids, f"{module.name} calls DAG but Airflow found no DAG in it"
    return sorted(bag.dag_ids)
