#!/usr/bin/env bash
# Builds the interop environment the tests use to read and write Iceberg tables with real engines:
# .cache/venv (PyIceberg, pyarrow, DuckDB 1.4.4 + its iceberg/avro extensions from PyPI, pyspark,
# mwxml; exact pins in tools/python/requirements.txt) and .cache/spark-jars (the Iceberg Spark
# runtime from Maven Central, pinned in tools/python/pom.xml and checked against
# tools/python/spark-jars.sha256). Idempotent: a stamp holding the hash of the pins makes a
# rerun a no-op; any change to the pins or to this script rebuilds the venv from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache
VENV=$CACHE/venv
JARS=$CACHE/spark-jars
STAMP=$VENV/.mwlake-pins.sha256
PYTHON=${MWLAKE_PYTHON:-python3}
PINS=(tools/python/requirements.txt tools/python/pom.xml tools/python/spark-jars.sha256 tools/python/build-constraints.txt scripts/setup-python.sh)

# The stamp hashes the concatenated bytes of PINS in this order; test/helpers/python.ts computes
# the same hash to tell a stale venv from a current one.
pins_hash=$(cat "${PINS[@]}" | sha256sum | cut -d' ' -f1)

up_to_date() {
  [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$pins_hash" ] \
    && (cd "$JARS" 2>/dev/null && sha256sum --quiet -c "../../tools/python/spark-jars.sha256" >/dev/null 2>&1)
}

if up_to_date; then
  echo "setup-python: .cache/venv and .cache/spark-jars are up to date"
  exit 0
fi

mkdir -p "$CACHE"
# Two setups at once (a developer and a test run) must not build the venv over each other.
exec 9>"$CACHE/setup-python.lock"
flock 9
if up_to_date; then
  echo "setup-python: .cache/venv and .cache/spark-jars are up to date"
  exit 0
fi

started=$(date +%s)

py_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$py_version" != 3.11 ]; then
  # The lock was resolved for CPython 3.11 wheels; another minor version may need other wheels.
  echo "setup-python: warning: tools/python/requirements.txt was resolved on Python 3.11, found $py_version" >&2
fi
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "setup-python: java (17+) and mvn are required for the Spark jars" >&2
  exit 69
fi

echo "setup-python: building $VENV (pins $pins_hash)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
export PIP_CACHE_DIR=$PWD/$CACHE/pip PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# Also read by the isolated environments pip builds source-only packages in.
export PIP_CONSTRAINT=$PWD/tools/python/build-constraints.txt
# --no-deps: the lock is complete, so pip installs exactly it and never resolves anew.
"$VENV/bin/python" -m pip install --quiet --require-virtualenv --no-deps \
  -r tools/python/requirements.txt
"$VENV/bin/python" -m pip check

echo "setup-python: fetching the Spark jars into $JARS"
rm -rf "$JARS"
mkdir -p "$JARS"
# Maven prints its errors on stdout; keep them for a failure only.
if ! mvn_log=$(mvn --batch-mode --quiet --strict-checksums -Dstyle.color=never -f tools/python/pom.xml \
  -Dmaven.repo.local="$PWD/$CACHE/m2" \
  dependency:copy-dependencies -DoutputDirectory="$PWD/$JARS" -DexcludeTransitive=true 2>&1); then
  echo "$mvn_log" >&2
  echo "setup-python: fetching the Spark jars with Maven failed" >&2
  exit 69
fi
(cd "$JARS" && sha256sum --quiet -c ../../tools/python/spark-jars.sha256)

# Smoke check: every package imports, and DuckDB finds its extensions inside the venv.
"$VENV/bin/python" test/interop/py/env_check.py >/dev/null

echo "$pins_hash" >"$STAMP"
echo "setup-python: done in $(( $(date +%s) - started ))s ($(du -sh "$VENV" | cut -f1) venv, $(du -sh "$JARS" | cut -f1) jars)"
