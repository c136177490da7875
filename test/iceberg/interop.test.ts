// Tables written by src/iceberg are read by PyIceberg, DuckDB's iceberg extension and Spark with
// the Iceberg runtime, at every snapshot: appends, a position delete, an overwrite, a partition
// evolution, merged manifests, a sort order evolution, a compaction (replace) into sorted files, an
// added column, an expiry, and a file parquet-wasm encoded; and a copy of it relocated (mwlake table
// relocate). Each engine must return exactly the rows our own scan returns.

import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { fileLocation, localPathOf } from '../../src/core/storage.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { relocateTables } from '../../src/pipeline/relocate.js';
import { writeSortedDataFile } from '../../src/duckdb/data-file-writer.js';
import { filesRelationSql } from '../../src/duckdb/table-view.js';
import { withPartitionSpec } from '../../src/iceberg/commit/evolve-spec.js';
import { withAddedColumns } from '../../src/iceberg/commit/evolve-schema.js';
import { withSortOrder } from '../../src/iceberg/commit/evolve-sort-order.js';
import { compactionChange, planCompaction } from '../../src/iceberg/maintenance/compaction-plan.js';
import { expireSnapshots } from '../../src/iceberg/maintenance/expire-snapshots.js';
import type { Table } from '../../src/iceberg/table.js';
import { interopScript, runPythonJsonLines } from '../helpers/python.js';
import { openSampleWriter, SAMPLE_SCHEMA, SAMPLE_SPEC, type SampleWriter } from './sample-table.js';

let dir: string;
let w: SampleWriter;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-interop-'));
  w = await openSampleWriter(dir);
});
after(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
  for (const copy of ['moved', 'relocated']) await rm(`${dir}-${copy}`, { recursive: true, force: true });
});

test('PyIceberg, DuckDB and Spark read every snapshot as mwlake does', { timeout: 600_000 }, async () => {
  let t: Table = await w.warehouse.createTable('ns', 'sample', { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });
  const first = await w.write(t, [1, 2, 3, 4, 5, 6, 7, 8]);
  t = (await t.commit({ addDataFiles: first })).table;
  t = (await t.commit({ addDataFiles: await w.write(t, [9, 10]) })).table;
  // A file encoded by parquet-wasm from Arrow batches (the drain's other encoder).
  t = (await t.commit({ addDataFiles: await w.writeWithParquetWasm(t, [30, 36, 42]) })).table;
  const victim = first.find((f) => f.recordCount >= 2)!;
  t = (await t.commit({ addDeleteFiles: [await w.writeDeletes(t, victim, [1])] })).table;
  t = (await t.commit({ removeDataFiles: [first[0]!.filePath], addDataFiles: await w.write(t, [11]) })).table;
  t = await t.updateMetadata((m) => withPartitionSpec(m, [{ sourceId: 2, name: 'category', transform: { kind: 'identity' } }, { sourceId: 1, name: 'id_bucket', transform: { kind: 'bucket', numBuckets: 4 } }]));
  t = (await t.commit({ addDataFiles: await w.write(t, [12, 13]) })).table;
  // The remaining transforms: hour, month, year and truncate.
  t = await t.updateMetadata((m) =>
    withPartitionSpec(m, [
      { sourceId: 6, name: 'ts_hour', transform: { kind: 'hour' } },
      { sourceId: 7, name: 'day_month', transform: { kind: 'month' } },
      { sourceId: 7, name: 'day_year', transform: { kind: 'year' } },
      { sourceId: 2, name: 'category_trunc', transform: { kind: 'truncate', width: 1 } },
    ]),
  );
  t = (await t.commit({ addDataFiles: await w.write(t, [50, 51, 52]) })).table;
  // Manifests merge from the third on, small files are compacted, old snapshots expire.
  t = await t.updateMetadata((m) => ({ ...m, properties: { ...m.properties, 'commit.manifest.min-count-to-merge': '3' } }));
  t = (await t.commit({ addDataFiles: await w.write(t, [14, 15, 16, 17, 18, 19]) })).table;
  t = (await t.commit({ addDataFiles: await w.write(t, [20, 21, 22, 23, 24, 25]) })).table;
  // The compaction writes in the table's new sort order (order id 1; data files record it).
  t = await t.updateMetadata((m) => withSortOrder(m, [{ sourceId: 1, transform: { kind: 'identity' }, direction: 'desc', nullOrder: 'nulls-last' }]));
  assert.equal(t.sortOrder().orderId, 1);
  const plan = await t.planFiles();
  const groups = planCompaction(plan, { targetFileSizeBytes: 64 << 20, minInputFiles: 2, specId: t.metadata.defaultSpecId });
  assert.ok(groups.length >= 1);
  const rewritten = [];
  for (const g of groups) {
    const file = await writeSortedDataFile(w.db, t, { selectSql: filesRelationSql(t, g.dataFiles, g.deleteFiles), partition: g.partition, rowGroupSize: 2048 });
    if (file !== undefined) rewritten.push(file);
  }
  assert.ok(rewritten.every((f) => f.sortOrderId === 1));
  t = (await t.commit(compactionChange(plan, groups, rewritten))).table;
  assert.equal(t.currentSnapshot()?.summary.operation, 'replace');
  // A column added (schema 1): older files read it as NULL, a file written since holds it.
  t = await t.updateMetadata((m) => withAddedColumns(m, [{ name: 'note', type: 'string' }]));
  const source = (await t.planFiles()).dataFiles.find((f) => f.specId === t.metadata.defaultSpecId)!;
  const noted = await writeSortedDataFile(w.db, t, {
    selectSql: `SELECT * REPLACE (id + 1000 AS id, 'n' || id::VARCHAR AS note) FROM (${filesRelationSql(t, [source], [])})`,
    partition: source.file.partition,
    rowGroupSize: 2048,
  });
  t = (await t.commit({ addDataFiles: [noted!] })).table;
  t = (await expireSnapshots(t, { olderThanMs: Date.now() + 1, retainLast: 6 })).table;

  const expected = new Map<string, string[]>();
  for (const s of t.metadata.snapshots) {
    const rows = await w.db.all<{ id: bigint }>(`SELECT id FROM (${await tableRelationSql(t, { snapshotId: s.snapshotId })}) ORDER BY id`);
    expected.set(s.snapshotId.toString(), rows.map((r) => r.id.toString()).sort());
  }
  assert.equal(expected.size, 6, 'snapshots left after the expiry');

  // The warehouse moved twice (copied, relocated, copied again, relocated, the first copy removed):
  // read where it is, at every snapshot too. A path left naming the first copy would fail the reads.
  const relocate = async (from: string, to: string) => {
    await cp(from, to, { recursive: true });
    const [relocated] = await relocateTables(new Warehouse(w.warehouse.storage, fileLocation(to)), silentLogger(), [['ns', 'sample']]);
    assert.ok(relocated!.relocated && relocated!.manifests > 1, JSON.stringify(relocated));
  };
  const copyDir = `${dir}-relocated`;
  await relocate(localPathOf(w.warehouse.rootLocation), `${dir}-moved`);
  await relocate(`${dir}-moved`, copyDir);
  await rm(`${dir}-moved`, { recursive: true });
  const copy = await new Warehouse(w.warehouse.storage, fileLocation(copyDir)).loadTable('ns', 'sample');
  for (const s of copy.metadata.snapshots) {
    const rows = await w.db.all<{ id: bigint }>(`SELECT id FROM (${await tableRelationSql(copy, { snapshotId: s.snapshotId })}) ORDER BY id`);
    assert.deepEqual(rows.map((r) => r.id.toString()).sort(), expected.get(s.snapshotId.toString()), `mwlake reads the relocated copy at ${s.snapshotId}`);
  }

  // A snapshot without files (a first drain of empty topics records its offsets so): its manifest
  // list holds no manifest, and must still be an Avro file with a header, not 0 bytes.
  const empty = (await (await w.warehouse.createTable('ns', 'empty', { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC })).commit({ operation: 'append', summary: { 'mwlake.note': 'no files' } })).table;
  assert.equal(empty.metadata.snapshots.length, 1);

  const engines = ['pyiceberg', 'duckdb', 'spark'];
  const request = {
    reads: [
      { id: 'all', engines, table: t.location.replace('file://', ''), each: 'snapshot' },
      { id: 'relocated', engines, table: copy.location.replace('file://', ''), each: 'snapshot' },
      { id: 'empty', engines, table: empty.location.replace('file://', ''), each: 'snapshot' },
    ],
  };
  const { lines } = await runPythonJsonLines(interopScript('iceberg_read.py'), [], JSON.stringify(request), { okExitCodes: [0, 1] });
  const all = lines.filter((l) => l['kind'] === 'read');
  const failures = all.filter((l) => l['error'] !== undefined);
  assert.deepEqual(failures.map((f) => `${String(f['id'])} ${String(f['engine'])}: ${JSON.stringify(f['error'])}`), []);
  for (const [id, engine] of ['relocated', 'all'].flatMap((id) => engines.map((engine) => [id, engine] as const))) {
    const mine = all.filter((l) => l['engine'] === engine && String(l['id']).startsWith(id));
    assert.equal(mine.length, expected.size, `${engine} read every snapshot of ${id}`);
    for (const r of mine) {
      const snapshot = String((r['selector'] as { snapshotId: string }).snapshotId);
      const got = (r['rows'] as { id: string }[]).map((x) => x.id).sort();
      assert.deepEqual(got, expected.get(snapshot), `${engine} at snapshot ${snapshot} of ${id}`);
    }
  }
  for (const engine of engines) {
    const read = all.filter((l) => l['engine'] === engine && String(l['id']).startsWith('empty'));
    assert.deepEqual(read.map((r) => (r['rows'] as unknown[]).length), [0], `${engine} reads the file-less snapshot as empty`);
  }
  const reads = all.filter((l) => String(l['id']).startsWith('all'));
  // Nested values survive: the map of structs and the 2^53+1 list element, as PyIceberg reads them.
  const py = reads.filter((l) => l['engine'] === 'pyiceberg').at(-1)!;
  const row = (py['rows'] as Record<string, unknown>[]).find((x) => x['id'] === '20')!;
  assert.deepEqual(row['nums'], ['20', '9007199254740993']);
  assert.deepEqual(row['attrs'], { k20: { a: '20', b: 'w20' } });
  assert.deepEqual(row['info'], { x: 20, y: 'v20' });
  // The added column: NULL in files from before it, the value in the file written since.
  const notes = (py['rows'] as Record<string, unknown>[]).filter((x) => Number(x['id']) > 1000);
  assert.ok(notes.length > 0 && notes.every((x) => x['note'] === `n${Number(x['id']) - 1000}`), JSON.stringify(notes));
  assert.equal(row['note'], null);
  // And the parquet-wasm file's values, microsecond timestamp included.
  const wasmRow = (py['rows'] as Record<string, unknown>[]).find((x) => x['id'] === '36')!;
  assert.deepEqual([wasmRow['nums'], wasmRow['attrs'], wasmRow['info'], wasmRow['ts']], [['36', '9007199254740993'], { k36: { a: '36', b: 'w36' } }, { x: 36, y: 'v36' }, '2024-01-01T00:00:00.000006Z']);
});
