// Compaction of the state tables keeps their key order: the nightly merges' small files are
// rewritten in revision-id (page-id) order, in passes of about one target file with disjoint keys,
// each file recording the table's sort order, and the tables' contents stay the same. A state table
// created before the tables had a sort order gets it at the next merge.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobError, storageError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { PAGES_SCHEMA, PAGES_TABLE, REVISIONS_SCHEMA, REVISIONS_TABLE, SOURCE_SNAPSHOT_PROPERTY, STATE_NAMESPACE, STATE_SPEC } from '../../src/merge/state-schema.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runMaintenance, tookOverFrom } from '../../src/pipeline/maintenance.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { appendBatch, generatedEvents, merge, stateHashes, warehouseAt } from '../merge/merge-fixture.js';

let dir: string;
const events = generatedEvents(47, 6000);
let whole: Warehouse;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-compaction-'));
  whole = warehouseAt(join(dir, 'whole'));
  await appendBatch(whole, events);
  await merge(whole);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface FileOrder {
  readonly sortOrderId: number | undefined;
  readonly lo: bigint;
  readonly hi: bigint;
  readonly sorted: boolean;
}

/** Each enwiki data file of a state table: its sort order id, key bounds and whether its rows are in key order. */
async function enwikiFiles(warehouse: Warehouse, name: string, key: string): Promise<FileOrder[]> {
  const table = await warehouse.loadTable(STATE_NAMESPACE, name);
  const plan = await table.planFiles({});
  const db = await openDuckDb();
  try {
    const out: FileOrder[] = [];
    for (const f of plan.dataFiles.filter((d) => d.file.partition[0] === 'enwiki')) {
      const path = sqlString(table.storage.localPath(f.file.filePath)!);
      const [r] = await db.all<{ lo: bigint; hi: bigint; disorder: bigint }>(
        `SELECT min(${key}) AS lo, max(${key}) AS hi, count(*) FILTER (WHERE ${key} <= previous) AS disorder
         FROM (SELECT ${key}, lag(${key}) OVER (ORDER BY file_row_number) AS previous FROM read_parquet(${path}, file_row_number = true))`,
      );
      out.push({ sortOrderId: f.file.sortOrderId, lo: r!.lo, hi: r!.hi, sorted: r!.disorder === 0n });
    }
    return out.sort((a, b) => (a.lo < b.lo ? -1 : 1));
  } finally {
    await db.close();
  }
}

test('maintain rewrites the merges small files in key order, in disjoint files of about one target size, and changes no row', { timeout: 300_000 }, async () => {
  const nightly = warehouseAt(join(dir, 'nightly'));
  for (let from = 0; from < events.length; from += 1500) {
    await appendBatch(nightly, events.slice(from, from + 1500));
    await merge(nightly);
  }
  const revisions = await nightly.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  assert.deepEqual(revisions.sortOrder(), { orderId: 1, fields: [{ sourceId: 2, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' }] });
  const merged = await enwikiFiles(nightly, REVISIONS_TABLE, 'revision_id');
  assert.ok(merged.length >= 4, `${merged.length} files before maintenance`);
  assert.ok(merged.every((f) => f.sorted && f.sortOrderId === 1), 'merged files are in key order and say so');
  const before = await stateHashes(nightly);

  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: join(dir, 'nightly') }, {}, { jobNameRequired: false });
  // A small target: the rewrite needs several passes, each about one file.
  const targetFileSizeBytes = 3 * 2 ** 19;
  const config = { ...loaded, maintenance: { ...loaded.maintenance, compact: true, targetFileSizeBytes, compactMinInputFiles: 2, expireSnapshots: false, removeOrphans: false } };
  const result = await runMaintenance({ config, warehouse: nightly, logger: silentLogger() });
  const compaction = result.tables.find((t) => t.table === `${STATE_NAMESPACE}.${REVISIONS_TABLE}`)?.compaction;
  assert.ok((compaction?.filesRewritten ?? 0) >= 4, JSON.stringify(result));

  const compacted = await enwikiFiles(nightly, REVISIONS_TABLE, 'revision_id');
  assert.ok(compacted.length >= 2, `${compacted.length} files: the rewrite took several passes`);
  for (const f of compacted) assert.ok(f.sorted && f.sortOrderId === 1, `file ${f.lo}-${f.hi} is in key order and says so`);
  for (let i = 1; i < compacted.length; i++) assert.ok(compacted[i]!.lo > compacted[i - 1]!.hi, `file ${i} starts after file ${i - 1} ends`);
  const table = await nightly.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  for (const f of (await table.planFiles({})).dataFiles) {
    assert.ok(f.file.fileSizeInBytes <= 2 * targetFileSizeBytes, `${f.file.filePath}: ${f.file.fileSizeInBytes} bytes for a target of ${targetFileSizeBytes}`);
  }
  assert.deepEqual(await stateHashes(nightly), before, 'maintenance changes no row');
  assert.deepEqual(await stateHashes(nightly), await stateHashes(whole), 'the nightly merges equal one merge of all events');
});

test('files larger than a sort may hold are sorted range by range into one file each, and the next run leaves them as they are', { timeout: 300_000 }, async () => {
  const capped = warehouseAt(join(dir, 'capped'));
  for (let from = 0; from < events.length; from += 1500) {
    await appendBatch(capped, events.slice(from, from + 1500));
    await merge(capped);
  }
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: join(dir, 'capped') }, {}, { jobNameRequired: false });
  // A sort holds at most 32 MiB of rows, less than one 16 MiB file of this compressible content:
  // files were written a sort each, all "small", and rewritten at every run.
  const config = { ...loaded, memoryLimitMb: 256, maintenance: { ...loaded.maintenance, compact: true, targetFileSizeBytes: 16 * 2 ** 20, compactMinInputFiles: 2, expireSnapshots: false, removeOrphans: false } };
  // A temp folder below a name=value folder: read as a hive partition, it would add a column.
  const temp = join(dir, 'tmp', 'x=1');
  await mkdir(temp, { recursive: true });
  const tmpBefore = process.env['TMPDIR'];
  process.env['TMPDIR'] = temp;
  let first: Awaited<ReturnType<typeof runMaintenance>>;
  try {
    first = await runMaintenance({ config, warehouse: capped, logger: silentLogger() });
  } finally {
    if (tmpBefore === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = tmpBefore;
  }
  assert.deepEqual(readdirSync(temp), [], 'the sorted parts are removed');
  assert.ok((first.tables.find((t) => t.table === `${STATE_NAMESPACE}.${REVISIONS_TABLE}`)?.compaction?.filesRewritten ?? 0) >= 4, JSON.stringify(first));
  const compacted = await enwikiFiles(capped, REVISIONS_TABLE, 'revision_id');
  assert.equal(compacted.length, 1, `${compacted.length} files for 10 MB of rows and a 16 MiB target`);
  assert.ok(compacted[0]!.sorted && compacted[0]!.sortOrderId === 1, 'the file is in key order and says so');
  const revisions = await capped.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  const written = (await revisions.planFiles({})).dataFiles.find((f) => f.file.partition[0] === 'enwiki')!;
  const db = await openDuckDb();
  try {
    const columns = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlString(revisions.storage.localPath(written.file.filePath)!)}, hive_partitioning = false)`);
    assert.deepEqual(columns.map((c) => c.column_name), revisions.schema().fields.map((f) => f.name), 'the table columns, no other');
  } finally {
    await db.close();
  }
  const again = await runMaintenance({ config, warehouse: capped, logger: silentLogger() });
  assert.deepEqual(again.tables.map((t) => t.compaction?.filesRewritten), [0, 0, 0], JSON.stringify(again));
  assert.deepEqual(await stateHashes(capped), await stateHashes(whole), 'compaction changes no row');
});

test('a state table created unsorted gets the key order at its next merge, and its files say so', { timeout: 120_000 }, async () => {
  const old = warehouseAt(join(dir, 'old'));
  const properties = { 'write.delete.mode': 'merge-on-read' };
  await old.createTable(STATE_NAMESPACE, REVISIONS_TABLE, { schema: REVISIONS_SCHEMA, spec: STATE_SPEC, properties });
  await old.createTable(STATE_NAMESPACE, PAGES_TABLE, { schema: PAGES_SCHEMA, spec: STATE_SPEC, properties });
  await appendBatch(old, events.slice(0, 1000));
  await merge(old);
  for (const [name, key] of [[REVISIONS_TABLE, 'revision_id'], [PAGES_TABLE, 'page_id']] as const) {
    const table = await old.loadTable(STATE_NAMESPACE, name);
    assert.deepEqual(table.metadata.sortOrders.map((o) => o.orderId), [0, 1], name);
    assert.equal(table.sortOrder().fields[0]?.sourceId, 2, name);
    const files = await enwikiFiles(old, name, key);
    assert.ok(files.length >= 1 && files.every((f) => f.sorted && f.sortOrderId === 1), `${name}: ${JSON.stringify(files, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
});

test('a compaction that fails in a later pass of a sorted rewrite, or loses its lease before its commit, leaves none of its files behind, and the next run compacts the same rows', { timeout: 300_000 }, async () => {
  const root = join(dir, 'failing');
  const nightly = warehouseAt(root);
  for (let from = 0; from < events.length; from += 2000) {
    await appendBatch(nightly, events.slice(from, from + 2000));
    await merge(nightly);
  }
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: root }, {}, { jobNameRequired: false });
  const config = { ...loaded, maintenance: { ...loaded.maintenance, compact: true, targetFileSizeBytes: 3 * 2 ** 19, compactMinInputFiles: 2, expireSnapshots: false, removeOrphans: false } };
  const stateFiles = async () => (await readdir(join(root, STATE_NAMESPACE), { recursive: true })).filter((f) => /\.(parquet|avro|json)$/.test(f)).sort();
  const before = await stateFiles();
  const hashes = await stateHashes(nightly);
  // The second pass's file of enwiki's revisions cannot be read back (after the first pass's was written).
  const compacted = new Set<string>();
  class Failing extends LocalStorage {
    override async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
      if (/\/revisions\/data\/wiki_id=enwiki\/[^/]*-compact\.parquet$/.test(location) && compacted.add(location).size > 1) {
        throw storageError('read', location, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
      }
      return super.readRange(location, offset, length);
    }
  }
  await assert.rejects(runMaintenance({ config, warehouse: new Warehouse(new Failing(), fileLocation(root)), logger: silentLogger() }), (e: unknown) => e instanceof JobError && e.code === 'STORAGE');
  assert.equal(compacted.size, 2, 'the first pass wrote a file before the second failed');
  assert.deepEqual(await stateFiles(), before, 'no file of the failed compaction is left');
  // A lease lost while a table is rewritten: the rewrite is not committed, and its files go.
  const allFiles = async () => (await readdir(root, { recursive: true })).filter((f) => /\.(parquet|avro|json)$/.test(f)).sort();
  const everything = await allFiles();
  const lost = new JobError('LOCKED', 'job compaction-test lost its lease');
  let rewritten = 0;
  const lostOnceRewritten = (): void => {
    rewritten = readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith('-compact.parquet')).length;
    if (rewritten > 0) throw lost;
  };
  await assert.rejects(runMaintenance({ config, warehouse: warehouseAt(root), logger: silentLogger(), assertHeld: lostOnceRewritten }), (e: unknown) => e === lost);
  assert.ok(rewritten > 0, 'the lease was lost once a table was rewritten');
  assert.deepEqual(await allFiles(), everything, 'no file of the uncommitted compaction is left, and no commit');
  const result = await runMaintenance({ config, warehouse: warehouseAt(root), logger: silentLogger() });
  assert.ok((result.tables.find((t) => t.table === `${STATE_NAMESPACE}.${REVISIONS_TABLE}`)?.compaction?.filesWritten ?? 0) >= 2, JSON.stringify(result));
  assert.deepEqual(await stateHashes(warehouseAt(root)), hashes);
});

test('an orphan age below 24 hours is warned at each run, since only the job own runs are covered by its lease', async () => {
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: join(dir, 'empty') }, {}, { jobNameRequired: false });
  const warnings = async (hours: number, removeOrphans = true): Promise<string[]> => {
    const { logger, messages } = capturingLogger();
    const config = { ...loaded, maintenance: { ...loaded.maintenance, removeOrphans, removeOrphansOlderThanHours: hours } };
    await runMaintenance({ config, warehouse: warehouseAt(join(dir, 'empty')), logger });
    return messages();
  };
  assert.deepEqual(await warnings(0), ['remove_orphans_older_than_hours is 0, below 24: files another job or engine has written to these tables but not yet committed may be removed']);
  assert.equal((await warnings(23.5)).length, 1);
  assert.deepEqual(await warnings(24), []);
  assert.deepEqual(await warnings(0, false), [], 'not when orphans are not removed');
});

test('a run that took the lease over from a stalled run spares the files written since that run started, which it may still commit; a run that lost its lease removes nothing', async () => {
  const root = join(dir, 'orphans-after-takeover');
  const warehouse = warehouseAt(root);
  await appendBatch(warehouse, generatedEvents(48, 30));
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: root }, {}, { jobNameRequired: false });
  const config = { ...loaded, maintenance: { ...loaded.maintenance, compact: false, expireSnapshots: false, removeOrphans: true, removeOrphansOlderThanHours: 1 } };
  // A file the stalled run wrote two hours ago and has not committed yet; it started three hours ago.
  const data = (await readdir(join(root, 'events'), { recursive: true })).find((f) => f.endsWith('.parquet'))!;
  const uncommitted = join(root, 'events', dirname(data), 'stalled-run.parquet');
  await writeFile(uncommitted, 'not committed yet');
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  await utimes(uncommitted, twoHoursAgo, twoHoursAgo);
  const removed = async (o: { tookOverFromMs?: number }) => (await runMaintenance({ config, warehouse, logger: silentLogger(), ...o })).tables.reduce((n, t) => n + (t.orphans?.filesRemoved ?? 0), 0);
  // A run whose lease was taken over stops before it touches a table.
  const lost = new JobError('LOCKED', 'job compaction-test lost its lease');
  const lostLease = (): void => {
    throw lost;
  };
  await assert.rejects(runMaintenance({ config, warehouse, logger: silentLogger(), assertHeld: lostLease }), (e: unknown) => e === lost);
  await access(uncommitted);
  // Nor when the lease is lost after the check before the table: orphan removal checks again.
  let checks = 0;
  const lostAfterFirst = (): void => {
    if (checks++ > 0) throw lost;
  };
  await assert.rejects(runMaintenance({ config, warehouse, logger: silentLogger(), assertHeld: lostAfterFirst }), (e: unknown) => e === lost);
  await access(uncommitted);
  assert.equal(await removed({ tookOverFromMs: Date.now() - 3 * 3_600_000 }), 0);
  await access(uncommitted);
  assert.equal(await removed({}), 1, 'without a takeover it is an orphan');
  await assert.rejects(access(uncommitted), { code: 'ENOENT' });
  // A stale lease file without a readable start spares everything up to now, never nothing.
  const unreadable = tookOverFrom({ tookOver: JSON.parse('{"pid": 1}') as { startedAt: string } }).tookOverFromMs!;
  assert.ok(Number.isFinite(unreadable) && Math.abs(unreadable - Date.now()) < 60_000, String(unreadable));
  assert.equal(tookOverFrom({ tookOver: { startedAt: '2026-12-01T00:00:00.000Z' } }).tookOverFromMs, Date.parse('2026-12-01T00:00:00Z'));
  assert.deepEqual(tookOverFrom({}), {});
});

test('a later compaction rewrites the files that lost rows, the small ones and those their keys fall in, and the files stay disjoint', { timeout: 300_000 }, async () => {
  const later = warehouseAt(join(dir, 'later'));
  for (let from = 0; from < 4500; from += 1500) {
    await appendBatch(later, events.slice(from, from + 1500));
    await merge(later);
  }
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: join(dir, 'later') }, {}, { jobNameRequired: false });
  const config = { ...loaded, maintenance: { ...loaded.maintenance, compact: true, targetFileSizeBytes: 2 ** 19, compactMinInputFiles: 1, expireSnapshots: false, removeOrphans: false } };
  await runMaintenance({ config, warehouse: later, logger: silentLogger() });
  const before = await enwikiFiles(later, REVISIONS_TABLE, 'revision_id');
  assert.ok(before.length >= 4, `${before.length} files after the first compaction`);

  await appendBatch(later, events.slice(4500, 4700));
  await merge(later);
  const result = await runMaintenance({ config, warehouse: later, logger: silentLogger() });
  const compaction = result.tables.find((t) => t.table === `${STATE_NAMESPACE}.${REVISIONS_TABLE}`)?.compaction;
  const after = await enwikiFiles(later, REVISIONS_TABLE, 'revision_id');
  const kept = before.filter((b) => after.some((a) => a.lo === b.lo && a.hi === b.hi));
  assert.ok(kept.length > 0 && (compaction?.filesRewritten ?? 0) > 0, `a rewrite that kept ${kept.length} of ${before.length} files: ${JSON.stringify(compaction)}`);
  for (let i = 1; i < after.length; i++) assert.ok(after[i]!.lo > after[i - 1]!.hi, `file ${i} starts after file ${i - 1} ends`);
  // Settled: with nothing new, a run rewrites nothing (a short pass between kept files is left as it is).
  for (let run = 0; run < 2; run++) {
    const idle = await runMaintenance({ config: { ...config, maintenance: { ...config.maintenance, compactMinInputFiles: 2 } }, warehouse: later, logger: silentLogger() });
    assert.deepEqual(idle.tables.map((t) => t.compaction?.filesRewritten), [0, 0, 0], `idle run ${run}: ${JSON.stringify(idle)}`);
  }
  const reference = warehouseAt(join(dir, 'later-reference'));
  await appendBatch(reference, events.slice(0, 4700));
  await merge(reference);
  assert.deepEqual(await stateHashes(later), await stateHashes(reference), 'compaction changes no row');
});

test('expiry keeps the snapshots the job reads its bookkeeping through, when another engine committed after the job', { timeout: 120_000 }, async () => {
  const warehouse = warehouseAt(join(dir, 'foreign'));
  for (const from of [0, 300]) {
    await appendBatch(warehouse, events.slice(from, from + 300));
    await merge(warehouse);
  }
  const pages = await warehouse.loadTable(STATE_NAMESPACE, PAGES_TABLE);
  const source = pages.summaryProperty(SOURCE_SNAPSHOT_PROPERTY)?.value;
  assert.ok(source !== undefined);
  // Another engine's commits, which carry none of the job's summary properties.
  let table = pages;
  for (let i = 0; i < 3; i++) {
    await table.commit({ operation: 'append', summary: { 'spark.app.id': `app-${i}` }, requireCurrentSnapshotId: table.currentSnapshot()!.snapshotId });
    table = await table.refresh();
  }
  const loaded = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'compaction-test', MWLAKE_WAREHOUSE: join(dir, 'foreign') }, {}, { jobNameRequired: false });
  const config = { ...loaded, maintenance: { ...loaded.maintenance, compact: false, expireSnapshots: true, expireSnapshotsOlderThanDays: 1, retainLastSnapshots: 1, removeOrphans: false } };
  const result = await runMaintenance({ config, warehouse, logger: silentLogger(), nowMs: Date.now() + 3 * 86_400_000 });
  const expired = result.tables.find((t) => t.table === `${STATE_NAMESPACE}.${PAGES_TABLE}`)?.expiry?.snapshotsExpired;
  assert.equal(expired, 1, `the first merge's snapshot expired: ${JSON.stringify(result)}`);
  const after = await warehouse.loadTable(STATE_NAMESPACE, PAGES_TABLE);
  assert.equal(after.summaryProperty(SOURCE_SNAPSHOT_PROPERTY)?.value, source, 'the merge source is still found');
});
