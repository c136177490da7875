// A small table exercising every Iceberg type mwlake writes (nested struct, list, map, timestamps,
// dates, binary), written through DuckDB COPY with field ids and committed with src/iceberg.
// Shared by the Iceberg unit and interop tests.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { fieldIdsOption, sqlString } from '../../src/duckdb/iceberg-types.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import type { DataFile } from '../../src/iceberg/spec/manifest.js';
import type { PartitionSpec } from '../../src/iceberg/spec/partition.js';
import type { Schema } from '../../src/iceberg/spec/types.js';
import { partitionPath, partitionTupleOf } from '../../src/iceberg/spec/transform.js';
import type { Table } from '../../src/iceberg/table.js';
import { LocalStorage, fileLocation } from '../../src/core/storage.js';
import { isoToMicros, rowsToRecordBatch } from '../../src/parquet/arrow-rows.js';
import { RollingParquetWriter } from '../../src/parquet/parquet-stream-writer.js';
import { describeParquetFile, describePositionDeleteFile, POSITION_DELETE_SCHEMA } from '../../src/parquet/footer-data-file.js';
import { randomUUID } from 'node:crypto';

export const SAMPLE_SCHEMA: Schema = {
  schemaId: 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'category', required: false, type: 'string' },
    { id: 3, name: 'n', required: false, type: 'int' },
    { id: 4, name: 'flag', required: false, type: 'boolean' },
    { id: 5, name: 'score', required: false, type: 'double' },
    { id: 6, name: 'ts', required: false, type: 'timestamptz' },
    { id: 7, name: 'day', required: false, type: 'date' },
    { id: 8, name: 'payload', required: false, type: 'binary' },
    {
      id: 9,
      name: 'info',
      required: false,
      type: { type: 'struct', fields: [{ id: 10, name: 'x', required: false, type: 'int' }, { id: 11, name: 'y', required: false, type: 'string' }] },
    },
    { id: 12, name: 'nums', required: false, type: { type: 'list', elementId: 13, elementRequired: false, element: 'long' } },
    {
      id: 14,
      name: 'attrs',
      required: false,
      type: {
        type: 'map',
        keyId: 15,
        key: 'string',
        valueId: 16,
        valueRequired: false,
        value: { type: 'struct', fields: [{ id: 17, name: 'a', required: false, type: 'long' }, { id: 18, name: 'b', required: false, type: 'string' }] },
      },
    },
  ],
};

export const SAMPLE_SPEC: PartitionSpec = {
  specId: 0,
  fields: [
    { sourceId: 2, fieldId: 1000, name: 'category', transform: { kind: 'identity' } },
    { sourceId: 6, fieldId: 1001, name: 'ts_day', transform: { kind: 'day' } },
  ],
};

/** Rows as DuckDB SQL values (ids 1..n; category and day vary). */
export function sampleRowsSql(ids: readonly number[]): string {
  return ids
    .map(
      (i) => `(${i}::BIGINT, ${i % 3 === 0 ? 'NULL' : `'${['a', 'b', 'c'][i % 3]}'`}, ${i}::INTEGER, ${i % 2 === 0}, ${i}.5::DOUBLE,
        TIMESTAMPTZ '2024-01-0${1 + (i % 2)} 00:00:00.00000${i % 10}+00', DATE '2024-02-0${1 + (i % 3)}', '\\x0${i % 10}'::BLOB,
        {'x': ${i}, 'y': 'v${i}'}, [${i}::BIGINT, 9007199254740993], MAP {'k${i}': {'a': ${i}::BIGINT, 'b': 'w${i}'}})`,
    )
    .join(', ');
}

const COLUMNS = 'id, category, n, flag, score, ts, day, payload, info, nums, attrs';

/** The same row as sampleRowsSql, as Iceberg-typed JS values (for the Arrow → parquet-wasm path). */
export function sampleRowValues(i: number): Record<string, unknown> {
  return {
    id: BigInt(i),
    category: i % 3 === 0 ? null : ['a', 'b', 'c'][i % 3],
    n: i,
    flag: i % 2 === 0,
    score: i + 0.5,
    ts: `2024-01-0${1 + (i % 2)}T00:00:00.00000${i % 10}Z`,
    day: `2024-02-0${1 + (i % 3)}`,
    payload: Buffer.from([i % 10]),
    info: { x: i, y: `v${i}` },
    nums: [BigInt(i), 9007199254740993n],
    attrs: { [`k${i}`]: { a: BigInt(i), b: `w${i}` } },
  };
}

export interface SampleWriter {
  readonly db: DuckDb;
  readonly warehouse: Warehouse;
  /** Writes the ids as one data file per partition; returns the DataFiles. */
  write(table: Table, ids: readonly number[]): Promise<DataFile[]>;
  /** Writes a position-delete file removing rows at positions of a data file. */
  writeDeletes(table: Table, target: DataFile, positions: readonly number[]): Promise<DataFile>;
  /** Writes ids that share one partition as one file through Arrow and parquet-wasm. */
  writeWithParquetWasm(table: Table, ids: readonly number[]): Promise<DataFile[]>;
  close(): Promise<void>;
}

export async function openSampleWriter(warehouseDir: string): Promise<SampleWriter> {
  const db = await openDuckDb();
  const storage = new LocalStorage();
  const warehouse = new Warehouse(storage, fileLocation(warehouseDir));
  return {
    db,
    warehouse,
    async write(table, ids) {
      await db.run(`CREATE OR REPLACE TEMP TABLE batch(${COLUMNS.split(', ').map((c) => c).join(', ')}) AS SELECT * FROM (VALUES ${sampleRowsSql(ids)})`);
      // Partition values come from each row, for whatever spec the table has now.
      const rows = await db.all<{ id: bigint; category: string | null; micros: bigint }>(`SELECT id, category, epoch_us(ts) AS micros FROM batch ORDER BY id`);
      const groups = new Map<string, { tuple: ReturnType<typeof partitionTupleOf>; ids: bigint[] }>();
      for (const r of rows) {
        const tuple = partitionTupleOf(table.spec(), table.schema(), { id: BigInt(r.id), category: r.category, ts: BigInt(r.micros) });
        const key = JSON.stringify(tuple, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        const g = groups.get(key) ?? { tuple, ids: [] };
        g.ids.push(BigInt(r.id));
        groups.set(key, g);
      }
      const files: DataFile[] = [];
      for (const { tuple, ids: groupIds } of groups.values()) {
        const location = `${table.dataLocation(partitionPath(table.spec(), table.schema(), tuple))}/${randomUUID()}.parquet`;
        const local = storage.localPath(location)!;
        await mkdir(dirname(local), { recursive: true });
        await db.run(`COPY (SELECT ${COLUMNS} FROM batch WHERE id IN (${groupIds.join(', ')}) ORDER BY id) TO ${sqlString(local)} (FORMAT parquet, FIELD_IDS ${fieldIdsOption(table.schema())})`);
        files.push(await describeParquetFile({ storage, location, schema: table.schema(), partition: tuple }));
      }
      return files;
    },
    async writeDeletes(_table, target, positions) {
      const location = `${target.filePath.slice(0, target.filePath.lastIndexOf('/'))}/${randomUUID()}-deletes.parquet`;
      const values = positions.map((p) => `(${sqlString(target.filePath)}, ${p}::BIGINT)`).join(', ');
      await db.run(`COPY (SELECT * FROM (VALUES ${values}) v(file_path, pos) ORDER BY pos) TO ${sqlString(storage.localPath(location)!)} (FORMAT parquet, FIELD_IDS ${fieldIdsOption(POSITION_DELETE_SCHEMA)})`);
      return describePositionDeleteFile({ storage, location, partition: target.partition, referencedDataFile: target.filePath });
    },
    async writeWithParquetWasm(table, ids) {
      const rows = ids.map(sampleRowValues);
      const tuples = rows.map((r) => partitionTupleOf(table.spec(), table.schema(), { ...r, ts: isoToMicros(String(r['ts'])) }));
      const key = (t: unknown) => JSON.stringify(t, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      if (new Set(tuples.map(key)).size !== 1) throw new Error(`ids ${ids.join(', ')} span several partitions`);
      const dir = table.dataLocation(partitionPath(table.spec(), table.schema(), tuples[0]!));
      await mkdir(storage.localPath(dir)!, { recursive: true });
      const writer = new RollingParquetWriter(storage, () => `${dir}/${randomUUID()}.parquet`, 64 << 20);
      await writer.write(rowsToRecordBatch(table.schema(), rows));
      const files: DataFile[] = [];
      for (const f of await writer.close()) files.push(await describeParquetFile({ storage, location: f.location, schema: table.schema(), partition: tuples[0]! }));
      return files;
    },
    close: () => db.close(),
  };
}

export { SAMPLE_SCHEMA as schema };
