// Spec pieces against the spec's own test vectors (vectors/bucket-hash.json) and Appendix D bytes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareValues, decodeValue, encodeValue, truncateUpperBound } from '../../src/iceberg/spec/bounds.js';
import { schemaDifference } from '../../src/iceberg/spec/schema-difference.js';
import type { PrimitiveType, Schema } from '../../src/iceberg/spec/types.js';
import { applyTransform, bucketHash, partitionPath } from '../../src/iceberg/spec/transform.js';
import { parseTableMetadata, serializeTableMetadata } from '../../src/iceberg/spec/serde/table-metadata.js';
import { SAMPLE_SCHEMA, SAMPLE_SPEC } from './sample-table.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const vectorsDir = join(here, '..', '..', '..', 'test', 'iceberg', 'vectors');
const bucket = JSON.parse(readFileSync(join(vectorsDir, 'bucket-hash.json'), 'utf8')) as {
  vectors: { type: PrimitiveType; value: unknown; hash: number }[];
  buckets: { type: PrimitiveType; value: number; numBuckets: number; bucket: number }[];
};

function vectorValue(type: PrimitiveType, value: unknown): unknown {
  if (type === 'long' || type === 'time' || type.startsWith('timestamp') || type.startsWith('decimal')) return BigInt(value as string);
  if (type === 'binary' || type.startsWith('fixed')) return Uint8Array.from(Buffer.from(value as string, 'hex'));
  return value;
}

test('bucket hashes match the spec vectors (Appendix B)', () => {
  assert.ok(bucket.vectors.length >= 10);
  for (const v of bucket.vectors) {
    assert.equal(bucketHash(v.type, vectorValue(v.type, v.value)), v.hash, `${v.type} ${String(v.value)}`);
  }
  for (const b of bucket.buckets) assert.equal(applyTransform({ kind: 'bucket', numBuckets: b.numBuckets }, b.type, b.value), b.bucket);
});

test('nanosecond timestamps hash as their microseconds, floored before the epoch as Java does', () => {
  // Spec Appendix B: 2017-11-16T22:31:08.000001001 hashes as 1510871468000001 µs.
  assert.equal(bucketHash('timestamp_ns', 1510871468000001001n), -1207196810);
  assert.equal(bucketHash('timestamptz_ns', 1510871468000001001n), -1207196810);
  // -1500 ns is -2 µs (Math.floorDiv), not -1 (truncation).
  assert.equal(bucketHash('timestamptz_ns', -1500n), bucketHash('long', -2n));
  assert.equal(bucketHash('timestamp_ns', -1n), bucketHash('long', -1n));
  assert.equal(bucketHash('timestamp_ns', -1000n), bucketHash('long', -1n));
  assert.notEqual(bucketHash('long', -2n), bucketHash('long', -1n));
});

test('time transforms floor before the epoch', () => {
  const ts = -1n; // 1969-12-31T23:59:59.999999Z
  assert.equal(applyTransform({ kind: 'day' }, 'timestamptz', ts), -1);
  assert.equal(applyTransform({ kind: 'hour' }, 'timestamptz', ts), -1);
  assert.equal(applyTransform({ kind: 'month' }, 'timestamptz', ts), -1);
  assert.equal(applyTransform({ kind: 'day' }, 'timestamptz', 1510871468000000n), 17486);
  assert.equal(applyTransform({ kind: 'identity' }, 'string', null), null);
});

test('single-value binary encoding (Appendix D) matches Spark-written bytes', () => {
  assert.equal(Buffer.from(encodeValue('int', 1)).toString('hex'), '01000000');
  assert.equal(Buffer.from(encodeValue('string', 'a')).toString('hex'), '61');
  assert.equal(Buffer.from(encodeValue('date', 20089)).toString('hex'), '794e0000');
  assert.equal(Buffer.from(encodeValue('long', 2n ** 62n)).toString('hex'), '0000000000000040');
  assert.equal(decodeValue('long', encodeValue('long', -5n)), -5n);
  assert.equal(decodeValue('timestamptz', encodeValue('timestamptz', 1510871468000001n)), 1510871468000001n);
});

test('bounds written before a column was widened (int to long, float to double) are read in the narrower form', () => {
  assert.equal(decodeValue('long', encodeValue('int', -5)), -5n);
  assert.equal(decodeValue('double', encodeValue('float', 1.5)), 1.5);
  assert.throws(() => decodeValue('long', new Uint8Array(2)), /a long bound must be 8 bytes, found 2/);
});

test('a truncated string upper bound is incremented so it still bounds the value', () => {
  const value = 'abcdefghijklmnopqrstuvwxyz';
  const upper = truncateUpperBound(value, 16)!;
  assert.equal(upper, 'abcdefghijklmnoq');
  assert.ok(upper > value);
  assert.equal(truncateUpperBound('short', 16), 'short');
  assert.equal(truncateUpperBound('\u{10FFFF}'.repeat(17), 16), undefined);
});

test('-0 orders before 0 (Appendix D), so a bound over both is -0 below and 0 above', () => {
  assert.equal(compareValues(-0, 0), -1);
  assert.equal(compareValues(0, -0), 1);
  assert.equal(compareValues(-0, -0), 0);
  assert.equal(compareValues(-1, -0), -1);
  const sorted = [0, -0].sort(compareValues);
  assert.ok(Object.is(sorted[0], -0) && Object.is(sorted[1], 0));
  assert.equal(Buffer.from(encodeValue('double', sorted[0]!)).toString('hex'), '0000000000000080');
});

test('partition paths escape values and name days as dates', () => {
  assert.equal(partitionPath(SAMPLE_SPEC, SAMPLE_SCHEMA, ['a/b c', 19723]), 'category=a%2Fb%20c/ts_day=2024-01-01');
  assert.equal(partitionPath(SAMPLE_SPEC, SAMPLE_SCHEMA, [null, null]), 'category=null/ts_day=null');
});

/** Table metadata JSON fields of a one-column, unpartitioned, unsorted table. */
const ONE_COLUMN_TABLE = {
  'format-version': 2,
  'table-uuid': '9c12d441-03fe-4693-9a96-a0705ddf69c1',
  location: 'file:///wh/ns/t',
  'last-sequence-number': 1,
  'last-updated-ms': 1700000000000,
  'last-column-id': 1,
  'current-schema-id': 0,
  schemas: [{ type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] }],
  'default-spec-id': 0,
  'partition-specs': [{ 'spec-id': 0, fields: [] }],
  'last-partition-id': 999,
  'default-sort-order-id': 0,
  'sort-orders': [{ 'order-id': 0, fields: [] }],
  properties: {},
};

test('table metadata keeps 64-bit ids exact through parse and serialize', () => {
  const big = 9007199254740993n; // 2^53 + 1: a double would round it
  const text = JSON.stringify({
    ...ONE_COLUMN_TABLE,
    'current-snapshot-id': 'BIG',
    snapshots: [{ 'snapshot-id': 'BIG', 'sequence-number': 1, 'timestamp-ms': 1700000000000, 'manifest-list': 'file:///wh/ns/t/metadata/snap.avro', summary: { operation: 'append', 'added-records': '1' } }],
    'snapshot-log': [],
    'metadata-log': [],
  }).replaceAll('"BIG"', big.toString());
  const m = parseTableMetadata(text);
  assert.equal(m.currentSnapshotId, big);
  assert.equal(m.refs['main']?.snapshotId, big);
  const again = serializeTableMetadata(m);
  assert.match(again, /"current-snapshot-id": 9007199254740993/);
  assert.equal(parseTableMetadata(again).snapshots[0]?.snapshotId, big);
  const empty = parseTableMetadata(text.replace(`"current-snapshot-id":${big}`, '"current-snapshot-id":-1'));
  assert.equal(empty.currentSnapshotId, undefined);
  assert.throws(() => parseTableMetadata('{"format-version": 2}'), /missing required field/);
});

test('table metadata whose current snapshot or a ref is missing, or disagrees with branch main, is refused (a commit would drop every file)', () => {
  const metadata = (current: number, main?: number) =>
    JSON.stringify({
      ...ONE_COLUMN_TABLE,
      'last-sequence-number': 2,
      'current-snapshot-id': current,
      ...(main === undefined ? {} : { refs: { main: { 'snapshot-id': main, type: 'branch' } } }),
      snapshots: [1, 2].map((id) => ({ 'snapshot-id': id, 'sequence-number': id, 'timestamp-ms': 1700000000000, 'manifest-list': `file:///wh/ns/t/metadata/snap-${id}.avro`, summary: { operation: 'append' } })),
    });
  assert.equal(parseTableMetadata(metadata(2, 2)).currentSnapshotId, 2n);
  assert.throws(() => parseTableMetadata(metadata(3), 'v3.metadata.json'), /v3\.metadata\.json: current-snapshot-id 3 is not one of its snapshots/);
  assert.throws(() => parseTableMetadata(metadata(2, 1)), /branch main is at snapshot 1 but current-snapshot-id is 2/);
  assert.throws(() => parseTableMetadata(metadata(-1, 1)), /branch main is at snapshot 1 but current-snapshot-id is none/);
  // A tag or branch naming a snapshot the table lacks, as Java's ref validation refuses it.
  const dangling = JSON.parse(metadata(2, 2)) as { refs: Record<string, unknown> };
  dangling.refs['audit'] = { 'snapshot-id': 9, type: 'tag' };
  assert.throws(() => parseTableMetadata(JSON.stringify(dangling)), /refs\.audit names snapshot 9, which is not one of its snapshots/);
});

test('a stored schema differing from the expected one is named by its first differing column, matched by field id at every level', () => {
  const expected: Schema = {
    schemaId: 0,
    fields: [
      { id: 1, name: 'id', required: true, type: 'long' },
      { id: 2, name: 'meta', required: false, type: { type: 'struct', fields: [{ id: 5, name: 'dt', required: false, type: 'timestamptz' }] } },
      { id: 3, name: 'tags', required: false, type: { type: 'list', elementId: 6, elementRequired: false, element: 'string' } },
      { id: 4, name: 'slots', required: false, type: { type: 'map', keyId: 7, key: 'string', valueId: 8, valueRequired: false, value: 'string' } },
    ],
  };
  const changed = (change: (fields: any[]) => void): Schema => {
    const copy = structuredClone(expected) as { fields: any[] } & Schema;
    change(copy.fields);
    return copy;
  };
  assert.equal(schemaDifference(expected, expected), undefined);
  // Optional where a required column is expected, and docs, are no difference.
  assert.equal(schemaDifference(changed((f) => Object.assign(f[0], { required: false, doc: 'the id' })), expected), undefined);
  assert.equal(schemaDifference(changed((f) => (f[1].type.fields[0].name = 'when')), expected), 'column meta.dt (field id 5) is named when');
  assert.equal(schemaDifference(changed((f) => f.push({ id: 9, name: 'x', required: false, type: 'string' })), expected), 'column x (field id 9) is not one the writer knows');
  assert.equal(schemaDifference(changed((f) => f.splice(2, 1)), expected), 'column tags (field id 3) is missing');
  assert.equal(schemaDifference(changed((f) => (f[1].type.fields[0].type = 'timestamp')), expected), 'column meta.dt is timestamp, not timestamptz');
  assert.equal(schemaDifference(changed((f) => (f[1].type.fields[0].required = true)), expected), 'column meta.dt is required');
  assert.equal(schemaDifference(changed((f) => (f[2].type.element = 'long')), expected), 'column tags.element is long, not string');
  assert.equal(schemaDifference(changed((f) => (f[3].type.valueId = 9)), expected), "column slots's key and value have field ids 7 and 9, not 7 and 8");
  assert.equal(schemaDifference(changed((f) => (f[3].type = 'string')), expected), 'column slots is string, not a map');
});
