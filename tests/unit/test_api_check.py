"""The public API's guard (``.ci/api_check.py``) fails on each kind of break it is there to catch.

Each test commits a small package in a new git repository, changes it in the work tree and runs the
guard against that commit. Runs where griffe is installed (``requirements/api-check.txt``, in .venv).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("griffe", reason="the API guard's griffe is installed in .venv only")

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "api_check.py"
_spec = importlib.util.spec_from_file_location("api_check", SCRIPT)
assert _spec is not None and _spec.loader is not None
api_check = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("api_check", api_check)  # its dataclasses look their module up
_spec.loader.exec_module(api_check)

BASELINE = '''
class Base:
    """An operator base: takes its own arguments and hands the rest on."""

    def __init__(self, *, conn_id: str = "default", **kwargs) -> None:
        self.conn_id = conn_id


class Op(Base):
    """An operator."""

    def __init__(self, *, model_type: str, retries: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_type = model_type

    def delete(self, name: str, *, missing_ok: bool = True) -> None:
        """Delete."""

    def names(self) -> list[str]:
        """Every name."""
        return []


class ApiError(Exception):
    """An error."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.http_status = status_code
'''

BREAKS = {
    "removed parameter": (
        "model_type: str, retries: int = 2, **kwargs",
        "model_type: str, **kwargs",
        "airflow_provider_ttm.things.Op.__init__(retries): Parameter was removed (only **kwargs takes it)",
    ),
    "keyword made positional-only": (
        "def delete(self, name: str, *,",
        "def delete(self, name: str, /, *,",
        "airflow_provider_ttm.things.Op.delete(name): Parameter kind was changed",
    ),
    "removed attribute": (
        "self.http_status = status_code",
        "self.status_code = status_code",
        "airflow_provider_ttm.things.ApiError.http_status: Public object was removed",
    ),
    "changed return type": (
        "def names(self) -> list[str]:",
        "def names(self) -> dict[str, str]:",
        "airflow_provider_ttm.things.Op.names: Return type was changed: list[str] -> dict[str, str]",
    ),
    "changed default": (
        "missing_ok: bool = True",
        "missing_ok: bool = False",
        "airflow_provider_ttm.things.Op.delete(missing_ok): Parameter default was changed",
    ),
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose one commit holds the baseline package, its docs/api.rst and no breaks."""
    (tmp_path / "airflow_provider_ttm").mkdir()
    (tmp_path / "airflow_provider_ttm" / "__init__.py").write_text("")
    (tmp_path / "airflow_provider_ttm" / "things.py").write_text(BASELINE)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.rst").write_text("API\n===\n\n.. automodule:: airflow_provider_ttm.things\n")
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "api-breaks.toml").write_text("")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "baseline")
    return tmp_path


def _change(repo: Path, old: str, new: str) -> None:
    path = repo / "airflow_provider_ttm" / "things.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _check(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = api_check.main(["--repo", str(repo), "--against", "HEAD"])
    return status, capsys.readouterr().out


def test_an_unchanged_api_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _check(repo, capsys)

    assert status == 0, out
    assert "0 breaking changes" in out


@pytest.mark.parametrize("case", BREAKS)
def test_each_kind_of_break_fails(repo: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    old, new, found = BREAKS[case]
    _change(repo, old, new)

    status, out = _check(repo, capsys)

    assert status == 1, out
    assert f"BREAKING, not listed in .ci/api-breaks.toml: {found}" in out


def test_a_parameter_moved_to_a_base_passes_unless_its_default_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change(repo, "model_type: str, retries: int = 2, **kwargs", "model_type: str, **kwargs")
    _change(
        repo, 'conn_id: str = "default", **kwargs', 'conn_id: str = "default", retries: int = 2, **kwargs'
    )
    assert _check(repo, capsys)[0] == 0

    _change(repo, "retries: int = 2", "retries: int = 3")
    status, out = _check(repo, capsys)

    assert status == 1, out
    assert "Op.__init__(retries): Parameter default was changed in a base: 3" in out


def test_a_listed_break_passes_and_a_stale_entry_fails(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = textwrap.dedent(
        """
        [[break]]
        path = "airflow_provider_ttm.things.ApiError.http_status"
        change = "Public object was removed"
        reason = "renamed status_code; CHANGELOG, Breaking"
        """
    )
    (repo / ".ci" / "api-breaks.toml").write_text(entry)
    _change(repo, "self.http_status = status_code", "self.status_code = status_code")
    assert _check(repo, capsys)[0] == 0

    _change(repo, "self.status_code = status_code", "self.http_status = status_code")
    status, out = _check(repo, capsys)

    assert status == 1, out
    assert (
        "STALE entry of .ci/api-breaks.toml (no longer happens): airflow_provider_ttm.things.ApiError" in out
    )


def test_an_object_now_re_exported_from_elsewhere_is_still_compared(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """griffe alone compares a class with an alias that now stands for it with nothing."""
    moved = BASELINE.replace("self.http_status = status_code", "self.status_code = status_code")
    (repo / "airflow_provider_ttm" / "errors.py").write_text(moved)
    (repo / "airflow_provider_ttm" / "things.py").write_text(
        "from airflow_provider_ttm.errors import ApiError, Base, Op\n\n__all__ = ['ApiError', 'Base', 'Op']\n"
    )

    status, out = _check(repo, capsys)

    assert status == 1, out
    assert "airflow_provider_ttm.things.ApiError.http_status: Public object was removed" in out
