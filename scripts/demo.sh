#!/usr/bin/env bash
# `npm run demo`: a local broker, a seeded day of generated events for three wikis, one nightly
# run (drain → merge → dumps for that day), and a first query. Everything lands under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
if [ -z "${KAFKA_BROKERS:-}" ]; then bash scripts/kafka.sh ensure >/dev/null; fi
BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
STREAM="mwlake.demo.$(date +%s).page_content_change.v1"
export KAFKA_BROKERS="$BROKERS" MWLAKE_TOPICS="eqiad.$STREAM,codfw.$STREAM" MWLAKE_WAREHOUSE="$PWD/.demo/warehouse" MWLAKE_DUMPS_ROOT="$PWD/.demo/dumps"
mwlake() { node dist/src/cli/main.js --log-level warn "$@"; }
mwlake gen --seed 1 --days 1 --rate 3000 --start 2026-11-01 --wikis enwiki,dewiki,frwiki --bad-fraction 0.01 --stream "$STREAM" --to kafka --brokers "$BROKERS"
mwlake nightly --config jobs/page_content_change.yaml --date 2026-11-02 --json | head -c 2000; echo
echo "dumps: $MWLAKE_DUMPS_ROOT"; ls "$MWLAKE_DUMPS_ROOT"/enwiki/20261102 | head
mwlake query --config jobs/page_content_change.yaml --format table \
  "SELECT wiki_id, count(*) AS revisions, count(DISTINCT page_id) AS pages FROM revisions GROUP BY ALL ORDER BY 1"
