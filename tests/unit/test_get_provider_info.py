"""The provider's metadata: valid for Airflow's own schema, and registered where Airflow looks."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata, util
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_ttm.get_provider_info import get_provider_info
from airflow_provider_ttm.hooks.ttm import TuneTheModelHook
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_2_PLUS


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
    # The port stays shown: Airflow 3.3.2's Test action needs a stored port (see docs/connection.md).
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


# What the connection form of Airflow 3.0 and 3.1 shows: the api-server's hook metadata, which calls the
# hook's methods with WTForms and Flask-AppBuilder mocked (3.1 also mocks them when not installed).
# In a subprocess: 3.1 leaves the mock modules in sys.modules.
_UI_HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
meta = {hook.connection_type: hook for hook in HookMetaService.hook_meta_data()}["ttm"]
print(json.dumps(meta.model_dump(mode="json")))
"""


@pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_2_PLUS, reason="Airflow 3.0 and 3.1 only (see the test below)"
)
def test_the_connection_form_of_airflow_3_0_and_3_1_comes_from_the_hook() -> None:
    if not AIRFLOW_V_3_1_PLUS and util.find_spec("wtforms") is None:
        pytest.skip(
            "Airflow 3.0 builds every provider's form fields with WTForms, which it does not install "
            "(apache-airflow-providers-fab brings it); without it no provider's form has extra fields"
        )
    completed = subprocess.run(
        [sys.executable, "-c", _UI_HOOK_META], capture_output=True, text=True, check=True
    )
    meta = json.loads(completed.stdout.strip().splitlines()[-1])
    (connection,) = get_provider_info()["connection-types"]
    behaviour = connection["ui-field-behaviour"]
    for field, label in behaviour["relabeling"].items():
        assert meta["standard_fields"][field]["title"] == label
    for field in behaviour["hidden-fields"]:
        if field in meta["standard_fields"]:
            assert meta["standard_fields"][field]["hidden"] is True
    assert {name: spec["schema"]["title"] for name, spec in meta["extra_fields"].items()} == {
        name: field["label"] for name, field in connection["conn-fields"].items()
    }


@pytest.mark.skipif(
    AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_2_PLUS,
    reason="Airflow 3.0 and 3.1 need WTForms for this (the test above reads their UI's form instead)",
)
def test_the_installed_airflow_reads_the_connection_form() -> None:
    """Airflow 3.2+ reads the form from the provider info, 2.11 from the hook's methods."""
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
    """The widgets Airflow < 3.2 shows (2.11's UI brings Flask-AppBuilder and WTForms; 3.x does not)."""
    pytest.importorskip(
        "flask_appbuilder",
        reason="no Flask-AppBuilder here (Airflow 2.11 installs it): the hook's widgets are read by Airflow < 3.2 "
        "only, on 3.1 through mocks (tested above)",
    )
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


# What `GET /ui/connections/hook_meta` answers for each connection type, as the api-server builds it.
_UI_DEFAULT_CONN_NAMES = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
print(json.dumps({hook.connection_type: hook.default_conn_name for hook in HookMetaService.hook_meta_data()}))
"""


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="the api-server's hook metadata is Airflow 3's")
def test_the_ui_hook_metadata_has_no_default_connection_id_for_any_type() -> None:
    """The UI reports ``default_conn_name: null`` for ``ttm`` as for every type: Airflow 3.0-3.3 fill it
    from nowhere (the provider-info schema has no key for it), so the provider has nothing to declare.

    If Airflow starts reading it, this fails: then declare ``ttm_default`` where it is read.
    """
    completed = subprocess.run(
        [sys.executable, "-c", _UI_DEFAULT_CONN_NAMES], capture_output=True, text=True, check=True
    )
    default_conn_names = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "ttm" in default_conn_names
    assert "fs" in default_conn_names  # the standard provider's FSHook, whose default is fs_default
    assert set(default_conn_names.values()) == {None}
    assert TuneTheModelHook.default_conn_name == "ttm_default"
