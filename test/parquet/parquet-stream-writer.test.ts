// Arrow → Parquet through parquet-wasm's streaming writer: Iceberg field ids on every column
// (nested ones included), values exact (microsecond timestamps, longs above 2^53, maps, lists),
// files rolled at the target size, and wasm memory bounded however much is written.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as wasm from 'parquet-wasm/node';
import { JobError, storageError } from '../../src/core/errors.js';
import { fileLocation, LocalStorage, type ObjectWriter } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { decodeValue } from '../../src/iceberg/spec/bounds.js';
import { isoToMicros, rowsToRecordBatch } from '../../src/parquet/arrow-rows.js';
import { describeParquetFile } from '../../src/parquet/footer-data-file.js';
import { RollingParquetWriter } from '../../src/parquet/parquet-stream-writer.js';
import { SAMPLE_SCHEMA, sampleRowValues } from '../iceberg/sample-table.js';

let dir: string;
const storage = new LocalStorage();
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-pqwasm-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The shared sample row, with a padded info.y, one day for every row, and every fifth map null. */
function sampleRow(i: number, pad = ''): Record<string, unknown> {
  const row = sampleRowValues(i);
  return { ...row, day: '2024-02-01', info: { x: i, y: `v${i}${pad}` }, attrs: i % 5 === 0 ? null : row['attrs'] };
}

let n = 0;
const nextLocation = () => fileLocation(join(dir, `f${n++}.parquet`));

test('field ids on every column and exact values, as DuckDB reads them', async () => {
  const w = new RollingParquetWriter(storage, nextLocation, 64 << 20);
  await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 50 }, (_, i) => sampleRow(i + 1))));
  const [file] = await w.close();
  assert.ok(file);
  const df = await describeParquetFile({ storage, location: file.location, schema: SAMPLE_SCHEMA, partition: [] });
  assert.equal(df.recordCount, 50);
  assert.equal(df.fileSizeInBytes, file.sizeBytes);
  // Metrics are keyed by the field ids read from the file: every leaf has one.
  assert.deepEqual([...df.valueCounts!.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 15, 17, 18]);
  assert.equal(decodeValue('long', df.lowerBounds!.get(1)!), 1n);
  assert.equal(decodeValue('long', df.upperBounds!.get(1)!), 50n);
  assert.equal(decodeValue('timestamptz', df.lowerBounds!.get(6)!), isoToMicros('2024-01-01T00:00:00.000000Z'));

  const db = await openDuckDb();
  try {
    const rows = await db.all<Record<string, unknown>>(
      `SELECT id, epoch_us(ts) AS us, nums[2] AS big, attrs['k7'].b AS b7, info.y AS y, day::VARCHAR AS day FROM read_parquet('${file.location.replace('file://', '')}') WHERE id IN (7, 10) ORDER BY id`,
    );
    assert.deepEqual(rows, [
      { id: 7n, us: isoToMicros('2024-01-02T00:00:00.000007Z'), big: 9007199254740993n, b7: 'w7', y: 'v7', day: '2024-02-01' },
      { id: 10n, us: isoToMicros('2024-01-01T00:00:00.000000Z'), big: 9007199254740993n, b7: null, y: 'v10', day: '2024-02-01' },
    ]);
  } finally {
    await db.close();
  }
});

test('files roll at the target size and keep every row', async () => {
  const w = new RollingParquetWriter(storage, nextLocation, 256 << 10, { rowGroupRows: 500 });
  // Incompressible text, so the encoded size follows the row count.
  for (let b = 0; b < 8; b++) await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 500 }, (_, i) => sampleRow(b * 500 + i, randomBytes(300).toString('hex')))));
  const files = await w.close();
  assert.ok(files.length >= 2, `${files.length} file(s)`);
  let rows = 0;
  for (const f of files) rows += (await describeParquetFile({ storage, location: f.location, schema: SAMPLE_SCHEMA, partition: [] })).recordCount;
  assert.equal(rows, 4000);
});

test('wasm memory stays bounded: four times the data does not grow it', async () => {
  const pad = 'y'.repeat(2000);
  const writeMany = async (batches: number) => {
    const w = new RollingParquetWriter(storage, nextLocation, 8 << 20, { rowGroupRows: 1000 });
    for (let b = 0; b < batches; b++) await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 1000 }, (_, i) => sampleRow(i, `${pad}${b}`))));
    await w.close();
  };
  await writeMany(5);
  const after1x = wasm.wasmMemory().buffer.byteLength;
  await writeMany(20);
  const after4x = wasm.wasmMemory().buffer.byteLength;
  assert.ok(after4x <= after1x * 1.2 + (8 << 20), `wasm memory grew from ${after1x} to ${after4x} bytes`);
});

test('a required column with nulls is refused, naming the column', () => {
  assert.throws(() => rowsToRecordBatch(SAMPLE_SCHEMA, [{ ...sampleRow(1), id: null }]), /required column id has 1 null/);
});

test('a full disk while writing fails as storage reported it (71, naming the file), not as a bug, and abort leaves no file', async () => {
  const full = join(dir, 'full');
  let room = 900 << 10;
  class FillingUp extends LocalStorage {
    override async createWriter(location: string): Promise<ObjectWriter> {
      const inner = await super.createWriter(location);
      return {
        location,
        write: async (chunk) => {
          room -= chunk.byteLength;
          if (room < 0) throw storageError('write', location, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
          await inner.write(chunk);
        },
        close: () => inner.close(),
        abort: () => inner.abort(),
      };
    }
  }
  let k = 0;
  const w = new RollingParquetWriter(new FillingUp(), () => fileLocation(join(full, `f${k++}.parquet`)), 256 << 10, { rowGroupRows: 500 });
  const failed = await (async () => {
    for (let b = 0; b < 8; b++) await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 500 }, (_, i) => sampleRow(b * 500 + i, randomBytes(300).toString('hex')))));
    await w.close();
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failed instanceof JobError && failed.code === 'RESOURCES', String(failed));
  assert.match(failed.message, /full\/f\d+\.parquet: ENOSPC/);
  assert.ok(k >= 2, 'a file was rolled before the disk filled');
  await w.abort();
  assert.deepEqual(await readdir(full), []);
});

test('a write failure is reported as such when removing the file fails too; abort removes every file it can before it fails', async () => {
  const failing = join(dir, 'failing');
  // The disk fills once close is called: the last file's rest and footer fail.
  let full = false;
  const eio = (op: string, location: string) => storageError(op, location, Object.assign(new Error(`EIO: i/o error, ${op}`), { code: 'EIO' }));
  class FailingDisk extends LocalStorage {
    override async createWriter(location: string): Promise<ObjectWriter> {
      const inner = await super.createWriter(location);
      return {
        location,
        write: async (chunk) => {
          if (full) throw storageError('write', location, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
          await inner.write(chunk);
        },
        close: () => inner.close(),
        abort: async () => {
          await inner.abort();
          throw eio('unlink', location);
        },
      };
    }
    override async delete(location: string): Promise<void> {
      if (location.endsWith('f0.parquet')) throw eio('unlink', location);
      return super.delete(location);
    }
  }
  let k = 0;
  const w = new RollingParquetWriter(new FailingDisk(), () => fileLocation(join(failing, `f${k++}.parquet`)), 64 << 10, { rowGroupRows: 100 });
  for (let b = 0; b < 40; b++) await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 100 }, (_, i) => sampleRow(b * 100 + i, randomBytes(300).toString('hex')))));
  // A file open with rows in the encoder, which close writes out.
  await w.write(rowsToRecordBatch(SAMPLE_SCHEMA, Array.from({ length: 10 }, (_, i) => sampleRow(5000 + i, 'last'))));
  assert.ok(k >= 3, `files were rolled before the disk filled (${k})`);
  full = true;
  const failed = await w.close().then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failed instanceof JobError && failed.code === 'RESOURCES', String(failed));
  assert.match(failed.message, /ENOSPC/);
  await assert.rejects(w.abort(), /EIO/);
  assert.deepEqual(await readdir(failing), ['f0.parquet'], 'every file but the one that could not be removed is gone');
});
