"""``start_from_trigger``: what the sensor hands Airflow where it can start in the triggerer, and elsewhere."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import DAG, TaskDeferred
from support.fakes import FakeTaskInstance

from airflow_provider_ttm.sensors import ttm as sensor_module
from airflow_provider_ttm.sensors.ttm import TuneTheModelModelReadySensor
from airflow_provider_ttm.triggers.ttm import CLASSPATH, TuneTheModelModelStatusTrigger
from airflow_provider_ttm.version_compat import AIRFLOW_V_3_3_PLUS, START_FROM_TRIGGER_SUPPORTED

FROM_XCOM = "{{ ti.xcom_pull(task_ids='create', map_indexes=-1) }}"
needs_support = pytest.mark.skipif(
    not START_FROM_TRIGGER_SUPPORTED, reason="this Airflow does not start tasks in the triggerer"
)


def _sensor(**kwargs) -> TuneTheModelModelReadySensor:
    kwargs.setdefault("model_name", FROM_XCOM)
    kwargs.setdefault("deferrable", True)
    return TuneTheModelModelReadySensor(task_id="wait", start_from_trigger=True, **kwargs)


def _serialized(dag: DAG):
    try:
        from airflow.serialization.serialized_objects import DagSerialization
    except ImportError:  # before Airflow 3.2
        from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization
    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_supported_from_airflow_3_3_on() -> None:
    # 3.1 and 3.2 ignore start_from_trigger; 2.11 and 3.0 do not render the trigger's arguments.
    assert START_FROM_TRIGGER_SUPPORTED is AIRFLOW_V_3_3_PLUS


@needs_support
def test_the_trigger_starts_with_the_sensor_arguments_and_no_key() -> None:
    sensor = _sensor(
        poke_interval=7,
        timeout=900,
        max_consecutive_errors=2,
        strict=True,
        coalesce=False,
        ttm_conn_id="ttm_x",
    )

    args = sensor.start_trigger_args
    assert sensor.start_from_trigger is True
    assert args is not None
    assert (args.trigger_cls, args.next_method, args.next_kwargs) == (CLASSPATH, "execute_complete", None)
    assert args.timeout == timedelta(seconds=900)
    assert args.trigger_kwargs == {
        "ttm_conn_id": "ttm_x",
        "model_name": FROM_XCOM,
        "poll_interval": 7.0,
        "deadline": None,  # Airflow's trigger timeout ends the wait, as a sensor timeout
        "max_consecutive_errors": 2,
        "strict": True,
        "started_at": None,
        "coalesce": False,
        "errors_in_a_row": 0,
        "end_from_trigger": True,  # the trigger ends the task: no worker resumes it
        "skip_on_failure": False,
        "do_xcom_push": True,
        "delete_on_kill": False,  # the sensor never started the model's training: never deletes it
    }
    # The triggerer builds the trigger from exactly these arguments.
    assert TuneTheModelModelStatusTrigger(**args.trigger_kwargs).serialize() == (
        CLASSPATH,
        args.trigger_kwargs,
    )


@needs_support
def test_the_serialized_task_starts_in_the_triggerer_but_a_mapped_one_does_not() -> None:
    with DAG("d", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        _sensor(timeout=60)
        TuneTheModelModelReadySensor.partial(
            task_id="mapped", deferrable=True, start_from_trigger=True
        ).expand(model_name=["a" * 32])

    serialized = _serialized(dag)
    task = serialized.get_task("wait")
    assert task.start_from_trigger is True
    assert task.start_trigger_args.next_method == "execute_complete"
    # A mapped task is not built until it runs: no start_trigger_args, so the scheduler sends it
    # to a worker (the scheduler's own check refuses mapped tasks too, apache/airflow issue 48009).
    assert serialized.get_task("mapped").start_trigger_args is None


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the triggerer renders templates from Airflow 3.3")
def test_the_triggerer_renders_the_templated_model_name() -> None:
    sensor = _sensor()
    trigger = TuneTheModelModelStatusTrigger(**sensor.start_trigger_args.trigger_kwargs)
    ti = FakeTaskInstance(task_id="create", xcoms={"return_value": "b" * 32})
    ti.task = sensor  # type: ignore[attr-defined]  # as the triggerer's RuntimeTaskInstance has

    trigger.task_instance = ti  # type: ignore[assignment]
    trigger.render_template_fields(context={"ti": ti})  # type: ignore[arg-type]

    assert set(trigger.template_fields) == {"model_name", "ttm_conn_id"}
    assert trigger.model_name == "b" * 32


def test_where_airflow_cannot_the_sensor_defers_from_the_worker_and_says_why(
    ttm_emulator, context, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sensor_module, "START_FROM_TRIGGER_SUPPORTED", False)
    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    sensor = _sensor(model_name=model_name, poke_interval=30, timeout=600)
    assert (sensor.start_from_trigger, sensor.start_trigger_args) == (False, None)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)

    assert deferred.value.trigger.model_name == model_name
    assert deferred.value.trigger.end_from_trigger is False  # the worker resumes what it deferred
    why = [line for line in capsys.readouterr().out.splitlines() if "start_from_trigger" in line]
    assert len(why) == 1
    assert "does not start tasks in the triggerer" in why[0]


@needs_support
def test_a_mapped_task_on_a_worker_says_why(ttm_emulator, capsys) -> None:
    from airflow_provider_ttm.hooks.ttm import TuneTheModelHook

    model_name = TuneTheModelHook().create_model("classifier", num_classes=2).model_name
    context = {"ti": FakeTaskInstance(task_id="wait", map_index=3)}

    with pytest.raises(TaskDeferred):
        _sensor(model_name=model_name, poke_interval=30).execute(context)

    logged = capsys.readouterr().out
    assert "start_from_trigger" in logged
    assert "mapped task" in logged
    assert "48009" in logged


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deferrable": False}, "needs deferrable=True"),
        (
            {"model_name": "{{ ti.xcom_pull(task_ids='create') }}"},
            "needs xcom_pull in model_name to name its map index",
        ),
        (
            {"model_name": "{{ task_instance.xcom_pull('create') }}"},
            "needs xcom_pull in model_name to name its map index",
        ),
    ],
)
def test_what_cannot_start_in_the_triggerer_is_refused_at_parse_time(kwargs, message) -> None:
    with pytest.raises(ValueError, match=f"start_from_trigger=True {message}"):
        _sensor(**kwargs)


def test_another_tasks_output_is_refused_at_parse_time() -> None:
    from airflow_provider_ttm.operators.ttm import TuneTheModelCreateModelOperator

    with DAG("d", schedule=None, start_date=datetime(2026, 1, 1)):
        create = TuneTheModelCreateModelOperator(task_id="create", model_type="generator")
        with pytest.raises(ValueError, match=r"start_from_trigger=True needs model_name as a string"):
            _sensor(model_name=create.output)


@needs_support
@pytest.mark.parametrize(
    ("kwargs", "skip", "push"),
    [
        ({}, False, True),
        ({"soft_fail": True}, True, True),
        ({"never_fail": True}, True, True),
        ({"do_xcom_push": False}, False, False),
    ],
)
def test_the_trigger_ends_the_task_as_the_sensor_would(kwargs, skip, push) -> None:
    trigger_kwargs = _sensor(**kwargs).start_trigger_args.trigger_kwargs
    ended = (
        trigger_kwargs["end_from_trigger"],
        trigger_kwargs["skip_on_failure"],
        trigger_kwargs["do_xcom_push"],
    )
    assert ended == (True, skip, push)


def test_off_by_default() -> None:
    sensor = TuneTheModelModelReadySensor(task_id="wait", model_name="a" * 32, deferrable=True)
    assert (sensor.start_from_trigger, sensor.start_trigger_args) == (False, None)


@needs_support
def test_the_end_of_the_wait_is_a_sensor_timeout_that_soft_fail_skips(context) -> None:
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    # What Airflow hands the worker once the trigger timeout (the sensor's timeout) has passed.
    timed_out = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}

    with pytest.raises(AirflowSensorTimeout):
        _sensor(model_name="a" * 32).resume_execution(TRIGGER_FAIL_REPR, timed_out, context)
    with pytest.raises(AirflowSkipException):
        _sensor(model_name="a" * 32, soft_fail=True).resume_execution(TRIGGER_FAIL_REPR, timed_out, context)
