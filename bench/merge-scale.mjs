#!/usr/bin/env node
// The merge row of `npm run bench`: a fixed delta of generated events merged into history tables
// of 1x and 8x size, RUNS times each, alternating sizes (the state tables are rolled back to before
// the delta between runs, so every run merges the same delta into the same history). Run alone: node
// bench/merge-scale.mjs HISTORY_EVENTS DELTA_EVENTS [RUNS] (after `npx tsc -p .`). Prints one JSON
// line: the median, min and max merge seconds at each size and the ratio of the medians.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const load = (p) => import(join(root, 'dist', p));
const [{ generateRecords }, { validatePageChange }, { EventStager }, { runMerge }, { Warehouse }, { LocalStorage, fileLocation }, { silentLogger }, { EVENTS_SCHEMA, EVENTS_SPEC }, { rollbackTo }, { STATE_NAMESPACE, PAGES_TABLE, REVISIONS_TABLE }] = await Promise.all([
  load('src/gen/generator.js'),
  load('src/events/validate.js'),
  load('src/pipeline/event-files.js'),
  load('src/pipeline/merge.js'),
  load('src/iceberg/catalog.js'),
  load('src/core/storage.js'),
  load('src/core/log.js'),
  load('src/events/events-table.js'),
  load('src/iceberg/commit/rollback.js'),
  load('src/merge/state-schema.js'),
]);

const history = Number(process.argv[2] ?? 50_000);
const delta = Number(process.argv[3] ?? 50_000);
const runs = Number(process.argv[4] ?? 3);
const work = mkdtempSync(join(tmpdir(), 'mwlake-bench-merge-'));
// Stopped (Ctrl-C, or the bench stopping its step), the folder goes: it holds gigabytes.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.on(signal, () => {
    try {
      // DuckDB's threads may still be writing into it: retried.
      rmSync(work, { recursive: true, force: true, maxRetries: 5 });
    } finally {
      process.exit(128 + number);
    }
  });
}
let offset = 0n;

/** The next `count` records of a generator, without ending it. */
function* take(records, count) {
  for (let i = 0; i < count; i++) {
    const next = records.next();
    if (next.done === true) return;
    yield next.value;
  }
}

async function append(warehouse, records) {
  const table = await warehouse.loadOrCreateTable('events', 'page_content_change', { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20 });
  try {
    for (const r of records) {
      const v = validatePageChange(JSON.parse(Buffer.from(r.value).toString('utf8')));
      if (v.ok) await stager.add(v.event, { topic: r.topic, partition: 0, offset: offset++, timestampMs: 0 });
    }
    await table.commit({ addDataFiles: await stager.finish() });
  } finally {
    await stager.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** History of `scale`x merged, then the delta appended: the state tables' snapshots before it merges. */
async function prepare(scale) {
  const warehouse = new Warehouse(new LocalStorage(), fileLocation(join(work, `x${scale}`)));
  const n = history * scale;
  // One seeded stream of the generator's usual content sizes (the ingest and dump rows' too): the
  // first n events are history, the next `delta` the delta, read as they are generated. The rate
  // is the delta per day at both sizes, so the delta is one day of events, as a nightly merge sees
  // it. (A fixed span made the 1x delta half a year of days: three times the event files of the 8x
  // one, and a 1x merge slower than the 8x.)
  const records = generateRecords({ seed: 31, startMs: Date.parse('2025-11-01T00:00:00Z'), events: n + delta, eventsPerDay: delta, wikis: ['enwiki', 'dewiki'] });
  await append(warehouse, take(records, n));
  await runMerge({ warehouse, eventsNamespace: 'events', eventsTable: 'page_content_change', logger: silentLogger() });
  await append(warehouse, take(records, delta));
  const state = await Promise.all([REVISIONS_TABLE, PAGES_TABLE].map((name) => warehouse.loadTable(STATE_NAMESPACE, name)));
  return { scale, warehouse, state, before: state.map((t) => t.currentSnapshot().snapshotId), seconds: [], eventFiles: 0 };
}

/** One merge of the delta, after rolling the state tables back to before it (from the second run). */
async function mergeOnce(size, run) {
  if (run > 0) for (const [k, t] of size.state.entries()) await rollbackTo(await t.refresh(), size.before[k]);
  // As every timed step of the bench: the writeback of what came before is not this merge's.
  execFileSync('sync');
  const started = process.hrtime.bigint();
  const result = await runMerge({ warehouse: size.warehouse, eventsNamespace: 'events', eventsTable: 'page_content_change', logger: silentLogger() });
  size.seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
  if (result.tables.some((t) => t.skipped)) throw new Error(`merge run ${run + 1} at ${size.scale}x merged nothing: ${JSON.stringify(result.tables)}`);
  size.eventFiles = result.tables[0].eventFiles;
}

const summary = (size) => ({ median: median(size.seconds), min: Math.min(...size.seconds), max: Math.max(...size.seconds), eventFiles: size.eventFiles });

try {
  const sizes = [await prepare(1), await prepare(8)];
  // Alternated, so a slow spell of the machine weighs on both sizes alike.
  for (let i = 0; i < runs; i++) for (const size of sizes) await mergeOnce(size, i);
  const [one, eight] = sizes.map(summary);
  console.log(JSON.stringify({ history, delta, runs, oneX: one.median, eightX: eight.median, oneXRange: [one.min, one.max], eightXRange: [eight.min, eight.max], deltaEventFiles: [one.eventFiles, eight.eventFiles], ratio: eight.median / one.median }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
