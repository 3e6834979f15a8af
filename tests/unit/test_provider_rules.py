"""The rules Airflow's own CI applies to its providers, applied to this one.

- ``scripts/in_container/run_provider_yaml_files_check.py``: the provider info lists exactly the
  modules that define the provider's operators, sensors, hooks and triggers; every listed module
  and class path resolves inside the package, and imports without a deprecation warning.
- ``tests/always/test_project_structure.py`` (``ExampleCoverageTest``): every public operator and
  sensor is used by an example DAG (here one an integration test runs against the emulator).
- ``scripts/ci/prek/validate_operators_init.py``: ``__init__`` stores each template field exactly
  as given (``self.x = x``, or handed to ``super().__init__(x=x)``) and applies no logic to it,
  since Airflow renders it only after ``__init__``.

Where a rule of those scripts does not fit a third-party provider, docs/development.md says why.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import BaseHook, BaseOperator, BaseSensorOperator
from airflow.triggers.base import BaseTrigger

import airflow_provider_ttm
from airflow_provider_ttm.get_provider_info import get_provider_info

PACKAGE = airflow_provider_ttm.__name__
ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "dags"
INTEGRATION_TESTS = ROOT / "tests" / "integration"
#: The kinds of class the provider info lists by module, each with its base class.
KINDS: dict[str, type] = {
    "sensors": BaseSensorOperator,
    "operators": BaseOperator,
    "hooks": BaseHook,
    "triggers": BaseTrigger,
}
#: The provider info's keys that list classes by path (run_provider_yaml_files_check checks each).
CLASS_LISTS = ("extra-links", "notifications", "executors", "queues")
#: The base classes of the provider's operators: never used alone, so no example DAG shows them
#: (Airflow's ``ExampleCoverageTest.BASE_CLASSES``).
BASE_CLASSES = {
    "TuneTheModelBaseOperator",
    "TuneTheModelDeferrableOperator",
    "TuneTheModelWaitingOperator",
    "TuneTheModelDataOperator",
    "TuneTheModelBatchOperator",
}
#: The arguments without which a public operator cannot be made, other than its template fields.
REQUIRED_ARGUMENTS: dict[str, dict[str, Any]] = {"TuneTheModelCleanupOperator": {"max_age": 60}}


#: Optional dependencies: a module needing one is left out where it is not installed (the
#: OpenLineage provider, which Airflow 2.11's pinned set lacks), as Airflow's check skips
#: optional features.
OPTIONAL_DEPENDENCIES = ("airflow.providers.openlineage",)


def _imported(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").startswith(OPTIONAL_DEPENDENCIES):
            return None
        raise


@cache
def package_modules() -> tuple[ModuleType, ...]:
    """Every module of the package that imports here (``__main__`` aside: importing it runs the emulator)."""
    names = [PACKAGE] + [
        info.name
        for info in pkgutil.walk_packages(airflow_provider_ttm.__path__, prefix=f"{PACKAGE}.")
        if not info.name.endswith(".__main__")
    ]
    return tuple(module for module in map(_imported, names) if module is not None)


def defined_classes(base: type) -> list[type]:
    """The subclasses of ``base`` defined in the package, each in the module that defines it."""
    return [
        value
        for module in package_modules()
        for value in vars(module).values()
        if inspect.isclass(value) and value.__module__ == module.__name__ and issubclass(value, base)
    ]


def kind_of(cls: type) -> str:
    return next(kind for kind, base in KINDS.items() if issubclass(cls, base))


def operator_classes() -> list[type]:
    """Every operator and sensor class the package defines, bases included."""
    return defined_classes(BaseOperator)


def public_operator_classes() -> list[type]:
    return [cls for cls in operator_classes() if cls.__name__ not in BASE_CLASSES]


def listed_modules(kind: str) -> list[str]:
    return [module for entry in get_provider_info().get(kind, []) for module in entry["python-modules"]]


def resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# --- run_provider_yaml_files_check.py ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_provider_info_lists_exactly_the_modules_defining_each_kind(kind: str) -> None:
    defining = {cls.__module__ for cls in defined_classes(KINDS[kind]) if kind_of(cls) == kind}
    listed = listed_modules(kind)
    assert defining, f"no {kind} found: the discovery is broken"
    assert len(listed) == len(set(listed)), f"{kind} lists a module twice: {listed}"
    assert set(listed) == defining, (
        f"provider info {kind!r}: missing {sorted(defining - set(listed))}, "
        f"defining none {sorted(set(listed) - defining)}"
    )


def test_the_operator_base_modules_are_listed() -> None:
    """The modules issue 20 found missing: they define the operators' base classes."""
    assert {f"{PACKAGE}.operators.base", f"{PACKAGE}.operators.data"} <= set(listed_modules("operators"))


def test_every_listed_module_belongs_to_the_package_and_imports_without_a_deprecation_warning() -> None:
    modules = [module for kind in KINDS for module in listed_modules(kind)]
    assert all(module.startswith(f"{PACKAGE}.") for module in modules), modules
    # A fresh interpreter: an import in this one would find the modules cached, and warn of nothing.
    script = textwrap.dedent(
        f"""
        import importlib, json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name in {modules!r}:
                importlib.import_module(name)
        print(json.dumps([
            f"{{w.category.__name__}}: {{w.message}} ({{w.filename}})"
            for w in caught
            if issubclass(w.category, DeprecationWarning) and "airflow_provider_ttm" in w.filename
        ]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_integration_names_are_declared_and_each_used_once_per_kind() -> None:
    info = get_provider_info()
    declared = {integration["integration-name"] for integration in info["integrations"]}
    for kind in KINDS:
        names = Counter(entry["integration-name"] for entry in info.get(kind, []))
        assert set(names) <= declared, kind
        assert all(count == 1 for count in names.values()), f"{kind}: {names}"


def test_connection_types_name_a_hook_class_of_the_package() -> None:
    for connection in get_provider_info()["connection-types"]:
        path = connection["hook-class-name"]
        hook = resolve(path)
        assert path.startswith(f"{PACKAGE}.")
        assert inspect.isclass(hook) and issubclass(hook, BaseHook), path
        assert hook.conn_type == connection["connection-type"]
        assert hook.hook_name == connection["hook-name"]
        assert hook.__module__ in listed_modules("hooks")


@pytest.mark.parametrize("key", ["asset-uris", "dataset-uris"])
def test_uri_handlers_resolve_to_functions_of_the_package(key: str) -> None:
    entries = get_provider_info()[key]
    assert entries
    for entry in entries:
        assert entry["handler"].startswith(f"{PACKAGE}.")
        assert callable(resolve(entry["handler"]))


def test_every_class_list_resolves_to_classes_of_the_package() -> None:
    info = get_provider_info()
    paths = [path for key in CLASS_LISTS for path in info.get(key, [])]
    paths += [plugin["plugin-class"] for plugin in info.get("plugins", [])]
    for path in paths:
        assert path.startswith(f"{PACKAGE}.") and inspect.isclass(resolve(path)), path


# --- test_project_structure.py: every operator in an example DAG -----------------------------------


def _dag_files() -> list[Path]:
    return sorted(DAGS_FOLDER.glob("example_*.py"))


def _uses(dag_file: Path, cls: type) -> bool:
    """Whether the DAG file imports ``cls`` from the module defining it, and uses it."""
    tree = ast.parse(dag_file.read_text())
    imported = any(
        isinstance(node, ast.ImportFrom)
        and node.module == cls.__module__
        and any(alias.name == cls.__name__ and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )
    used = any(
        isinstance(node, ast.Name) and node.id == cls.__name__ and isinstance(node.ctx, ast.Load)
        for node in ast.walk(tree)
    )
    return imported and used


def _dag_ids_run_by_integration_tests() -> set[str]:
    text = "\n".join(path.read_text() for path in INTEGRATION_TESTS.glob("test_*.py"))
    return set(re.findall(r"\"(example_ttm_\w+)\"", text))


def test_the_base_classes_are_bases_of_public_operators() -> None:
    """``BASE_CLASSES`` holds real bases only: it can hide no operator from the rule below."""
    classes = {cls.__name__: cls for cls in operator_classes()}
    public = public_operator_classes()
    assert set(classes) >= BASE_CLASSES
    for name in BASE_CLASSES:
        assert any(issubclass(cls, classes[name]) for cls in public), name


def test_every_public_operator_and_sensor_is_used_by_an_example_dag_the_integration_tests_run() -> None:
    run = _dag_ids_run_by_integration_tests()
    public = public_operator_classes()
    assert len(public) >= 8
    missing = {}
    for cls in public:
        dags = [path.stem for path in _dag_files() if _uses(path, cls)]
        if not set(dags) & run:
            missing[cls.__name__] = dags
    assert missing == {}, f"no example DAG run by tests/integration uses these (DAGs using them): {missing}"


# --- validate_operators_init.py: template fields kept as given --------------------------------------


class Sentinel:
    """A value no check would accept and no code would make: only ``__init__`` storing it keeps it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<sentinel {self.name}>"


@pytest.mark.parametrize("cls", public_operator_classes(), ids=lambda cls: cls.__name__)
def test_init_stores_every_template_field_exactly_as_given(cls: type) -> None:
    sentinels = {field: Sentinel(field) for field in cls.template_fields}
    task = cls(task_id="t", **REQUIRED_ARGUMENTS.get(cls.__name__, {}), **sentinels)
    changed = {
        field: getattr(task, field) for field in sentinels if getattr(task, field) is not sentinels[field]
    }
    assert changed == {}


def _init_of(cls: type) -> ast.FunctionDef | None:
    """The AST of ``cls``'s own ``__init__``, if it defines one."""
    if "__init__" not in vars(cls):
        return None
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    (class_node,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    return next(
        node for node in class_node.body if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )


def _parameters(init: ast.FunctionDef) -> set[str]:
    arguments = init.args
    return {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_none_check(node: ast.AST) -> bool:
    """``x is None`` or ``x is not None``: whether an argument was given, not what it holds."""
    return (
        isinstance(node, ast.Compare)
        and [type(op) for op in node.ops] in ([ast.Is], [ast.IsNot])
        and isinstance(node.comparators[0], ast.Constant)
        and node.comparators[0].value is None
    )


def init_findings(cls: type) -> list[str]:
    """What ``validate_operators_init`` would report of ``cls``'s own ``__init__``.

    Each template field that is a parameter of this ``__init__`` must be stored by a statement of
    its own, ``self.<field> = <field>``, or handed on unchanged as ``super().__init__(<field>=<field>)``;
    no other code of ``__init__`` may read it (as the parameter or as ``self.<field>``), except to
    ask whether it ``is None``.
    """
    init = _init_of(cls)
    if init is None:
        return []
    fields = set(cls.template_fields)
    own = fields & _parameters(init)
    findings: list[str] = []
    sanctioned: set[int] = set()
    stored: Counter[str] = Counter()
    top_level = {id(statement) for statement in init.body}
    for node in ast.walk(init):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if not (isinstance(target, ast.Attribute) and _is_self(target.value) and target.attr in fields):
                continue
            value = getattr(node, "value", None)
            if (
                id(node) in top_level
                and isinstance(node, ast.Assign)
                and targets == [target]
                and isinstance(value, ast.Name)
                and value.id == target.attr
            ):
                sanctioned.add(id(value))
                stored[target.attr] += 1
            else:
                findings.append(f"line {node.lineno}: self.{target.attr} is not stored as given")
    for node in ast.walk(init):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
        ):
            for keyword in node.keywords:
                if (
                    keyword.arg in fields
                    and isinstance(keyword.value, ast.Name)
                    and keyword.value.id == keyword.arg
                ):
                    sanctioned.add(id(keyword.value))
                    stored[keyword.arg] += 1
        elif _is_none_check(node):
            sanctioned.add(id(node.left))
    for node in ast.walk(init):
        if id(node) in sanctioned or not isinstance(getattr(node, "ctx", None), ast.Load):
            continue
        if isinstance(node, ast.Name) and node.id in own:
            findings.append(f"line {node.lineno}: logic on template field {node.id}")
        elif isinstance(node, ast.Attribute) and _is_self(node.value) and node.attr in fields:
            findings.append(f"line {node.lineno}: logic on template field self.{node.attr}")
    findings += [
        f"{field} is stored {stored[field]} times, not once" for field in sorted(own) if stored[field] != 1
    ]
    return findings


@pytest.mark.parametrize("cls", operator_classes(), ids=lambda cls: cls.__name__)
def test_init_assigns_template_fields_without_logic(cls: type) -> None:
    assert init_findings(cls) == []


def test_every_template_field_is_a_parameter_of_an_init_of_the_package() -> None:
    for cls in operator_classes():
        inits = [_init_of(base) for base in cls.__mro__ if base.__module__.startswith(f"{PACKAGE}.")]
        parameters = set().union(*(_parameters(init) for init in inits if init is not None))
        assert set(cls.template_fields) <= parameters, cls.__name__


class _Transforming(BaseOperator):
    template_fields = ("statuses", "name", "model_name", "model_type")

    def __init__(self, *, statuses: Any, name: Any, model_name: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.statuses = list(statuses) if isinstance(statuses, tuple) else statuses
        self.name = name
        if self.name == "":
            raise ValueError("name")
        self.model_name = model_name
        self.model_name = model_name
        if kwargs:
            self.model_type = "classifier"


class _Plain(BaseOperator):
    template_fields = ("model_name", "name")

    def __init__(self, *, model_name: Any, name: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.name = name
        if name is None:
            self.log.debug("no name")


def test_the_ast_rule_finds_what_airflows_finds_and_allows_what_it_allows() -> None:
    findings = init_findings(_Transforming)
    assert any("self.statuses is not stored as given" in finding for finding in findings)
    assert any("logic on template field statuses" in finding for finding in findings)
    assert any("logic on template field self.name" in finding for finding in findings)
    assert "model_name is stored 2 times, not once" in findings
    assert any("self.model_type is not stored as given" in finding for finding in findings)
    assert init_findings(_Plain) == []
