// The files a merge writes: revisions in row groups of about 32 MiB (readers hold a column chunk
// whole), and in several key-sorted files when the merged rows exceed one sort's budget, with
// the same table contents as one file.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { JobError, storageError } from '../../src/core/errors.js';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { rowGroupRows } from '../../src/duckdb/data-file-writer.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { planCompaction } from '../../src/iceberg/maintenance/compaction-plan.js';
import { PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { appendBatch, generatedEvents, merge, stateHashes, warehouseAt } from './merge-fixture.js';

let dir: string;
const events = generatedEvents(41, 8000);
let whole: Warehouse;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-files-'));
  whole = warehouseAt(join(dir, 'whole'));
  await appendBatch(whole, events.slice(0, 7000));
  await merge(whole);
  await appendBatch(whole, events.slice(7000));
  await merge(whole);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Per enwiki revisions data file: its row groups' row counts and its revision id bounds. */
async function enwikiRevisionFiles(warehouse: Warehouse): Promise<{ groups: number[]; lo: bigint; hi: bigint; sorted: boolean }[]> {
  const table = await warehouse.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  const plan = await table.planFiles({});
  const db = await openDuckDb();
  try {
    const out = [];
    for (const f of plan.dataFiles.filter((d) => d.file.partition[0] === 'enwiki')) {
      const path = sqlString(table.storage.localPath(f.file.filePath)!);
      const groups = await db.all<{ rows: bigint }>(`SELECT DISTINCT row_group_id, row_group_num_rows AS rows FROM parquet_metadata(${path}) ORDER BY row_group_id`);
      const [r] = await db.all<{ lo: bigint; hi: bigint; unsorted: bigint }>(
        `SELECT min(revision_id) AS lo, max(revision_id) AS hi, count(*) FILTER (WHERE revision_id <= previous) AS unsorted
         FROM (SELECT revision_id, lag(revision_id) OVER (ORDER BY file_row_number) AS previous FROM read_parquet(${path}, file_row_number = true))`,
      );
      out.push({ groups: groups.map((g) => Number(g.rows)), lo: r!.lo, hi: r!.hi, sorted: r!.unsorted === 0n });
    }
    return out;
  } finally {
    await db.close();
  }
}

test('rowGroupRows: about 32 MiB of rows, in whole vectors of 2048, at most the cap', () => {
  assert.equal(rowGroupRows(256), 98_304);
  assert.equal(rowGroupRows(8_000), 4_096);
  assert.equal(rowGroupRows(12_000), 2_048);
  assert.equal(rowGroupRows(5_000_000), 2_048);
  assert.equal(rowGroupRows(0), 98_304);
  assert.equal(rowGroupRows(256, 10_000), 8_192);
});

test('the merge writes revisions in row groups of about 32 MiB, not one row group per file', { timeout: 300_000 }, async () => {
  const table = await whole.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  const db = await openDuckDb();
  let limit: number;
  try {
    const [avg] = await db.all<{ b: number }>(`SELECT avg(coalesce(revision_size, 0) + 256)::DOUBLE AS b FROM (${await tableRelationSql(table)}) WHERE wiki_id = 'enwiki'`);
    limit = rowGroupRows(avg!.b);
  } finally {
    await db.close();
  }
  const files = await enwikiRevisionFiles(whole);
  const first = files.reduce((a, b) => (a.groups.reduce((x, y) => x + y) >= b.groups.reduce((x, y) => x + y) ? a : b));
  assert.ok(first.groups.length >= 2, `the first merge's file has ${first.groups.length} row groups (${first.groups.join(', ')} rows)`);
  for (const f of files) for (const rows of f.groups) assert.ok(rows <= limit, `a row group of ${rows} rows (limit ${limit})`);
});

test('merged rows beyond one sort go to several sorted files with disjoint keys; the table is the same', { timeout: 300_000 }, async () => {
  const split = warehouseAt(join(dir, 'split'));
  await appendBatch(split, events.slice(0, 7000));
  await merge(split, { passBytes: 8 << 20 });
  const files = (await enwikiRevisionFiles(split)).sort((a, b) => (a.lo < b.lo ? -1 : 1));
  assert.ok(files.length >= 4, `${files.length} files`);
  for (const f of files) assert.ok(f.sorted, 'each file is sorted by revision id');
  for (let i = 1; i < files.length; i++) assert.ok(files[i]!.lo > files[i - 1]!.hi, `file ${i} starts after file ${i - 1} ends`);

  // The next merge replaces rows across those files (position deletes name each).
  await appendBatch(split, events.slice(7000));
  const second = await merge(split, { passBytes: 8 << 20 });
  const revisions = second.tables.find((t) => t.table.endsWith(REVISIONS_TABLE))!;
  assert.ok(revisions.rowsReplaced > 0, `the second merge replaced ${revisions.rowsReplaced} revision rows`);
  assert.deepEqual(await stateHashes(split), await stateHashes(whole));
});

test('a merge that fails before its commit (a file, the commit) leaves none of its files behind, and the next merge gives the same state', { timeout: 300_000 }, async () => {
  const root = join(dir, 'failing');
  await appendBatch(warehouseAt(root), events.slice(0, 7000));
  await merge(warehouseAt(root));
  await appendBatch(warehouseAt(root), events.slice(7000));
  const stateFiles = async () => (await readdir(join(root, STATE_NAMESPACE), { recursive: true })).filter((f) => /\.(parquet|avro|json)$/.test(f)).sort();
  const before = await stateFiles();
  // Failures after some files of the revisions merge are written: the second wiki's data file
  // (enwiki, after dewiki's) cannot be read back, or the commit finds the disk full.
  let failure: 'file' | 'commit' = 'file';
  class Failing extends LocalStorage {
    override async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
      if (failure === 'file' && /\/revisions\/data\/wiki_id=enwiki\/[^/]*-merge\.parquet$/.test(location)) throw storageError('read', location, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
      return super.readRange(location, offset, length);
    }
    override async writeIfAbsent(location: string, bytes: Uint8Array | string): Promise<void> {
      if (failure === 'commit' && /\/revisions\/metadata\/v\d+\.metadata\.json$/.test(location)) throw storageError('create', location, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
      return super.writeIfAbsent(location, bytes);
    }
  }
  const failing = new Warehouse(new Failing(), fileLocation(root));
  await assert.rejects(merge(failing), (e: unknown) => e instanceof JobError && e.code === 'STORAGE' && /wiki_id=enwiki/.test(e.message));
  assert.deepEqual(await stateFiles(), before, 'a failed file write');
  failure = 'commit';
  await assert.rejects(merge(failing), (e: unknown) => e instanceof JobError && e.code === 'RESOURCES');
  assert.deepEqual(await stateFiles(), before, 'a failed commit');
  await merge(warehouseAt(root));
  assert.deepEqual(await stateHashes(warehouseAt(root)), await stateHashes(whole));
});

test('a merge writes one position delete file per data file it replaces rows in, naming it, so compaction rewrites only those files', { timeout: 300_000 }, async () => {
  const warehouse = warehouseAt(join(dir, 'file-scoped'));
  const batches = generatedEvents(43, 3000);
  // Three merges: the last replaces page rows written by each of the two before it.
  for (let i = 0; i < 3; i++) {
    await appendBatch(warehouse, batches.slice(i * 1000, (i + 1) * 1000));
    await merge(warehouse);
  }
  const table = await warehouse.loadTable(STATE_NAMESPACE, PAGES_TABLE);
  const plan = await table.planFiles({});
  const enwiki = (f: { file: { partition: readonly unknown[] } }) => f.file.partition[0] === 'enwiki';
  const deletes = plan.deleteFiles.filter(enwiki);
  const named = new Set(deletes.map((d) => d.file.referencedDataFile));
  assert.equal(named.has(undefined), false, 'every delete file names its data file');
  assert.ok(named.size >= 2, `the last merge replaced rows in ${named.size} file(s); the test needs two`);
  const db = await openDuckDb();
  try {
    for (const d of deletes) {
      const paths = await db.all<{ file_path: string }>(`SELECT DISTINCT file_path FROM read_parquet(${sqlString(table.storage.localPath(d.file.filePath)!)})`);
      assert.deepEqual(paths.map((p) => p.file_path), [d.file.referencedDataFile]);
    }
  } finally {
    await db.close();
  }
  // No file is small against a 1-byte target: the candidates are the files rows were deleted from.
  const [group] = planCompaction(plan, { targetFileSizeBytes: 1, minInputFiles: 1, specId: table.spec().specId }).filter((g) => g.partition[0] === 'enwiki');
  const enwikiFiles = plan.dataFiles.filter(enwiki);
  assert.ok(enwikiFiles.length > named.size, `${enwikiFiles.length} enwiki files, ${named.size} with deletes: the test needs one without`);
  assert.deepEqual(new Set(group!.dataFiles.map((f) => f.file.filePath)), named);
});
