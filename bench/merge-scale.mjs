#!/usr/bin/env node
// The merge row of `npm run bench`: a fixed delta of generated events merged into history tables
// of 1x and 8x size. Run alone: node bench/merge-scale.mjs HISTORY_EVENTS DELTA_EVENTS (after
// `npx tsc -p .`). Prints one JSON line: the merge seconds at each size and the 8x/1x ratio.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const load = (p) => import(join(root, 'dist', p));
const [{ generateRecords }, { validatePageChange }, { EventStager }, { runMerge }, { Warehouse }, { LocalStorage, fileLocation }, { silentLogger }, { EVENTS_SCHEMA, EVENTS_SPEC }] = await Promise.all([
  load('src/gen/generator.js'),
  load('src/events/validate.js'),
  load('src/pipeline/event-files.js'),
  load('src/pipeline/merge.js'),
  load('src/iceberg/catalog.js'),
  load('src/core/storage.js'),
  load('src/core/log.js'),
  load('src/events/events-table.js'),
]);

const history = Number(process.argv[2] ?? 50_000);
const delta = Number(process.argv[3] ?? 50_000);
const work = mkdtempSync(join(tmpdir(), 'mwlake-bench-merge-'));
let offset = 0n;

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

async function mergeSeconds(scale) {
  const warehouse = new Warehouse(new LocalStorage(), fileLocation(join(work, `x${scale}`)));
  const n = history * scale;
  // One seeded stream of 1-year span: the first n events are history, the next `delta` the delta.
  const records = [...generateRecords({ seed: 31, startMs: Date.parse('2025-11-01T00:00:00Z'), events: n + delta, eventsPerDay: Math.ceil((n + delta) / 365), wikis: ['enwiki', 'dewiki'], medianContentBytes: 400 })];
  await append(warehouse, records.slice(0, n));
  await runMerge({ warehouse, eventsNamespace: 'events', eventsTable: 'page_content_change', logger: silentLogger() });
  await append(warehouse, records.slice(n));
  const started = process.hrtime.bigint();
  await runMerge({ warehouse, eventsNamespace: 'events', eventsTable: 'page_content_change', logger: silentLogger() });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

try {
  const one = await mergeSeconds(1);
  const eight = await mergeSeconds(8);
  console.log(JSON.stringify({ history, delta, oneX: one, eightX: eight, ratio: eight / one }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
