#!/usr/bin/env bash
# Builds the two Airflow venvs the DAG test (test/interop/airflow-dag.test.ts) runs
# jobs/airflow/mwlake_dumps.py under: .cache/airflow2 (Airflow 2.10) and .cache/airflow3
# (Airflow 3), each from its full lock in tools/airflow, installed with --no-deps. Separate from
# the interop venv: Airflow pins SQLAlchemy and friends that PyIceberg and pyspark need newer.
# Idempotent: a stamp holding the hash of the lock and this script makes a rerun a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache
PYTHON=${MWLAKE_PYTHON:-python3}
mkdir -p "$CACHE"
# Two setups at once (a developer and a test run) must not build a venv over each other.
exec 9>"$CACHE/setup-airflow.lock"
flock 9

for major in 2 3; do
  venv=$CACHE/airflow$major
  lock=tools/airflow/requirements-airflow$major.txt
  # test/helpers/python.ts computes the same hash (the lock's bytes, the build constraints', this script's).
  pins_hash=$(cat "$lock" tools/python/build-constraints.txt scripts/setup-airflow.sh | sha256sum | cut -d' ' -f1)
  if [ -x "$venv/bin/airflow" ] && [ "$(cat "$venv/.mwlake-pins.sha256" 2>/dev/null)" = "$pins_hash" ]; then
    echo "setup-airflow: $venv is up to date"
    continue
  fi
  started=$(date +%s)
  echo "setup-airflow: building $venv (pins $pins_hash)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  PIP_CACHE_DIR=$PWD/$CACHE/pip PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
    PIP_CONSTRAINT=$PWD/tools/python/build-constraints.txt \
    "$venv/bin/python" -m pip install --quiet --require-virtualenv --no-deps -r "$lock"
  "$venv/bin/python" -m pip check
  "$venv/bin/python" -c 'import airflow' 2>/dev/null || { echo "setup-airflow: airflow does not import in $venv" >&2; exit 69; }
  echo "$pins_hash" >"$venv/.mwlake-pins.sha256"
  echo "setup-airflow: $venv done in $(( $(date +%s) - started ))s ($(du -sh "$venv" | cut -f1))"
done
