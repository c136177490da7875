"""Loads jobs/airflow's DAG file with Airflow's own DagBag and prints what a scheduler would see.

Usage: airflow_dag.py DAGS_FOLDER DS. One JSON line: import errors, the warnings raised while the
file was imported (deprecations included), and per task its mwlake arguments rendered for logical date DS,
its downstream tasks, trigger rule and retries
(args for a backfill run, scheduled_args for a scheduled run, manual_args and manual_date_args for a manual run without and with a date in its conf). Runs under Airflow 2.10 and 3 (DagBag moved in 3).
"""

import json

import pendulum
import sys
import types
import warnings

folder, ds = sys.argv[1], sys.argv[2]

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3

        bag = DagBag(dag_folder=folder)
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2

        bag = DagBag(dag_folder=folder, include_examples=False)



def run_ds(timetable, run_after):
    """The ds of a run starting at run_after: its data interval's start (None for a trigger timetable)."""
    infer = getattr(timetable, "infer_manual_data_interval", None)
    return None if infer is None else str(infer(run_after=run_after).start.date())


dag = bag.dags.get("mwlake_dumps")
import airflow

out = {
    "airflow": airflow.__version__,
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    # Only what our file raised: Airflow's own modules warn about themselves too. DagBag records
    # a file's warnings itself (captured_warnings), so they may never reach `caught`.
    "warnings": sorted(
        {f"{w.category.__name__}: {w.message}" for w in caught if w.filename.startswith(folder)}
        | {str(w) for path, ws in getattr(bag, "captured_warnings", {}).items() if path.startswith(folder) for w in ws}
    ),
    "dags": sorted(bag.dags),
}
if dag is not None:
    out.update(
        timetable=type(dag.timetable).__name__,
        # The logical date (ds) of the run the scheduler starts at 2026-11-06 02:10 UTC.
        ds_of_run_at_20261106_0210=run_ds(dag.timetable, pendulum.datetime(2026, 11, 6, 2, 10, tz="UTC")),
        catchup=dag.catchup,
        max_active_runs=dag.max_active_runs,
        tasks={
            t.task_id: {
                "args": t.render_template(list(t.op_args), {"ds": ds, "dag_run": types.SimpleNamespace(run_type="backfill", conf={})}),
                "scheduled_args": t.render_template(list(t.op_args), {"ds": ds, "dag_run": types.SimpleNamespace(run_type="scheduled", conf={})}),
                # A manual run's ds is its trigger date (Airflow 3 may have none): it must not be used.
                "manual_args": t.render_template(list(t.op_args), {"ds": "2026-11-06", "dag_run": types.SimpleNamespace(run_type="manual", conf={})}),
                "manual_date_args": t.render_template(list(t.op_args), {"ds": "2026-11-06", "dag_run": types.SimpleNamespace(run_type="manual", conf={"date": "2026-11-02"})}),
                "callable": t.python_callable.__name__,
                "downstream": sorted(t.downstream_task_ids),
                "retries": t.retries,
                "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
            }
            for t in dag.tasks
        },
    )
print(json.dumps(out))
