// Shared by the merge property and crash tests: generated events appended to an events table in
// batches (as successive drains would), merged, and a content hash of every state table.

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { silentLogger } from '../../src/core/log.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { EVENTS_SCHEMA, EVENTS_SPEC } from '../../src/events/events-table.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { stagedRow } from '../../src/events/staged-row.js';
import { VISIBILITY_EVENTS_SCHEMA, VISIBILITY_EVENTS_SPEC } from '../../src/events/visibility-change.js';
import { validatePageChange } from '../../src/events/validate.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { generateRecords } from '../../src/gen/generator.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { EventStager } from '../../src/pipeline/event-files.js';
import { runMerge, type MergeOptions } from '../../src/pipeline/merge.js';

export const EVENTS_NS = 'events';
export const EVENTS_NAME = 'page_content_change';

export function warehouseAt(dir: string): Warehouse {
  return new Warehouse(new LocalStorage(), fileLocation(dir));
}

/** The valid events of a seeded generated stream, in generation order. */
export function generatedEvents(seed: number, events: number): PageChangeEvent[] {
  const out: PageChangeEvent[] = [];
  for (const record of generateRecords({ seed, events, startMs: Date.parse('2026-11-01T00:00:00Z'), wikis: ['enwiki', 'dewiki'], badFraction: 0, eventsPerDay: events })) {
    const v = validatePageChange(JSON.parse(Buffer.from(record.value).toString('utf8')));
    if (v.ok) out.push(v.event);
  }
  return out;
}

let offset = 0;

/** Appends one batch to the events table as one snapshot, as one drain would. */
export async function appendBatch(warehouse: Warehouse, events: readonly PageChangeEvent[]): Promise<void> {
  const table = await warehouse.loadOrCreateTable(EVENTS_NS, EVENTS_NAME, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20 });
  try {
    for (const e of events) await stager.add(e, { topic: 'eqiad.test', partition: 0, offset: BigInt(offset++), timestampMs: 0 });
    await table.commit({ addDataFiles: await stager.finish() });
  } finally {
    await stager.close();
  }
}

export const VISIBILITY_NAME = 'revision_visibility_change';

/** Appends legacy revision visibility change events to their table as one snapshot, as one drain would. */
export async function appendVisibilityBatch(warehouse: Warehouse, events: readonly object[]): Promise<void> {
  const table = await warehouse.loadOrCreateTable(EVENTS_NS, VISIBILITY_NAME, { schema: VISIBILITY_EVENTS_SCHEMA, spec: VISIBILITY_EVENTS_SPEC });
  const stager = await EventStager.open({ table, schema: VISIBILITY_EVENTS_SCHEMA, targetFileSizeBytes: 256 << 20 });
  try {
    for (const e of events) {
      const { line, day } = stagedRow(e, { topic: 'eqiad.test.visibility', partition: 0, offset: BigInt(offset++), timestampMs: 0 }, true, VISIBILITY_EVENTS_SCHEMA);
      await stager.addLine((e as { database: string }).database, day, Buffer.from(line));
    }
    await table.commit({ addDataFiles: await stager.finish() });
  } finally {
    await stager.close();
  }
}

export function merge(warehouse: Warehouse, extra: Partial<MergeOptions> = {}) {
  return runMerge({ warehouse, eventsNamespace: EVENTS_NS, eventsTable: EVENTS_NAME, visibilityTable: VISIBILITY_NAME, logger: silentLogger(), ...extra });
}

/** A warehouse in `dir` holding `events` generated events (seeded), merged. */
export async function mergedWarehouseAt(dir: string, seed: number, events: number): Promise<Warehouse> {
  const warehouse = warehouseAt(dir);
  await appendBatch(warehouse, generatedEvents(seed, events));
  await merge(warehouse);
  return warehouse;
}

/** Overwrites every metadata file of the events table in the warehouse folder `dir` with garbage: a table no reader can load. */
export async function garbleEventsMetadata(dir: string): Promise<void> {
  const metadata = join(dir, EVENTS_NS, EVENTS_NAME, 'metadata');
  for (const name of await readdir(metadata)) if (name.endsWith('.metadata.json')) await writeFile(join(metadata, name), 'not json');
}

/** md5 over every row of each state table at its current snapshot, rows in key order. */
export async function stateHashes(warehouse: Warehouse): Promise<Record<string, string>> {
  const db = await openDuckDb();
  try {
    const out: Record<string, string> = {};
    for (const [name, key] of [[REVISIONS_TABLE, 'revision_id'], [PAGES_TABLE, 'page_id']] as const) {
      const table = await warehouse.loadTable(STATE_NAMESPACE, name);
      const [row] = await db.all<{ h: string; n: bigint }>(
        `SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY wiki_id, ${key})) AS h, count(*) AS n FROM (${await tableRelationSql(table)}) AS t`,
      );
      out[name] = `${row!.n}:${row!.h}`;
    }
    return out;
  } finally {
    await db.close();
  }
}
