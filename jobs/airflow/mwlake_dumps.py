"""Airflow DAG running mwlake's nightly steps as separate tasks.

One task per step (drain -> merge -> dump -> maintain), a daily schedule at 02:10 UTC, retries
with backoff, and backfill: `airflow dags backfill mwlake_dumps -s 2026-11-01 -e 2026-11-07`
(Airflow 3: `airflow backfill create --dag-id mwlake_dumps --from-date 2026-11-01 --to-date
2026-11-07 --max-active-runs 1`, whose own limit is otherwise 10 runs at once, with
`--reprocess-behavior completed` for dates that already ran) regenerates the dumps of each date through `mwlake dump --date {{ ds }}`.
A scheduled run dumps every due date (`mwlake dump --due`, as `mwlake nightly`), so nights the
scheduler missed (catchup is off) are dumped by the next scheduled run. Drain, merge and
maintain are idempotent, so a backfilled run only repeats cheap no-ops for them, except that
with `dumps.keep_runs` set, maintain removes a backfilled date older than the runs kept again
(raise keep_runs first). Maintenance (compaction, snapshot expiry, orphan removal, old dump runs
past dumps.keep_runs) is what `mwlake nightly` does last; without it the tables' small files and
snapshots would grow night after night. Maintain runs once merge has succeeded, also after a
failed dump (nightly maintains past the wikis whose dumps failed, and one wiki missing from the
namespace map must not stop maintenance night after night); the run then still fails, through
maintain, naming the dump. It reads merge's and dump's outcome from their XCom: a task marked
success by hand pushed none, and counts as failed. Nightly's run report and metrics textfile have no task here: Airflow keeps the tasks'
logs and states.

Retries follow mwlake's exit codes (README "Exit codes"): a failure that a rerun can fix (69
unavailable, 74, 75 locked or conflict, SIGTERM and other signals) is retried; one that needs a
person (64 usage, 65 bad data such as a retention gap, 70 a bug, 71 out of memory or disk, 77 a
path or permission that storage refused, 78 configuration, SIGKILL, most often the OOM
killer, and SIGABRT, most often node out of heap) fails
the task at once, so the alert comes at 02:10, not after an hour of retries. A BashOperator
cannot tell exit codes apart, hence a Python callable running the CLI.

Loads under Airflow 2.10 and 3 (test/interop/airflow-dag.test.ts runs it under both).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from datetime import datetime, timedelta

import pendulum
from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

try:  # Airflow 3
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowFailException

try:  # Airflow 3 (and 2.x with apache-airflow-providers-standard)
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator

# A command line: one path, or several words in shell quoting (`'node' '/srv/mwlake/dist/src/cli/main.js'`).
# The default runs a checkout built by `npm ci`, which links no bin for mwlake itself.
MWLAKE = os.environ.get("MWLAKE_BIN", "node /srv/mwlake/dist/src/cli/main.js")
CONFIG = os.environ.get("MWLAKE_CONFIG", "/srv/mwlake/jobs/page_content_change.yaml")

# Exit codes no retry can fix: each needs a person first. mwlake never exits 1 itself: that is node
# failing to load it (a MWLAKE_BIN naming a missing or unbuilt checkout) or a crash.
NEEDS_A_PERSON = {1: "node could not start mwlake, or it crashed", 64: "usage error", 65: "bad data", 70: "internal error", 71: "out of memory or disk", 77: "storage refused: permission or path", 78: "configuration error"}


# A step's XCom when it succeeded in this run: maintain reads merge's and dump's.
DONE = "done"


def run_mwlake(*args: str) -> str:
    """Runs `mwlake ARGS`, its output in the task log; fails without retries on NEEDS_A_PERSON codes."""
    try:
        command = [*shlex.split(MWLAKE), *args]
        if len(command) == len(args):
            raise ValueError("it is empty")
        print("running: " + shlex.join(command), flush=True)
        # Its own session: a kill of the task's process group must not reach mwlake besides the
        # one SIGTERM below, since a second signal makes it exit without cleaning up.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", start_new_session=True
        )
    except (OSError, ValueError) as error:  # a wrong MWLAKE_BIN: no retry can fix it either
        raise AirflowFailException(f"cannot run MWLAKE_BIN={MWLAKE!r}: {error}") from error
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
        code = process.wait()
    except BaseException:
        # A task timeout or a kill from the UI: mwlake cleans up on SIGTERM within 20 s; what it
        # says meanwhile still goes to the log.
        process.terminate()
        try:
            rest, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        print(rest, end="", flush=True)
        raise
    if code == 0:
        return DONE
    if code == -signal.SIGKILL:
        # Not mwlake's own exit: most often the kernel's OOM killer, which a retry meets again.
        raise AirflowFailException(
            f"mwlake {args[0]} was killed by SIGKILL (most often the kernel's OOM killer: see dmesg; lower memory_limit_mb"
            " in the job file or give the host more memory): not retried; fix the cause, then clear the task"
        )
    if code == -signal.SIGABRT:
        # Node aborts when its main thread runs out of JavaScript heap, which a retry meets again.
        raise AirflowFailException(
            f"mwlake {args[0]} aborted (SIGABRT: most often node out of JavaScript heap, as the log above says; raise"
            " --max-old-space-size in NODE_OPTIONS or give the host more memory): not retried; fix the cause, then clear the task"
        )
    what = f"mwlake {args[0]} exited with {code}"
    if code in NEEDS_A_PERSON:
        raise AirflowFailException(f"{what} ({NEEDS_A_PERSON[code]}): not retried; fix the cause, then clear the task")
    raise RuntimeError(f"{what}: retried")


def maintain_after_dump(*args: str, **context) -> str:
    """`mwlake maintain` once dump is done, whatever its outcome, if merge succeeded in this run.

    Maintain is the DAG's only leaf, so it fails when dump did, after maintaining: a run must not
    turn green with a failed dump.
    """
    # From the context: a parameter named `ti` beside *args is refused by Airflow 2's PythonOperator.
    ti = context["ti"]
    if ti.xcom_pull(task_ids="merge") != DONE:
        raise AirflowFailException("mwlake maintain not run: merge did not succeed in this run (see the failed task); fix that, then clear it")
    run_mwlake(*args)
    if ti.xcom_pull(task_ids="dump") != DONE:
        raise AirflowFailException("mwlake maintain ran, but dump did not succeed in this run (see its log): fix it, then clear dump with its downstream tasks")
    return DONE


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

    def step(task_id: str, *args: str, python_callable=run_mwlake, **kwargs) -> PythonOperator:
        return PythonOperator(task_id=task_id, python_callable=python_callable, op_args=[task_id, *args], **kwargs)

    drain = step("drain", "--config", CONFIG)
    merge = step("merge", "--config", CONFIG)
    # The dump dated {{ ds }} holds revisions before ds 00:00 UTC. The run for ds starts after its
    # data interval ends (ds + 1 day, 02:10), so backfilling -s D1 -e D2 writes exactly the dumps
    # dated D1..D2, one per run. Any other run dumps every due date (`--due`, as `mwlake nightly`
    # does): with catchup off, nights the scheduler missed get no run of their own, and the next
    # run dumps them. A manual run's ds is its trigger time's date (Airflow 3: none), so dumping it
    # would write a day early and leave the failed night behind; a date of its own comes from the
    # run's conf ({"date": "YYYY-MM-DD"}).
    dump = step(
        "dump",
        "--config",
        CONFIG,
        "--wiki",
        "all",
        "{{ '--date=' ~ dag_run.conf['date'] if dag_run.conf and dag_run.conf.get('date') else ('--date=' ~ ds if dag_run.run_type == 'backfill' else '--due') }}",
    )
    maintain = step("maintain", "--config", CONFIG, python_callable=maintain_after_dump, trigger_rule="all_done")
    drain >> merge >> dump >> maintain
