// Table maintenance: snapshot expiry, orphan removal and compaction keep every retained snapshot
// reading the same rows, and delete only files nothing needs.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.js';
import { filesRelationSql, tableRelationSql } from '../../src/duckdb/table-view.js';
import { compactionChange, planCompaction } from '../../src/iceberg/maintenance/compaction-plan.js';
import { compactionGroups } from '../../src/pipeline/maintenance.js';
import { expireSnapshots } from '../../src/iceberg/maintenance/expire-snapshots.js';
import { removeOrphanFiles } from '../../src/iceberg/maintenance/remove-orphans.js';
import { rollbackTo } from '../../src/iceberg/commit/rollback.js';
import type { PlannedFile } from '../../src/iceberg/scan/plan.js';
import { DataFileContent } from '../../src/iceberg/spec/manifest.js';
import type { Table } from '../../src/iceberg/table.js';
import { storageError } from '../../src/core/errors.js';
import { writeFolderName } from '../../src/iceberg/table-files.js';
import { LocalStorage } from '../../src/core/storage.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { openSampleWriter, SAMPLE_SCHEMA, SAMPLE_SPEC, type SampleWriter } from './sample-table.js';

let dir: string;
let w: SampleWriter;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-maint-'));
  w = await openSampleWriter(dir);
});
after(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = () => w.warehouse.createTable('ns', `m${n++}`, { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });

async function rows(t: Table, snapshotId?: bigint): Promise<string[]> {
  const sql = await tableRelationSql(t, snapshotId === undefined ? {} : { snapshotId });
  const r = await w.db.all<{ row: string }>(`SELECT CAST(x AS VARCHAR) AS row FROM (${sql}) AS x ORDER BY id`);
  return r.map((x) => x.row);
}

const exists = async (t: Table, location: string) => (await t.storage.stat(location)) !== undefined;

test('expiry keeps the last K snapshots and refs, and deletes only the files no kept snapshot needs', async () => {
  let t = await fresh();
  const first = await w.write(t, [1, 2, 3]);
  t = (await t.commit({ addDataFiles: first })).table;
  const firstSnapshot = t.currentSnapshot()!;
  for (const ids of [[4], [5], [6]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const removed = first[0]!;
  t = (await t.commit({ removeDataFiles: [removed.filePath] })).table;
  const kept = t.metadata.snapshots.slice(-2);
  const last = t.metadata.snapshots.slice(-1);
  const expected = await Promise.all(kept.map((s) => rows(t, s.snapshotId)));

  const dry = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 2, dryRun: true });
  assert.equal(dry.expiredSnapshotIds.length, 3);
  assert.ok(await exists(t, removed.filePath), 'a dry run deletes nothing');

  const r = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 2 });
  assert.equal(r.expiredSnapshotIds.length, 3);
  assert.deepEqual(r.table.metadata.snapshots.map((s) => s.snapshotId), kept.map((s) => s.snapshotId));
  assert.deepEqual(r.table.metadata.snapshotLog.map((e) => e.snapshotId), kept.map((s) => s.snapshotId));
  assert.equal(r.deletedFiles.contentFiles, 0, 'the removed file is still live in a kept snapshot');
  assert.ok(await exists(t, removed.filePath));
  assert.equal(await exists(t, firstSnapshot.manifestList), false);
  let again = await r.table.refresh();
  assert.deepEqual(await Promise.all(kept.map((s) => rows(again, s.snapshotId))), expected);

  const r1 = await expireSnapshots(again, { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.deepEqual(r1.table.metadata.snapshots.map((s) => s.snapshotId), last.map((s) => s.snapshotId));
  assert.equal(r1.deletedFiles.contentFiles, 1, 'only the file the overwrite removed');
  assert.equal(await exists(t, removed.filePath), false);
  for (const f of first.slice(1)) assert.ok(await exists(t, f.filePath), 'files still live stay');
  again = await r1.table.refresh();
  assert.deepEqual(await rows(again), expected[1]);

  // Nothing is old enough: nothing goes.
  assert.equal((await expireSnapshots(again, { olderThanMs: 0, retainLast: 1 })).expiredSnapshotIds.length, 0);
});

test('expiry drops the statistics entries of the snapshots it removes and deletes their files; a dry run neither', async () => {
  let t = await fresh();
  for (const ids of [[1], [2], [3]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const [oldest, , newest] = t.metadata.snapshots;
  const entry = (s: typeof oldest, kind: string) => ({ 'snapshot-id': s!.snapshotId, 'statistics-path': `${t.location}/metadata/${kind}-${s!.snapshotId}.stats`, 'file-size-in-bytes': 1 });
  const stats = [entry(oldest, 'puffin'), entry(newest, 'puffin')];
  const partitionStats = [entry(oldest, 'partition'), entry(newest, 'partition')];
  for (const e of [...stats, ...partitionStats]) await t.storage.writeIfAbsent(e['statistics-path'], 'x');
  t = await t.updateMetadata((m) => ({ ...m, statistics: stats, partitionStatistics: partitionStats }));

  const dry = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1, dryRun: true });
  assert.equal(dry.deletedFiles.statisticsFiles, 2);
  for (const e of [...stats, ...partitionStats]) assert.ok(await exists(t, e['statistics-path']), 'a dry run deletes nothing');

  const r = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.equal(r.deletedFiles.statisticsFiles, 2);
  const again = await r.table.refresh();
  assert.deepEqual((again.metadata.statistics ?? []).map((e) => String((e as { 'snapshot-id': unknown })['snapshot-id'])), [String(newest!.snapshotId)]);
  assert.deepEqual((again.metadata.partitionStatistics ?? []).map((e) => String((e as { 'snapshot-id': unknown })['snapshot-id'])), [String(newest!.snapshotId)]);
  assert.equal(await exists(t, stats[0]!['statistics-path']), false);
  assert.equal(await exists(t, partitionStats[0]!['statistics-path']), false);
  assert.ok(await exists(t, stats[1]!['statistics-path']));
  assert.ok(await exists(t, partitionStats[1]!['statistics-path']));
});

test('expiry never drops a snapshot the caller still needs', async () => {
  let t = await fresh();
  for (const ids of [[1], [2], [3]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const needed = t.metadata.snapshots[0]!.snapshotId;
  const r = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1, keep: [needed] });
  assert.deepEqual(r.table.metadata.snapshots.map((s) => s.snapshotId), [needed, t.currentSnapshot()!.snapshotId]);
  assert.deepEqual(await rows(r.table, needed), await rows(t, needed));
});

test('orphan removal deletes unreferenced files older than the safety age, and nothing else', async () => {
  let t = await fresh();
  t = (await t.commit({ addDataFiles: await w.write(t, [1, 2]) })).table;
  const before = await rows(t);
  const [stray] = await w.write(t, [9]); // written, never committed
  const junk = join(w.warehouse.storage.localPath(t.location)!, 'metadata', 'crashed-m0.avro');
  await writeFile(junk, 'partial');
  assert.deepEqual((await removeOrphanFiles(t, { olderThanMs: 0 })).orphans, [], 'young files are never candidates');
  const r = await removeOrphanFiles(t, { olderThanMs: Date.now() + 1000 });
  assert.deepEqual(r.orphans.map((f) => f.replace(/^file:\/\//, '')).sort(), [stray!.filePath.replace(/^file:\/\//, ''), junk].sort());
  assert.equal(await exists(t, stray!.filePath), false);
  const again = await t.refresh();
  assert.deepEqual(await rows(again), before);
  assert.equal(again.version, t.version);
});

test('orphan removal removes the empty write folders deletes left, once older than the safety age, and no other folder or file', async () => {
  let t = await fresh();
  t = (await t.commit({ addDataFiles: await w.write(t, [1, 2]) })).table;
  const before = await rows(t);
  const data = join(w.warehouse.storage.localPath(t.location)!, 'data');
  // Write folders whose files expiry took (one inside another, as no writer makes), and a
  // partition folder holding nothing.
  const [a, b, c] = [writeFolderName(), writeFolderName(), writeFolderName()];
  await mkdir(join(data, 'category=x', a), { recursive: true });
  await mkdir(join(data, 'category=y', b, c), { recursive: true });
  await mkdir(join(data, 'category=z'));
  const folders = async () => (await readdir(data, { recursive: true, withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort();
  const all = await folders();
  assert.equal((await removeOrphanFiles(t, { olderThanMs: 0 })).emptyFolders, 0, 'young folders may be a writer\'s, about to get a file');
  assert.deepEqual(await folders(), all);
  // A dry run counts the empty ones (not b, which holds c until c goes) and removes none.
  assert.equal((await removeOrphanFiles(t, { olderThanMs: Date.now() + 1000, dryRun: true })).emptyFolders, 2);
  assert.deepEqual(await folders(), all);
  const r = await removeOrphanFiles(t, { olderThanMs: Date.now() + 1000 });
  assert.deepEqual(r.orphans, []);
  assert.equal(r.emptyFolders, 3, `${a}, then ${c} and ${b}: ${JSON.stringify(r)}`);
  const left = await folders();
  assert.deepEqual(left.filter((f) => [a, b, c].some((name) => f.endsWith(name))), []);
  // The partition folders stay: a writer may be about to write into one.
  for (const kept of ['category=x', 'category=y', 'category=z']) assert.ok(left.includes(join(data, kept)), kept);
  assert.deepEqual(await rows(await t.refresh()), before);
});

/** Local storage that refuses to delete some files, as a read-only mount or a failing disk does. */
class RefusingStorage extends LocalStorage {
  readonly refused = new Set<string>();
  override async delete(location: string): Promise<void> {
    if (this.refused.has(location)) throw storageError('delete', location, Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
    return super.delete(location);
  }
}

test('a file expiry or orphan removal cannot delete is reported, and the others are deleted all the same', async () => {
  let t = await fresh();
  const [first] = await w.write(t, [1]);
  const [second] = await w.write(t, [2]);
  t = (await t.commit({ addDataFiles: [first!] })).table;
  t = (await t.commit({ addDataFiles: [second!] })).table;
  t = (await t.commit({ removeDataFiles: [first!.filePath, second!.filePath], addDataFiles: await w.write(t, [3]) })).table;
  const lists = t.metadata.snapshots.slice(0, -1).map((s) => s.manifestList);
  const storage = new RefusingStorage();
  storage.refused.add(first!.filePath);
  const refusing = await new Warehouse(storage, w.warehouse.rootLocation).loadTable('ns', t.location.split('/').at(-1)!);

  const r = await expireSnapshots(refusing, { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.equal(r.expiredSnapshotIds.length, 2, 'the commit stands');
  assert.deepEqual(r.undeletedFiles, [first!.filePath]);
  assert.equal(r.deletedFiles.contentFiles, 1, 'the refused file is not counted as deleted');
  assert.equal(await exists(t, second!.filePath), false, 'the files after the refused one are deleted too');
  for (const list of lists) assert.equal(await exists(t, list), false, list);
  assert.ok(await exists(t, first!.filePath));

  // The snapshot that removed it still lists it: the expiry that drops that snapshot tries again.
  storage.refused.clear();
  const next = (await r.table.commit({ addDataFiles: await w.write(r.table, [4]) })).table;
  const again = await expireSnapshots(next, { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.deepEqual(again.undeletedFiles, []);
  assert.equal(await exists(t, first!.filePath), false);
  assert.deepEqual(await rows(again.table), await rows(next));

  const [stray] = await w.write(next, [9]); // written, never committed
  const [other] = await w.write(next, [10]);
  storage.refused.add(stray!.filePath);
  const o = await removeOrphanFiles(again.table, { olderThanMs: Date.now() + 1000 });
  assert.deepEqual(o.undeleted, [stray!.filePath]);
  assert.equal(o.bytes, other!.fileSizeInBytes, 'only the deleted file counts as freed');
  assert.equal(await exists(t, other!.filePath), false);
  storage.refused.clear();
  assert.deepEqual((await removeOrphanFiles(again.table, { olderThanMs: Date.now() + 1000 })).orphans, [stray!.filePath], 'the next run removes it');
  assert.equal(await exists(t, stray!.filePath), false);
});

test('compaction rewrites small files with their deletes applied as one replace snapshot', async () => {
  let t = await fresh();
  // Ids 1, 7, 13, 19, 25 share a partition (category b, 2024-01-02).
  for (const id of [1, 7, 13, 19, 25]) t = (await t.commit({ addDataFiles: await w.write(t, [id, id + 1]) })).table;
  const victim = (await t.planFiles()).dataFiles.find((f) => f.file.recordCount === 1 && f.file.partition[0] === 'b')!;
  t = (await t.commit({ addDeleteFiles: [await w.writeDeletes(t, victim.file, [0])] })).table;
  const beforeRows = await rows(t);
  const beforeSnapshot = t.currentSnapshot()!.snapshotId;

  const plan = await t.planFiles();
  const groups = planCompaction(plan, { targetFileSizeBytes: 64 << 20, minInputFiles: 3, specId: t.metadata.defaultSpecId });
  assert.equal(groups.length, 2, 'the two partitions with five small files each');
  assert.deepEqual(groups.map((g) => g.dataFiles.length), [5, 5]);
  const written = [];
  for (const g of groups) written.push(...(await writeDataFiles(w.db, t, { selectSql: filesRelationSql(t, g.dataFiles, g.deleteFiles), partition: g.partition, targetFileSizeBytes: 64 << 20 })));
  assert.equal(written.length, 2);
  t = (await t.commit(compactionChange(plan, groups, written))).table;

  assert.equal(t.currentSnapshot()?.summary.operation, 'replace');
  assert.deepEqual(await rows(t), beforeRows);
  const after = await t.planFiles();
  assert.equal(after.dataFiles.length, 2);
  assert.equal(after.deleteFiles.length, 0, 'the applied delete file is gone');
  assert.deepEqual(await rows(t, beforeSnapshot), beforeRows, 'the old snapshot still reads');

  // Planned on a snapshot that has moved on: the rewrite conflicts instead of losing the new delete.
  const stale = await t.planFiles();
  const staleGroups = [{ ...groups[0]!, dataFiles: stale.dataFiles.slice(0, 1), deleteFiles: [], deadDeleteFiles: [] }];
  t = (await t.commit({ addDeleteFiles: [await w.writeDeletes(t, stale.dataFiles[0]!.file, [0])] })).table;
  await assert.rejects(t.commit(compactionChange(stale, staleGroups, [])), /moved on/);
});

test('compaction never groups the NaN and the null partition together', () => {
  const file = (name: string, x: number | null): PlannedFile => ({
    specId: 0,
    dataSequenceNumber: 1n,
    file: { content: DataFileContent.Data, filePath: `file:///t/data/${name}.parquet`, fileFormat: 'PARQUET', partition: [x], recordCount: 1, fileSizeInBytes: 10 },
  });
  const plan = { dataFiles: [file('nan1', NaN), file('null1', null), file('nan2', NaN), file('null2', null)], deleteFiles: [] };
  const groups = planCompaction(plan, { targetFileSizeBytes: 1000, minInputFiles: 2, specId: 0 });
  // One rewrite of both would write the null rows under partition NaN, or the NaN rows under null.
  assert.deepEqual(groups.map((g) => g.dataFiles.map((f) => f.file.filePath.replace(/.*\//, ''))), [['nan1.parquet', 'nan2.parquet'], ['null1.parquet', 'null2.parquet']]);
});

test('compaction refuses a table with an equality delete file, which a rewrite would stop from applying (also one of an unpartitioned spec)', () => {
  const data: PlannedFile = { specId: 1, dataSequenceNumber: 3n, file: { content: DataFileContent.Data, filePath: 'file:///t/data/a.parquet', fileFormat: 'PARQUET', partition: ['a'], recordCount: 1, fileSizeInBytes: 10 } };
  const equality: PlannedFile = { specId: 0, dataSequenceNumber: 5n, file: { content: DataFileContent.EqualityDeletes, filePath: 'file:///t/data/eq.parquet', fileFormat: 'PARQUET', partition: [], recordCount: 1, fileSizeInBytes: 10 } };
  const plan = { dataFiles: [data, { ...data, file: { ...data.file, filePath: 'file:///t/data/b.parquet' } }], deleteFiles: [equality] };
  assert.throws(() => planCompaction(plan, { targetFileSizeBytes: 1000, minInputFiles: 2, specId: 1 }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'DATA');
    assert.match(error.message, /cannot compact: the table has an equality delete file \(file:\/\/\/t\/data\/eq\.parquet\)/);
    return true;
  });
  assert.equal(planCompaction({ ...plan, deleteFiles: [] }, { targetFileSizeBytes: 1000, minInputFiles: 2, specId: 1 }).length, 1, 'without it the two small files are rewritten');
  // Maintenance skips that table's compaction and goes on with the rest.
  assert.match((compactionGroups(plan, { targetFileSizeBytes: 1000, minInputFiles: 2, specId: 1 }) as { skipped: string }).skipped, /equality delete file/);
});

test('data files roll at the target size', async () => {
  const t = await fresh();
  await w.db.run(`CREATE OR REPLACE TEMP TABLE big AS SELECT * FROM (${filesRelationSql(t, [], [])}) UNION ALL SELECT 7, 'b', 1, true, 1.5, TIMESTAMPTZ '2024-01-02 00:00:00+00', DATE '2024-02-01', sha256(i::VARCHAR)::BLOB, {'x': 1, 'y': md5(i::VARCHAR) || md5((i + 1)::VARCHAR)}, [i], MAP {'k': {'a': i, 'b': md5(i::VARCHAR)}} FROM range(200000) r(i)`);
  const files = await writeDataFiles(w.db, t, { selectSql: 'SELECT * FROM big', partition: ['b', 19724], targetFileSizeBytes: 4 << 20, rowGroupSize: 20_000 });
  assert.ok(files.length >= 2, `${files.length} file(s)`);
  assert.equal(files.reduce((s, f) => s + f.recordCount, 0), 200_000);
});

test("a branch's own retention settings survive commits and rollbacks, and expiry honours them", async () => {
  let t = await fresh();
  for (const ids of [[1], [2], [3], [4]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  // As Spark's ALTER TABLE ... CREATE OR REPLACE BRANCH main WITH SNAPSHOT RETENTION 3 SNAPSHOTS writes it.
  t = await t.updateMetadata((m) => ({ ...m, refs: { ...m.refs, main: { ...m.refs['main']!, minSnapshotsToKeep: 3, maxRefAgeMs: 2_592_000_000 } } }));
  t = (await t.commit({ addDataFiles: await w.write(t, [5]) })).table;
  assert.deepEqual(t.metadata.refs['main'], { snapshotId: t.currentSnapshot()!.snapshotId, type: 'branch', minSnapshotsToKeep: 3, maxRefAgeMs: 2_592_000_000 });
  t = await rollbackTo(t, t.currentSnapshot()!.parentSnapshotId!);
  assert.equal(t.metadata.refs['main']?.minSnapshotsToKeep, 3, 'a rollback keeps them too');
  assert.equal(t.metadata.lastUpdatedMs, t.metadata.snapshotLog.at(-1)!.timestampMs);
  // retainLast 1, but the branch says 3: its head and two ancestors stay (and the rolled-back snapshot goes).
  const r = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1 });
  assert.equal(r.table.metadata.snapshots.length, 3);
  // A branch max-snapshot-age-ms of a day keeps every ancestor younger than that, whatever olderThanMs says.
  let aged = await r.table.updateMetadata((m) => ({ ...m, refs: { ...m.refs, main: { snapshotId: m.refs['main']!.snapshotId, type: 'branch', maxSnapshotAgeMs: 86_400_000 } } }));
  aged = (await aged.commit({ addDataFiles: await w.write(aged, [6]) })).table;
  assert.equal((await expireSnapshots(aged, { olderThanMs: Date.now() + 1, retainLast: 1 })).expiredSnapshotIds.length, 0);
});

test('a rollback whose target an expiry removed meanwhile fails and leaves the table loadable at its head', async () => {
  let t = await fresh();
  for (const ids of [[1], [2], [3]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const stale = t;
  const first = t.metadata.snapshots[0]!.snapshotId;
  const head = t.currentSnapshot()!.snapshotId;
  await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1 });
  // The stale table loses the race for the next version and retries on the expired metadata.
  await assert.rejects(rollbackTo(stale, first), (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && e.message.includes(`snapshot ${first}`) && /expired during the rollback/.test(e.message));
  const now = await t.refresh();
  assert.equal(now.currentSnapshot()?.snapshotId, head);
  assert.deepEqual(await rows(now), await rows(t));
});

test('no commit writes metadata whose current snapshot or a ref names a snapshot it lacks, or whose branch main is elsewhere', async () => {
  let t = await fresh();
  t = (await t.commit({ addDataFiles: await w.write(t, [1]) })).table;
  const version = t.version;
  await assert.rejects(
    t.updateMetadata((m) => ({ ...m, refs: { ...m.refs, audit: { snapshotId: 42n, type: 'tag' } } })),
    (e: Error & { code?: string }) => e.code === 'INTERNAL' && e.message.includes('refs.audit names snapshot 42, which is not one of its snapshots'),
  );
  await assert.rejects(t.updateMetadata((m) => ({ ...m, currentSnapshotId: 42n })), /current-snapshot-id 42 is not one of its snapshots/);
  const first = t.currentSnapshot()!.snapshotId;
  t = (await t.commit({ addDataFiles: await w.write(t, [2]) })).table;
  await assert.rejects(t.updateMetadata((m) => ({ ...m, refs: { ...m.refs, main: { snapshotId: first, type: 'branch' } } })), /branch main is at snapshot \d+ but current-snapshot-id is \d+/);
  assert.equal((await t.refresh()).version, version + 1, 'nothing but the append was committed');
});

test('after expiry the snapshot log starts after the last expired entry: no time travel lands on the wrong snapshot', async () => {
  let t = await fresh();
  for (const ids of [[1], [2]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const s2 = t.currentSnapshot()!.snapshotId;
  t = (await t.commit({ addDataFiles: await w.write(t, [3]) })).table;
  const x = t.currentSnapshot()!;
  t = await rollbackTo(t, s2);
  t = (await t.commit({ addDataFiles: await w.write(t, [4]) })).table;
  // Only the rolled-back snapshot x is old and off the branch: it expires.
  const r = await expireSnapshots(t, { olderThanMs: x.timestampMs + 1, retainLast: 10 });
  assert.deepEqual(r.expiredSnapshotIds, [x.snapshotId]);
  const log = r.table.metadata.snapshotLog;
  assert.ok(log.every((e) => e.timestampMs > x.timestampMs), `log ${JSON.stringify(log.map((e) => [e.timestampMs, String(e.snapshotId)]))} keeps nothing from before x's entry`);
  assert.equal(r.table.snapshotAsOf(x.timestampMs), undefined, "x's time no longer resolves to another snapshot");
});

test('after expiry drops the log before a rollback to the first snapshot, a read as of its time is expired, not empty', async () => {
  let t = await fresh();
  t = (await t.commit({ addDataFiles: await w.write(t, [1]) })).table;
  const s1 = t.currentSnapshot()!;
  t = (await t.commit({ addDataFiles: await w.write(t, [2]) })).table;
  const s2 = t.currentSnapshot()!;
  t = await rollbackTo(t, s1.snapshotId);
  t = (await t.commit({ addDataFiles: await w.write(t, [3]) })).table;
  // s2 is old and off the branch: it expires, and with it the log up to its entry, s1's first one too.
  const r = await expireSnapshots(t, { olderThanMs: s2.timestampMs + 1, retainLast: 10 });
  assert.deepEqual(r.expiredSnapshotIds, [s2.snapshotId]);
  const first = r.table.metadata.snapshotLog[0]!;
  assert.equal(first.snapshotId, s1.snapshotId);
  assert.ok(first.timestampMs > s1.timestampMs, "the log's first entry is the rollback's");
  // s1 was current at its own time: the table was not empty then; that history is gone, so say so.
  assert.equal(r.table.snapshotAsOf(s1.timestampMs), undefined);
  assert.equal(r.table.isExpiredAt(s1.timestampMs), true);
  assert.equal(r.table.isExpiredAt(s1.timestampMs - 1), false, 'before the first snapshot the table was empty');
});

test('expiry drops tags and branches past their max-ref-age-ms (else the table default), never main, and the snapshots only they kept', async () => {
  let t = await fresh();
  for (const ids of [[1], [2], [3], [4]]) t = (await t.commit({ addDataFiles: await w.write(t, ids) })).table;
  const [s1, s2, s3, s4] = t.metadata.snapshots.map((s) => s.snapshotId);
  const DAY = 86_400_000;
  t = await t.updateMetadata((m) => ({
    ...m,
    properties: { ...m.properties, 'history.expire.max-ref-age-ms': String(DAY) },
    refs: {
      ...m.refs,
      old: { snapshotId: s1!, type: 'tag', maxRefAgeMs: DAY },
      young: { snapshotId: s2!, type: 'tag', maxRefAgeMs: 30 * DAY },
      // No max-ref-age-ms of its own: the table property's day applies.
      dev: { snapshotId: s1!, type: 'branch' },
    },
  }));
  // Two days on: old and dev are past a day, young is not, and main never expires.
  const r = await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 1, nowMs: Date.now() + 2 * DAY });
  assert.deepEqual(r.expiredRefs.sort(), ['dev', 'old']);
  assert.deepEqual(Object.keys(r.table.metadata.refs).sort(), ['main', 'young']);
  assert.deepEqual(r.expiredSnapshotIds.sort(), [s1, s3].sort(), 's1 was kept by the dropped refs only');
  assert.deepEqual(r.table.metadata.snapshots.map((s) => s.snapshotId), [s2, s4]);
  assert.deepEqual(await rows(r.table), await rows(t), 'the current rows are untouched');
  // Within a day nothing is dropped.
  const early = await expireSnapshots(t, { olderThanMs: 0, retainLast: 1, nowMs: Date.now(), dryRun: true });
  assert.deepEqual(early.expiredRefs, []);
});
