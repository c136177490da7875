// Scan pruning by simple predicates: a planned scan never misses a matching row (checked against
// DuckDB filtering every row), and it does skip files: by partition (identity, day, bucket after
// evolution) and by column bounds and null counts.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { filesRelationSql, tableRelationSql } from '../../src/duckdb/table-view.js';
import { withPartitionSpec } from '../../src/iceberg/commit/evolve-spec.js';
import { predicateFilter, type Predicate } from '../../src/iceberg/scan/predicate.js';
import { encodeValue } from '../../src/iceberg/spec/bounds.js';
import { DataFileContent, type DataFile } from '../../src/iceberg/spec/manifest.js';
import type { PartitionSpec } from '../../src/iceberg/spec/partition.js';
import type { Schema } from '../../src/iceberg/spec/types.js';
import type { Table } from '../../src/iceberg/table.js';
import { openSampleWriter, SAMPLE_SCHEMA, SAMPLE_SPEC, type SampleWriter } from './sample-table.js';

let dir: string;
let w: SampleWriter;
let t: Table;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-predicate-'));
  w = await openSampleWriter(dir);
  t = await w.warehouse.createTable('ns', 'p', { schema: SAMPLE_SCHEMA, spec: SAMPLE_SPEC });
  // Several appends of separate id ranges, so id bounds differ per file.
  for (let base = 0; base < 60; base += 12) t = (await t.commit({ addDataFiles: await w.write(t, Array.from({ length: 12 }, (_, i) => base + i + 1)) })).table;
  t = await t.updateMetadata((m) => withPartitionSpec(m, [{ sourceId: 1, name: 'id_bucket', transform: { kind: 'bucket', numBuckets: 4 } }]));
  t = (await t.commit({ addDataFiles: await w.write(t, [100, 101, 102, 103, 104, 105, 106, 107]) })).table;
});
after(async () => {
  await w.close();
  await rm(dir, { recursive: true, force: true });
});

const ts = (iso: string) => BigInt(Date.parse(iso)) * 1000n;

const CASES: [string, Predicate[], string][] = [
  ['identity partition eq', [{ column: 'category', op: 'eq', value: 'b' }], "category = 'b'"],
  ['identity partition in', [{ column: 'category', op: 'in', values: ['c', 'zzz'] }], "category IN ('c', 'zzz')"],
  ['is null on a partition column', [{ column: 'category', op: 'isNull' }], 'category IS NULL'],
  ['day partition lt', [{ column: 'ts', op: 'lt', value: ts('2024-01-02T00:00:00Z') }], "ts < TIMESTAMPTZ '2024-01-02 00:00:00+00'"],
  ['day partition gte', [{ column: 'ts', op: 'gte', value: ts('2024-01-02T00:00:00Z') }], "ts >= TIMESTAMPTZ '2024-01-02 00:00:00+00'"],
  ['bounds eq', [{ column: 'id', op: 'eq', value: 30n }], 'id = 30'],
  ['bounds range', [{ column: 'id', op: 'gt', value: 40n }, { column: 'id', op: 'lte', value: 50 }], 'id > 40 AND id <= 50'],
  ['bucket partition eq after evolution', [{ column: 'id', op: 'eq', value: 103n }], 'id = 103'],
  ['conjunction across partition and bounds', [{ column: 'category', op: 'eq', value: 'b' }, { column: 'id', op: 'lt', value: 13n }], "category = 'b' AND id < 13"],
  ['int bounds gte', [{ column: 'n', op: 'gte', value: 59 }], 'n >= 59'],
];

for (const [name, where, sql] of CASES) {
  test(`pruning never misses a row: ${name}`, async () => {
    const all = await t.planFiles();
    const plan = await t.planFiles({ where });
    const want = await w.db.all<{ id: bigint }>(`SELECT id FROM (${await tableRelationSql(t)}) WHERE ${sql} ORDER BY id`);
    const got = await w.db.all<{ id: bigint }>(`SELECT id FROM (${filesRelationSql(t, plan.dataFiles, plan.deleteFiles)}) WHERE ${sql} ORDER BY id`);
    assert.deepEqual(got, want);
    assert.ok(want.length > 0, 'the case matches some rows');
    assert.ok(plan.dataFiles.length < all.dataFiles.length, `${plan.dataFiles.length} of ${all.dataFiles.length} files planned: nothing was pruned`);
  });
}

test('an unknown column is an error naming it', async () => {
  await assert.rejects(t.planFiles({ where: [{ column: 'nope', op: 'eq', value: 1 }] }), /predicate column "nope"/);
});

test('NaN never prunes a file: NaN bounds (older writers) and NaN partition values bound nothing; a NaN literal is an error', () => {
  const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'x', required: false, type: 'double' }] };
  const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'x', transform: { kind: 'identity' } }] };
  const double = (v: number) => encodeValue('double', v);
  const file = (partition: number[], lower?: number, upper?: number): DataFile => ({
    content: DataFileContent.Data,
    filePath: 'file:///t/data/f.parquet',
    fileFormat: 'PARQUET',
    partition,
    recordCount: 2,
    fileSizeInBytes: 100,
    ...(lower === undefined ? {} : { lowerBounds: new Map([[1, double(lower)]]) }),
    ...(upper === undefined ? {} : { upperBounds: new Map([[1, double(upper)]]) }),
  });
  const unpartitioned: PartitionSpec = { specId: 1, fields: [] };
  const gt5 = predicateFilter(schema, [spec, unpartitioned], [{ column: 'x', op: 'gt', value: 5 }]);
  assert.equal(gt5(file([], 1, NaN), 1), true, 'an upper bound of NaN says nothing about the largest value');
  assert.equal(gt5(file([], 1, 3), 1), false, 'a real upper bound still prunes');
  assert.equal(gt5(file([NaN]), 0), true, 'NaN sorts after every number (DuckDB, Spark, Java comparators)');
  assert.throws(() => predicateFilter(schema, [spec], [{ column: 'x', op: 'lt', value: NaN }]), /predicate on x compares with NaN/);
});

test('a float column compares with the literal as a 32-bit float: 0.1 finds 0.1f', () => {
  const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'x', required: false, type: 'float' }] };
  const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'x', transform: { kind: 'identity' } }] };
  const stored = Math.fround(0.1);
  const file = (partition: number[]): DataFile => ({
    content: DataFileContent.Data,
    filePath: 'file:///t/data/f.parquet',
    fileFormat: 'PARQUET',
    partition,
    recordCount: 1,
    fileSizeInBytes: 100,
    lowerBounds: new Map([[1, encodeValue('float', stored)]]),
    upperBounds: new Map([[1, encodeValue('float', stored)]]),
  });
  const unpartitioned: PartitionSpec = { specId: 1, fields: [] };
  for (const op of ['eq', 'lte', 'gte'] as const) {
    const keep = predicateFilter(schema, [spec, unpartitioned], [{ column: 'x', op, value: 0.1 }]);
    assert.equal(keep(file([]), 1), true, `bounds, ${op} 0.1`);
    assert.equal(keep(file([stored]), 0), true, `partition, ${op} 0.1`);
  }
  assert.equal(predicateFilter(schema, [unpartitioned], [{ column: 'x', op: 'lt', value: 0.1 }])(file([]), 1), false, 'x < 0.1 holds for no 0.1f');
});

test('decimal identity partitions (bytes, as PyIceberg writes them) compare by value with the unscaled literal', () => {
  const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 'p', required: false, type: 'decimal(9, 2)' }] };
  const spec: PartitionSpec = { specId: 0, fields: [{ sourceId: 1, fieldId: 1000, name: 'p', transform: { kind: 'identity' } }] };
  // -1.50: the Avro fixed of decimal(9, 2) holds the unscaled -150 in 4 big-endian two's-complement bytes.
  const file: DataFile = { content: DataFileContent.Data, filePath: 'file:///t/data/f.parquet', fileFormat: 'PARQUET', partition: [Uint8Array.of(0xff, 0xff, 0xff, 0x6a)], recordCount: 1, fileSizeInBytes: 100 };
  const keeps = (op: 'eq' | 'lt' | 'gt', value: bigint) => predicateFilter(schema, [spec], [{ column: 'p', op, value }])(file, 0);
  assert.equal(keeps('lt', 1420n), true, '-1.50 < 14.20');
  assert.equal(keeps('eq', -150n), true);
  assert.equal(keeps('eq', 1420n), false);
  assert.equal(keeps('gt', -100n), false, '-1.50 > -1.00 holds for no row');
});

test('bigint literals of int and date columns work with every transform, as number literals do', () => {
  const schema: Schema = {
    schemaId: 0,
    fields: [
      { id: 1, name: 'd', required: false, type: 'date' },
      { id: 2, name: 'n', required: false, type: 'int' },
    ],
  };
  const spec: PartitionSpec = {
    specId: 0,
    fields: [
      { sourceId: 1, fieldId: 1000, name: 'd_month', transform: { kind: 'month' } },
      { sourceId: 1, fieldId: 1001, name: 'd_year', transform: { kind: 'year' } },
      { sourceId: 2, fieldId: 1002, name: 'n_trunc', transform: { kind: 'truncate', width: 10 } },
      { sourceId: 2, fieldId: 1003, name: 'n_bucket', transform: { kind: 'bucket', numBuckets: 16 } },
    ],
  };
  // 2024-01-01 is day 19723: month 648, year 54; 34 truncates to 30 and falls in bucket 3.
  const file = (month: number): DataFile => ({ content: DataFileContent.Data, filePath: 'file:///t/data/f.parquet', fileFormat: 'PARQUET', partition: [month, 54, 30, 3], recordCount: 1, fileSizeInBytes: 100 });
  for (const [d, n] of [[19723n, 34n], [19723, 34]] as const) {
    const keep = predicateFilter(schema, [spec], [{ column: 'd', op: 'eq', value: d }, { column: 'n', op: 'eq', value: n }]);
    assert.equal(keep(file(648), 0), true, typeof d);
    assert.equal(keep(file(649), 0), false, typeof d);
    assert.equal(predicateFilter(schema, [spec], [{ column: 'd', op: 'lt', value: d }])(file(649), 0), false, typeof d);
  }
});

test('a literal of the wrong type is an error naming the column, not a comparison that prunes at random', () => {
  // '2024-01-02' against microsecond bounds compared as neither smaller nor larger: lt pruned by bounds, silently.
  assert.throws(() => predicateFilter(SAMPLE_SCHEMA, [SAMPLE_SPEC], [{ column: 'ts', op: 'lt', value: '2024-01-02' }]), /predicate on ts \(timestamptz\) needs a bigint \(microseconds\) literal, found "2024-01-02"/);
  assert.throws(() => predicateFilter(SAMPLE_SCHEMA, [SAMPLE_SPEC], [{ column: 'category', op: 'in', values: ['a', 7] }]), /predicate on category \(string\) needs a string literal, found 7/);
  assert.throws(() => predicateFilter(SAMPLE_SCHEMA, [SAMPLE_SPEC], [{ column: 'id', op: 'eq', value: 1.5 }]), /predicate on id \(long\) needs a bigint literal, found 1.5/);
  // Numbers for integer columns, and null, stay fine.
  predicateFilter(SAMPLE_SCHEMA, [SAMPLE_SPEC], [{ column: 'id', op: 'lte', value: 50 }, { column: 'category', op: 'eq', value: null }]);
});
