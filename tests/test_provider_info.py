"""The provider's metadata: valid for Airflow's own schema, and registered where Airflow looks."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_ttm.get_provider_info import get_provider_info
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook


def test_provider_info_validates_against_airflows_own_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_name_matches_the_distribution_and_entry_point() -> None:
    info = get_provider_info()
    assert info["package-name"] == metadata.distribution("airflow-provider-ttm").metadata["Name"]
    entry_points = metadata.entry_points(group="apache_airflow_provider")
    ours = [ep for ep in entry_points if ep.value.startswith("airflow_provider_ttm.")]
    assert len(ours) == 1
    assert ours[0].load()() == info


def test_connection_type_describes_the_form() -> None:
    (connection,) = get_provider_info()["connection-types"]
    assert connection["connection-type"] == TuneTheModelHook.conn_type == "ttm"
    assert connection["hook-name"] == TuneTheModelHook.hook_name == "Tune The Model"
    assert connection["hook-class-name"] == "airflow_provider_ttm.hooks.ttm.TuneTheModelHook"
    behaviour = connection["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key", "port": "Base URL port"}
    assert {"login", "schema"} <= set(behaviour["hidden-fields"])
    # The port stays shown: Airflow 3.3.2's Test action needs a stored port (see the README).
    assert not {"host", "password", "port"} & set(behaviour["hidden-fields"])
    fields = connection["conn-fields"]
    assert {"timeout", "max_attempts", "backoff_cap", "verify", "proxy", "allow_insecure_http"} <= set(fields)
    for spec in fields.values():
        assert spec["label"]
        assert "type" in spec["schema"]


def test_hook_form_methods_match_provider_info_for_older_airflow() -> None:
    (connection,) = get_provider_info()["connection-types"]
    behaviour = TuneTheModelHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == connection["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"] == connection["ui-field-behaviour"]["relabeling"]


def test_every_listed_module_imports() -> None:
    import importlib

    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                assert importlib.import_module(module)


def test_the_installed_airflow_reads_the_connection_form() -> None:
    """Airflow 3.2+ reads the form from the provider info, older Airflow from the hook's methods."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    (connection,) = get_provider_info()["connection-types"]
    behaviour = manager.field_behaviours["ttm"]
    assert behaviour["hidden_fields"] == connection["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"] == connection["ui-field-behaviour"]["relabeling"]
    assert behaviour["placeholders"] == connection["ui-field-behaviour"]["placeholders"]
    prefix = "extra__ttm__"
    extras = {
        name.removeprefix(prefix) for name in manager.connection_form_widgets if name.startswith(prefix)
    }
    assert extras == set(connection["conn-fields"])


def test_hook_form_widgets_follow_the_declared_fields() -> None:
    """The widgets Airflow < 3.2 shows (its UI brings Flask-AppBuilder and WTForms; 3.x may not)."""
    pytest.importorskip("flask_appbuilder", reason="the hook's form widgets are read by Airflow < 3.2 only")
    from wtforms import BooleanField, IntegerField, StringField

    widgets = TuneTheModelHook.get_connection_form_widgets()

    (connection,) = get_provider_info()["connection-types"]
    assert set(widgets) == set(connection["conn-fields"])
    for name, widget in widgets.items():
        assert str(widget.args[0]) == connection["conn-fields"][name]["label"]
    kinds = {name: widget.field_class for name, widget in widgets.items()}
    assert kinds == {
        "timeout": StringField,
        "max_attempts": IntegerField,
        "backoff_cap": StringField,
        "verify": StringField,
        "proxy": StringField,
        "allow_insecure_http": BooleanField,
    }
    assert widgets["verify"].kwargs["default"] == "true"
    assert widgets["proxy"].kwargs["default"] is None
    assert widgets["allow_insecure_http"].kwargs["default"] is False
    (_, bounds) = widgets["max_attempts"].kwargs["validators"]
    assert (bounds.min, bounds.max) == (1, 20)
