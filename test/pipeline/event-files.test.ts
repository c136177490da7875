// The event stager: chunks encoded in the background while staging goes on give the same rows as
// one chunk per partition, with either encoder; an encoding failure surfaces and nothing is left.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { storageError } from '../../src/core/errors.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { filesRelationSql } from '../../src/duckdb/table-view.js';
import { EVENTS_SCHEMA, EVENTS_SPEC } from '../../src/events/events-table.js';
import { stagedRow } from '../../src/events/staged-row.js';
import type { DataFile } from '../../src/iceberg/spec/manifest.js';
import type { Table } from '../../src/iceberg/table.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { EventStager, type ParquetEncoder } from '../../src/pipeline/event-files.js';
import { generatedEvents, warehouseAt } from '../merge/merge-fixture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-stager-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const events = generatedEvents(41, 600);
let n = 0;

async function stage(encoder: ParquetEncoder, chunkBytes: number): Promise<{ table: Table; files: DataFile[] }> {
  const table = await warehouseAt(join(dir, 'w')).createTable('events', `t${n++}`, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20, encoder, chunkBytes });
  try {
    for (const [i, e] of events.entries()) await stager.add(e, { topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
    return { table, files: await stager.finish() };
  } finally {
    await stager.close();
  }
}

async function hash(table: Table, files: readonly DataFile[]): Promise<string> {
  const db = await openDuckDb();
  try {
    const planned = files.map((file) => ({ file, specId: 0, dataSequenceNumber: 0n }));
    const [r] = await db.all<{ h: string; n: bigint }>(`SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY _kafka_offset)) AS h, count(*) AS n FROM (${filesRelationSql(table, planned, [])}) t`);
    return `${r!.n}:${r!.h}`;
  } finally {
    await db.close();
  }
}

test('background-encoded chunks hold the same rows as one chunk per partition, with both encoders', { timeout: 300_000 }, async () => {
  const whole = await stage('duckdb', 1 << 30);
  const expected = await hash(whole.table, whole.files);
  assert.ok(expected.startsWith(`${events.length}:`));
  for (const encoder of ['duckdb', 'parquet-wasm'] as const) {
    const chunked = await stage(encoder, 256 << 10);
    assert.ok(chunked.files.length > whole.files.length, `${encoder}: ${chunked.files.length} files from small chunks`);
    assert.equal(await hash(chunked.table, chunked.files), expected, encoder);
  }
});

test('past the staged-bytes limit the largest open chunk is encoded early, so staging stays near the limit; the rows are the same', { timeout: 300_000 }, async () => {
  const whole = await stage('duckdb', 1 << 30);
  const table = await warehouseAt(join(dir, 'w')).createTable('events', `t${n++}`, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const limit = 128 << 10;
  let finishing = false;
  let early = 0;
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20, chunkBytes: 1 << 30, stagedBytesLimit: limit, afterChunkWritten: () => void (finishing || early++) });
  const staging = (stager as unknown as { dir: string }).dir;
  let most = 0;
  try {
    for (const [i, e] of events.entries()) {
      await stager.add(e, { topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
      let bytes = 0;
      for (const name of await readdir(staging)) bytes += (await stat(join(staging, name)).catch(() => ({ size: 0 }))).size;
      most = Math.max(most, bytes);
    }
    finishing = true;
    const files = await stager.finish();
    assert.ok(early > 0, 'chunks were encoded before finish');
    // The open chunks, plus one encoding and one waiting for it: each at most about the limit.
    assert.ok(most <= 3 * limit, `${most} bytes staged at most, for a limit of ${limit}`);
    assert.equal(await hash(table, files), await hash(whole.table, whole.files));
  } finally {
    await stager.close();
  }
});

test('a failed encoding surfaces from add or finish, and close({ discard }) removes what was written', async () => {
  const table = await warehouseAt(join(dir, 'w')).createTable('events', `bad${n++}`, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20, chunkBytes: 64 << 10 });
  // A malformed staged line (stagedRow refuses such values; a line staged directly is not checked):
  // meta.dt that no timestamp parser accepts.
  const coordinates = (i: number) => ({ topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
  const broken = stagedRow(events[1]!, coordinates(50)).line.replace(/"dt":"[^"]*"/, '"dt":"not a time"');
  await assert.rejects(async () => {
    for (const [i, e] of events.slice(0, 50).entries()) await stager.add(e, coordinates(i));
    await stager.addLine(events[1]!.wiki_id, null, Buffer.from(broken, 'utf8'));
    for (const [i, e] of events.slice(50).entries()) await stager.add(e, coordinates(51 + i));
    await stager.finish();
  }, /DuckDB failed|timestamp/i);
  await stager.close({ discard: true });
  const left = await readdir(join(dir, 'w', 'events', `bad${n - 1}`, 'data'), { recursive: true }).catch(() => [] as string[]);
  assert.deepEqual(left.filter((f) => f.endsWith('.parquet')), []);
});

test('a staging file that cannot be written fails add or finish with its error, not the process', async () => {
  const table = await warehouseAt(join(dir, 'w')).createTable('events', `gone${n++}`, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20, chunkBytes: 64 << 10 });
  // As when a tmp cleaner removes the staging folder mid-run: opening its files fails.
  await rm((stager as unknown as { dir: string }).dir, { recursive: true, force: true });
  const coordinates = (i: number) => ({ topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
  await assert.rejects(async () => {
    for (const [i, e] of events.entries()) await stager.add(e, coordinates(i));
    await stager.finish();
  }, /staging events failed.*0\.jsonl/);
  await stager.close({ discard: true });
});

test('a staging file on a full disk fails finish with RESOURCES naming it while another chunk encodes, not the process', async () => {
  const table = await warehouseAt(join(dir, 'w')).createTable('events', `full${n++}`, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  const stager = await EventStager.open({ table, targetFileSizeBytes: 256 << 20 });
  try {
    for (const [i, e] of events.slice(0, 100).entries()) {
      const { line, day } = stagedRow(e, { topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
      await stager.addLine('first', day, Buffer.from(line));
    }
    // The second partition's file: its writes fail (ENOSPC) only once finish() ends it.
    await symlink('/dev/full', join((stager as unknown as { dir: string }).dir, '1.jsonl'));
    const { line, day } = stagedRow(events[100]!, { topic: 'eqiad.t', partition: 0, offset: 100n, timestampMs: 0 });
    await stager.addLine('second', day, Buffer.from(line));
    await assert.rejects(stager.finish(), (e: Error & { code?: string }) => e.code === 'RESOURCES' && /staging events failed for .*1\.jsonl/.test(e.message));
  } finally {
    await stager.close({ discard: true });
  }
});

test('parquet-wasm: a chunk whose second file cannot be read back fails, and close({ discard }) removes every file of it', async () => {
  const seen = new Set<string>();
  class Failing extends LocalStorage {
    override async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
      if (location.endsWith('.parquet') && seen.add(location).size > 1) throw storageError('read', location, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
      return super.readRange(location, offset, length);
    }
  }
  const name = `eio${n++}`;
  const table = await new Warehouse(new Failing(), fileLocation(join(dir, 'w'))).createTable('events', name, { schema: EVENTS_SCHEMA, spec: EVENTS_SPEC });
  // One chunk of a partition, written as several small files.
  const stager = await EventStager.open({ table, targetFileSizeBytes: 16 << 10, encoder: 'parquet-wasm', chunkBytes: 1 << 30 });
  const wiki = events[0]!.wiki_id;
  await assert.rejects(async () => {
    for (const [i, e] of events.entries()) if (e.wiki_id === wiki) await stager.add(e, { topic: 'eqiad.t', partition: 0, offset: BigInt(i), timestampMs: 0 });
    await stager.finish();
  }, /EIO/);
  assert.equal(seen.size, 2, 'the first file was read back before the second failed');
  await stager.close({ discard: true });
  const left = await readdir(join(dir, 'w', 'events', name, 'data'), { recursive: true }).catch(() => [] as string[]);
  assert.deepEqual(left.filter((f) => f.endsWith('.parquet')), []);
});
