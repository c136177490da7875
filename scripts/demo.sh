#!/usr/bin/env bash
# `npm run demo`: a local broker, a seeded day of generated events for three wikis, one nightly
# run (drain → merge → dumps for that day), a first query and the status. Everything lands under
# .demo/; the broker keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
# Debian tools (lbzip2, zstd, ...) and the Kafka jars; the Python interop venv is only for tests.
MWLAKE_SKIP_PYTHON=1 bash scripts/setup.sh >/dev/null
OWN_BROKER=
if [ -z "${KAFKA_BROKERS:-}" ]; then bash scripts/kafka.sh ensure >/dev/null; OWN_BROKER=1; fi
# The broker kafka.sh started, on its port (MWLAKE_KAFKA_PORT), unless KAFKA_BROKERS names another.
BROKERS="${KAFKA_BROKERS:-127.0.0.1:${MWLAKE_KAFKA_PORT:-9092}}"
STREAM="mwlake.demo.$(date +%s).page_content_change.v1"
export KAFKA_BROKERS="$BROKERS" MWLAKE_TOPICS="eqiad.$STREAM,codfw.$STREAM" MWLAKE_WAREHOUSE="$PWD/.demo/warehouse" MWLAKE_DUMPS_ROOT="$PWD/.demo/dumps"
mwlake() { node dist/src/cli/main.js --log-level warn "$@"; }
mwlake gen --seed 1 --days 1 --rate 3000 --start 2026-11-01 --wikis enwiki,dewiki,frwiki --bad-fraction 0.01 --stream "$STREAM" --to kafka --brokers "$BROKERS"
mwlake nightly --config jobs/page_content_change.yaml --date 2026-11-02
echo "run report: $(ls -t "$MWLAKE_WAREHOUSE"/_reports/*.json | head -1)"
echo "dumps: $MWLAKE_DUMPS_ROOT"; ls "$MWLAKE_DUMPS_ROOT"/enwiki/20261102 | head
echo "edits per wiki:"
mwlake query --config jobs/page_content_change.yaml --format table \
  "SELECT wiki_id, count(*) AS edits, count(DISTINCT page_id) AS pages FROM revisions GROUP BY ALL ORDER BY 1"
echo
mwlake status --config jobs/page_content_change.yaml
echo
# The stop command names the port when it is not the default: kafka.sh stops the broker of its port.
STOP="npm run kafka:stop"; if [ -n "${MWLAKE_KAFKA_PORT:-}" ]; then STOP="MWLAKE_KAFKA_PORT=$MWLAKE_KAFKA_PORT $STOP"; fi
if [ -n "$OWN_BROKER" ]; then echo "The broker is still running at $BROKERS for more exploration; stop it with: $STOP"; fi
