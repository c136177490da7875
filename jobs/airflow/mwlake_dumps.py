"""Airflow DAG running mwlake's nightly steps as separate tasks.

One task per step (drain -> merge -> dump -> maintain), a daily schedule at 02:10 UTC, retries
with backoff, and backfill: `airflow dags backfill mwlake_dumps -s 2026-11-01 -e 2026-11-07`
regenerates the dumps of each date through `mwlake dump --date {{ ds }}`. Drain, merge and
maintain are idempotent, so a backfilled run only repeats cheap no-ops for them. Maintenance
(compaction, snapshot expiry, orphan removal) is what `mwlake nightly` does last; without it the
tables' small files and snapshots would grow night after night. Nightly's run report and
metrics textfile have no task here: Airflow keeps the tasks' logs and states.

Loads under Airflow 2.10 and 3 (test/interop/airflow-dag.test.ts runs it under both).
Exit code 75 (locked or temporary failure) is retried; 64/65/78 are not worth retrying but
Airflow cannot tell exit codes apart in BashOperator, so retries stay bounded.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pendulum
from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

try:  # Airflow 3 (and 2.x with apache-airflow-providers-standard)
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

MWLAKE = os.environ.get("MWLAKE_BIN", "/srv/mwlake/node_modules/.bin/mwlake")
CONFIG = os.environ.get("MWLAKE_CONFIG", "/srv/mwlake/jobs/page_content_change.yaml")

default_args = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=6),
}

with DAG(
    dag_id="mwlake_dumps",
    description="Drain page_content_change from Kafka, merge into state tables, write XML dumps",
    # Explicit: a bare cron string means CronTriggerTimetable in Airflow 3, whose run at D+1 02:10
    # has ds D+1, not D as in Airflow 2, and would dump a day early with 2 h left for late events.
    schedule=CronDataIntervalTimetable("10 2 * * *", timezone=pendulum.timezone("UTC")),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["mwlake", "dumps"],
) as dag:
    drain = BashOperator(task_id="drain", bash_command=f"{MWLAKE} drain --config {CONFIG}")
    merge = BashOperator(task_id="merge", bash_command=f"{MWLAKE} merge --config {CONFIG}")
    # The dump dated {{ ds }} holds revisions before ds 00:00 UTC. The run for ds starts after its
    # data interval ends (ds + 1 day, 02:10), so backfilling -s D1 -e D2 writes exactly the dumps
    # dated D1..D2, one per run.
    dump = BashOperator(
        task_id="dump",
        bash_command=f"{MWLAKE} dump --config {CONFIG} --wiki all --date {{{{ ds }}}}",
    )
    maintain = BashOperator(task_id="maintain", bash_command=f"{MWLAKE} maintain --config {CONFIG}")
    drain >> merge >> dump >> maintain
