// The DataFile a Parquet footer describes: float bounds under Iceberg's order, in which -0 comes
// before 0 (Appendix D), whatever order the writer's statistics kept for the zeros.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { decodeValue } from '../../src/iceberg/spec/bounds.js';
import type { PrimitiveType, Schema } from '../../src/iceberg/spec/types.js';
import { describeParquetFile, describePositionDeleteFile } from '../../src/parquet/footer-data-file.js';
import { inTempDir } from '../helpers/temp-dir.js';

const SCHEMA: Schema = {
  schemaId: 0,
  fields: [
    { id: 1, name: 'x', required: false, type: 'double' },
    { id: 2, name: 'y', required: false, type: 'float' },
  ],
};

/** Bounds of x and y as signed strings ("-0" for negative zero, "none" when absent), for a file written from `valuesSql` (column v, in order). */
async function zeroBounds(valuesSql: string): Promise<string[][]> {
  return inTempDir('mwlake-footer-', async (dir) => {
    const db = await openDuckDb();
    try {
      const path = join(dir, 'f.parquet');
      // 2048-row groups, so values of the first 2048 rows and of the rest land in different row groups.
      await db.run(`COPY (SELECT v AS x, v::FLOAT AS y FROM (${valuesSql})) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 2048, FIELD_IDS {x: 1, y: 2})`);
      const file = await describeParquetFile({ storage: new LocalStorage(), location: fileLocation(path), schema: SCHEMA, partition: [] });
      const signed = (type: PrimitiveType, bytes: Uint8Array | undefined) => {
        if (bytes === undefined) return 'none';
        const v = decodeValue(type, bytes) as number;
        return Object.is(v, -0) ? '-0' : String(v);
      };
      return [
        [signed('double', file.lowerBounds?.get(1)), signed('double', file.upperBounds?.get(1))],
        [signed('float', file.lowerBounds?.get(2)), signed('float', file.upperBounds?.get(2))],
      ];
    } finally {
      await db.close();
    }
  });
}

const rows = (count: number, value: (i: string) => string) => `SELECT (${value('i')})::DOUBLE AS v FROM range(${count}) r(i) ORDER BY i`;

test('a row group holding -0 and 0 is bounded by -0 and 0 (DuckDB gives it max -0, which would prune 0)', async () => {
  assert.deepEqual(await zeroBounds(rows(10, (i) => `CASE WHEN ${i} % 2 = 0 THEN '-0' ELSE '0' END`)), [['-0', '0'], ['-0', '0']]);
});

test('row groups of -0 only and of 0 only are bounded by -0 and 0, in either order', async () => {
  assert.deepEqual(await zeroBounds(rows(4096, (i) => `CASE WHEN ${i} < 2048 THEN '-0' ELSE '0' END`)), [['-0', '0'], ['-0', '0']]);
  assert.deepEqual(await zeroBounds(rows(4096, (i) => `CASE WHEN ${i} < 2048 THEN '0' ELSE '-0' END`)), [['-0', '0'], ['-0', '0']]);
});

test('bounds other than zero are the row groups’ least and greatest values; a row group with NaN leaves the file unbounded', async () => {
  assert.deepEqual(await zeroBounds(rows(4096, (i) => `CASE WHEN ${i} = 5 THEN '-2.5' WHEN ${i} = 3000 THEN '7' ELSE '1' END`)), [['-2.5', '7'], ['-2.5', '7']]);
  // DuckDB writes no statistics for the row group holding the NaN: bounds from the other one alone would be wrong.
  assert.deepEqual(await zeroBounds(rows(4096, (i) => `CASE WHEN ${i} = 5 THEN '-2.5' WHEN ${i} = 3000 THEN 'nan' ELSE '1' END`)), [['none', 'none'], ['none', 'none']]);
  assert.deepEqual(await zeroBounds(rows(10, (i) => `CASE WHEN ${i} = 0 THEN '-0' ELSE '3' END`)), [['-0', '3'], ['-0', '3']]);
});

test('a position delete file keeps its file_path bounds whole, as Java does: for one data file, lower = upper = its path', async () => {
  await inTempDir('mwlake-footer-', async (dir) => {
    const db = await openDuckDb();
    try {
      const data = (n: number) => `file://${dir}/warehouse/state/revisions/data/wiki_id=enwiki/00000-${n}-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.parquet`;
      const bounds = async (paths: string[]): Promise<string[]> => {
        const path = join(dir, 'deletes.parquet');
        const rows = paths.map((p, i) => `(${sqlString(p)}, ${i}::BIGINT)`).join(', ');
        await db.run(`COPY (SELECT * FROM (VALUES ${rows}) v(file_path, pos) ORDER BY ALL) TO '${path}' (FORMAT parquet, FIELD_IDS {file_path: 2147483546, pos: 2147483545})`);
        const file = await describePositionDeleteFile({ storage: new LocalStorage(), location: fileLocation(path), partition: ['enwiki'] });
        return [decodeValue('string', file.lowerBounds!.get(2147483546)!) as string, decodeValue('string', file.upperBounds!.get(2147483546)!) as string];
      };
      assert.deepEqual(await bounds([data(1), data(1)]), [data(1), data(1)]);
      assert.deepEqual(await bounds([data(2), data(1)]), [data(1), data(2)]);
    } finally {
      await db.close();
    }
  });
});

test('a string starting with U+FEFF keeps it in its bound: decoded as a byte-order mark, the bound would leave out the values above it', async () => {
  await inTempDir('mwlake-footer-', async (dir) => {
    const db = await openDuckDb();
    try {
      const path = join(dir, 'bom.parquet');
      // EF BB BF sorts above 日 (E6 97 A5): the U+FEFF comment is the row group's greatest.
      await db.run(`COPY (SELECT * FROM (VALUES (chr(65279) || 'fix'), ('日本')) v(s)) TO '${path}' (FORMAT parquet, FIELD_IDS {s: 1})`);
      const schema: Schema = { schemaId: 0, fields: [{ id: 1, name: 's', required: false, type: 'string' }] };
      const file = await describeParquetFile({ storage: new LocalStorage(), location: fileLocation(path), schema, partition: [] });
      assert.deepEqual(Buffer.from(file.upperBounds!.get(1)!), Buffer.from('\ufefffix'));
      assert.deepEqual(Buffer.from(file.lowerBounds!.get(1)!), Buffer.from('日本'));
      assert.equal(decodeValue('string', Buffer.from('\ufeffa')), '\ufeffa');
    } finally {
      await db.close();
    }
  });
});
