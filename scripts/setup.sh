#!/usr/bin/env bash
# Installs what the test suite and the demo need and a fresh machine lacks, caching downloads in
# the ignored .cache/ folder: Debian tools, the Kafka jars (Maven), the Python venv of interop
# readers (PyPI + Maven Central) and the Airflow venvs of the DAG test (PyPI). Idempotent and
# quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debian=()
for tool in xmllint:libxml2-utils lbzip2:lbzip2 bzip2:bzip2 zstd:zstd /usr/bin/time:time; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_debian+=("${tool##*:}")
done
# Debian's python3 builds no venv without python3-venv (ensurepip).
if [ "${MWLAKE_SKIP_PYTHON:-0}" != 1 ] && ! "${MWLAKE_PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_debian+=(python3-venv)
fi
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n)
if [ "${#need_debian[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    echo "setup: installing Debian packages: ${need_debian[*]}"
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debian[@]}" >/dev/null
  else
    echo "setup: missing tools; install the Debian packages: ${need_debian[*]}" >&2
    exit 69
  fi
fi

# Under pipefail a missing java would end the script here without a word.
java_major=$(command -v java >/dev/null && java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
  echo "setup: Java 17 or newer is required (found: ${java_major:-none})" >&2
  exit 69
fi

bash scripts/kafka.sh fetch
if [ "${MWLAKE_SKIP_PYTHON:-0}" != 1 ]; then
  bash scripts/setup-python.sh
  bash scripts/setup-airflow.sh
fi
