"""The DAG's callable when its task is killed (a timeout, a kill from the UI) while mwlake runs.

Usage: airflow_kill.py DAGS_FOLDER WORK_DIR. MWLAKE_BIN is a bash stand-in that reports its process
group, then signals this process (SIGUSR1), whose handler raises as Airflow's timeout does; it
prints a line when SIGTERM arrives. One JSON line: what was raised, the task log, both process
groups, and whether the stand-in is gone (reaped) once the callable has returned.
"""

import contextlib
import io
import json
import os
import signal
import sys

folder = sys.argv[1]
ids_file = os.path.join(sys.argv[2], "stand-in.ids")
# Its ids go to a file: a line in flight when the handler raises may not reach the log.
stand_in = f'trap "echo cleaning up; exit 143" TERM; echo "$$ $(ps -o pgid= $$)" > {ids_file}; kill -USR1 $PPID; while :; do sleep 0.05; done'
os.environ["MWLAKE_BIN"] = f"bash -c '{stand_in}' mwlake"
sys.path.insert(0, folder)
import mwlake_dumps  # noqa: E402


class TaskTimeout(Exception):
    pass


def timeout(*_):
    raise TaskTimeout("task timed out")


signal.signal(signal.SIGUSR1, timeout)
log = io.StringIO()
raised = None
with contextlib.redirect_stdout(log):
    try:
        mwlake_dumps.run_mwlake("drain", "--config", "job.yaml")
    except TaskTimeout as error:
        raised = str(error)
text = log.getvalue()
with open(ids_file) as f:
    pid, pgid = f.read().split()
try:
    os.kill(int(pid), 0)
    gone = False
except ProcessLookupError:
    gone = True
print(json.dumps({"raised": raised, "log": text, "child_pgid": int(pgid), "own_pgid": os.getpgrp(), "child_gone": gone}))
