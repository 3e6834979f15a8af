"""The public API's guard: what changed since the baseline release that could break a user's code.

Compares the provider's public API in the checkout with the one at the baseline commit (named in
``.ci/api-baseline``) with griffe, and fails on every breaking change that ``.ci/api-breaks.toml``
does not list as deliberate (each entry with its reason), and on every entry there that no longer
happens (so the list stays true). Public is what ``docs/api.rst`` documents (each ``automodule``'s
public members, each ``autoclass``) plus the paths in ``[public] extra`` of the breaks file;
inside them griffe's rules apply (``__all__``, else no leading underscore and not imported).

Beyond griffe's own checks (objects and parameters removed, parameters moved, made positional- or
keyword-only, newly required, defaults changed), it reports what griffe lets pass: a named
parameter now taken only by ``**kwargs`` (an operator's ``__init__`` hands ``**kwargs`` to
Airflow, which refuses names it does not know), a return or attribute annotation written
differently, a base class gone from a class's ancestry, and changes of an object that is now
re-exported from another module (griffe compares such a pair with nothing).

Usage: ``python .ci/api_check.py [--against REF] [--repo DIR]``; exit status 1 on a failure.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import griffe

if TYPE_CHECKING:
    from collections.abc import Iterator

PACKAGE = "airflow_provider_ttm"
_DIRECTIVE = re.compile(r"^\.\. (?:automodule|autoclass):: (\S+)", re.MULTILINE)
_VARIADIC = (griffe.ParameterKind.var_positional, griffe.ParameterKind.var_keyword)
#: The ancestry of the standard library's bases, which griffe does not load.
_IMPLIED = {"enum.StrEnum": ("str", "enum.Enum"), "enum.IntEnum": ("int", "enum.Enum")}


@dataclass(frozen=True, order=True)
class Break:
    """One breaking change: the public object (with the parameter, if any) and what happened."""

    path: str
    change: str

    def __str__(self) -> str:
        return f"{self.path}: {self.change}"


def public_paths(repo: Path, extra: list[str]) -> list[str]:
    """The public objects: every ``automodule`` and ``autoclass`` of docs/api.rst, and ``extra``."""
    documented = _DIRECTIVE.findall((repo / "docs" / "api.rst").read_text(encoding="utf-8"))
    return sorted({*documented, *extra})


def _resolved(obj: Any) -> Any:
    return obj.final_target if obj.is_alias else obj


def _lookup(package: griffe.Module, path: str) -> Any:
    """The object at a dotted path, aliases followed; None when there is none."""
    try:
        return _resolved(package[path.removeprefix(f"{PACKAGE}.")])
    except (KeyError, griffe.AliasResolutionError):
        return None


def _pairs(old: griffe.Module, new: griffe.Module, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Each public object under ``path`` in the baseline with its counterpart now (None when gone).

    A module is split into its public members so each pair is compared on its own (griffe skips
    a class whose counterpart is now an alias of a class elsewhere).
    """
    before = _lookup(old, path)
    if before is None:
        return  # new since the baseline
    if not before.is_module:
        yield path, before, _lookup(new, path)
        return
    for name, member in before.all_members.items():
        if member.is_public and not member.is_module:  # a submodule is public only when listed
            yield f"{path}.{name}", _resolved(member), _lookup(new, f"{path}.{name}")


def _described(breakage: griffe.Breakage, roots: tuple[str, str], public: str) -> Break:
    """A griffe breakage, named by the public path (not by the module the object moved to)."""
    path = breakage.obj.path
    for root in roots:
        if path == root or path.startswith(f"{root}."):
            path = public + path[len(root) :]
            break
    value = breakage.old_value if breakage.old_value is not None else breakage.new_value
    if isinstance(value, griffe.Parameter):
        path = f"{path}({value.name})"
    return Break(path, breakage.kind.value)


def _base_key(path: str) -> str:
    """A base class as compared: the package's own by name (they may move), others by full path."""
    return path.rsplit(".", 1)[-1] if path.startswith(f"{PACKAGE}.") else path


def _ancestry(cls: griffe.Class) -> set[str]:
    """The keys of a class and of every base along its ancestry that can be known."""
    keys = set()
    for klass in [cls, *cls.mro()]:
        keys.add(_base_key(klass.path))
        for base in klass.bases:
            key = _base_key(getattr(base, "canonical_path", str(base)))
            keys |= {key, *_IMPLIED.get(key, ())}
    return keys


def _accepted(cls: griffe.Class) -> dict[str, griffe.Parameter]:
    """The keyword parameters the constructors along a class's ancestry in the package take (the
    nearest one of each name): each ``__init__`` with ``**kwargs`` hands the rest to the next; an
    Airflow base outside the package refuses names it does not know, so what reaches it counts as
    not taken."""
    taken: dict[str, griffe.Parameter] = {}
    for klass in [cls, *cls.mro()]:
        init = klass.members.get("__init__")
        if init is None or not init.is_function:
            continue
        for param in init.parameters:
            if param.kind not in _VARIADIC:
                taken.setdefault(param.name, param)
        if not any(param.kind is griffe.ParameterKind.var_keyword for param in init.parameters):
            break
    return taken


def _swallowed(
    path: str, before: griffe.Function, after: griffe.Function, taken: dict[str, griffe.Parameter]
) -> Iterator[Break]:
    """Named parameters of ``before`` that ``after`` takes only through ``**kwargs``: gone, unless
    a base's constructor takes them (``taken``), where their default must not have changed."""
    if not any(param.kind is griffe.ParameterKind.var_keyword for param in after.parameters):
        return  # griffe reports a removal itself
    own = {param.name for param in after.parameters if param.kind not in _VARIADIC}
    for param in before.parameters:
        if param.kind in _VARIADIC or param.kind is griffe.ParameterKind.positional_only or param.name in own:
            continue
        base = taken.get(param.name)
        if base is None:
            yield Break(f"{path}({param.name})", "Parameter was removed (only **kwargs takes it)")
        elif not param.required and not base.required and str(param.default) != str(base.default):
            yield Break(f"{path}({param.name})", f"Parameter default was changed in a base: {base.default}")
        elif base.required and not param.required:
            yield Break(f"{path}({param.name})", "Parameter is now required by a base")


def _retyped(path: str, before: Any, after: Any) -> Iterator[Break]:
    """A function's return annotation or an attribute's annotation written differently (griffe
    compares neither): the value a caller gets may not be what it got."""
    if before.is_function and after.is_function and str(before.returns) not in ("None", ""):
        if str(before.returns) != str(after.returns):
            yield Break(path, f"Return type was changed: {before.returns} -> {after.returns}")
        return
    old, new = getattr(before, "annotation", None), getattr(after, "annotation", None)
    if before.is_attribute and after.is_attribute and old is not None and str(old) != str(new):
        yield Break(path, f"Attribute type was changed: {old} -> {new}")


def _beyond_griffe(path: str, before: Any, after: Any) -> Iterator[Break]:
    """What griffe lets pass: parameters only ``**kwargs`` takes, changed return and attribute
    types, base classes gone from the ancestry."""
    yield from _retyped(path, before, after)
    if before.is_function and after.is_function:
        yield from _swallowed(path, before, after, {})
    if not (before.is_class and after.is_class):
        return
    ancestry = _ancestry(after)
    for base in before.bases:
        key = _base_key(getattr(base, "canonical_path", str(base)))
        if key not in ancestry and not key.startswith("_"):
            yield Break(path, f"Base class was removed: {key}")
    for name, member in before.all_members.items():
        counterpart = after.all_members.get(name)
        if member.is_public and counterpart is not None:
            old, new = _resolved(member), _resolved(counterpart)
            yield from _retyped(f"{path}.{name}", old, new)
            if old.is_function and new.is_function:
                taken = _accepted(after) if name == "__init__" else {}
                yield from _swallowed(f"{path}.{name}", old, new, taken)


def find_breaks(repo: Path, against: str, extra: list[str]) -> set[Break]:
    """Every breaking change of the public API from ``against`` to the checkout at ``repo``."""
    old = griffe.load_git(PACKAGE, ref=against, repo=repo, search_paths=["."])  # "." of its worktree
    new = griffe.load(PACKAGE, search_paths=[repo], try_relative_path=False)
    found: set[Break] = set()
    for public in public_paths(repo, extra):
        for path, before, after in _pairs(old, new, public):
            if after is None:
                found.add(Break(path, "Public object was removed"))
                continue
            roots = (after.path, before.path)
            found |= {_described(b, roots, path) for b in griffe.find_breaking_changes(before, after)}
            found |= set(_beyond_griffe(path, before, after))
    return found


def main(argv: list[str] | None = None) -> int:
    """Print each breaking change not listed and each stale entry; 1 when there is any."""
    parser = argparse.ArgumentParser(description="Check the public API against the baseline release.")
    default_repo = Path(__file__).resolve().parent.parent
    parser.add_argument("--repo", type=Path, default=default_repo, help="the checkout (default: this one)")
    parser.add_argument("--against", help="the baseline ref (default: the one .ci/api-baseline names)")
    args = parser.parse_args(argv)
    repo: Path = args.repo.resolve()
    against = args.against or (repo / ".ci" / "api-baseline").read_text(encoding="utf-8").split()[0]
    config = tomllib.loads((repo / ".ci" / "api-breaks.toml").read_text(encoding="utf-8"))
    allowed = {
        f"{path}: {entry['change']}"
        for entry in [*config.get("break", []), *config.get("not_a_break", [])]
        for path in entry.get("paths", [entry.get("path")])
    }
    found = {str(b) for b in find_breaks(repo, against, config.get("public", {}).get("extra", []))}
    for key in sorted(found - allowed):
        print(f"BREAKING, not listed in .ci/api-breaks.toml: {key}")
    for key in sorted(allowed - found):
        print(f"STALE entry of .ci/api-breaks.toml (no longer happens): {key}")
    print(
        f"API check against {against[:12]}: {len(found)} breaking changes, {len(found & allowed)} "
        f"accepted by .ci/api-breaks.toml, {len(found - allowed)} not, {len(allowed - found)} stale entries."
    )
    return 1 if found != allowed else 0


if __name__ == "__main__":
    sys.exit(main())
