// Sorted data files: one file in the table's sort order, row groups in key order too (DuckDB's
// directory output interleaves the row groups of an ORDER BY), recording the order's id.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { JobError } from '../../src/core/errors.js';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { sortColumns, writeSortedDataFile } from '../../src/duckdb/data-file-writer.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { withSortOrder } from '../../src/iceberg/commit/evolve-sort-order.js';
import type { Schema } from '../../src/iceberg/spec/types.js';

const SCHEMA: Schema = {
  schemaId: 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'body', required: false, type: 'string' },
    { id: 3, name: 'n', required: false, type: 'int' },
  ],
};
const UNPARTITIONED = { specId: 0, fields: [] };
const byId = [{ sourceId: 1, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' }] as const;

let dir: string;
let warehouse: Warehouse;
let db: DuckDb;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-sorted-'));
  warehouse = new Warehouse(new LocalStorage(), fileLocation(dir));
  db = await openDuckDb();
});
after(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('200,000 shuffled keys land in one file in key order, row group after row group', { timeout: 120_000 }, async () => {
  const table = await warehouse.createTable('ns', 'sorted', { schema: SCHEMA, spec: UNPARTITIONED, sortOrder: { orderId: 1, fields: byId } });
  const file = await writeSortedDataFile(db, table, {
    selectSql: `SELECT (hash(i) // 2)::BIGINT AS id, md5(i::VARCHAR) || repeat('x', 200) AS body, i::INTEGER AS n FROM range(200000) t(i)`,
    partition: [],
    rowGroupSize: 2048,
  });
  assert.ok(file !== undefined);
  assert.equal(file.recordCount, 200_000);
  assert.equal(file.sortOrderId, 1);
  const path = sqlString(table.storage.localPath(file.filePath)!);
  const [groups] = await db.all<{ n: bigint; disorder: bigint }>(
    `SELECT count(*) AS n, count(*) FILTER (WHERE lo < previous) AS disorder FROM (
       SELECT stats_min_value::BIGINT AS lo, lag(stats_max_value::BIGINT) OVER (ORDER BY row_group_id) AS previous
       FROM parquet_metadata(${path}) WHERE path_in_schema = 'id')`,
  );
  assert.ok(groups!.n >= 90n, `${groups!.n} row groups`);
  assert.equal(groups!.disorder, 0n, 'each row group starts after the one before it ends');
  const [rows] = await db.all<{ disorder: bigint }>(
    `SELECT count(*) FILTER (WHERE id < previous) AS disorder FROM (SELECT id, lag(id) OVER (ORDER BY file_row_number) AS previous FROM read_parquet(${path}, file_row_number = true))`,
  );
  assert.equal(rows!.disorder, 0n);
});

test('an empty relation writes no file; an unsorted table is refused, naming it', async () => {
  const table = await warehouse.createTable('ns', 'empty', { schema: SCHEMA, spec: UNPARTITIONED, sortOrder: { orderId: 1, fields: byId } });
  assert.equal(await writeSortedDataFile(db, table, { selectSql: 'SELECT 1::BIGINT AS id, NULL::VARCHAR AS body, 1 AS n WHERE false', partition: [], rowGroupSize: 2048 }), undefined);
  assert.deepEqual(await readdir(table.storage.localPath(table.dataLocation(''))!).catch(() => []), []);
  const unsorted = await warehouse.createTable('ns', 'unsorted', { schema: SCHEMA, spec: UNPARTITIONED });
  await assert.rejects(writeSortedDataFile(db, unsorted, { selectSql: 'SELECT 1::BIGINT AS id, NULL::VARCHAR AS body, 1 AS n', partition: [], rowGroupSize: 2048 }), (e: unknown) => {
    assert.ok(e instanceof JobError && e.code === 'INTERNAL' && e.message.includes(unsorted.location), String(e));
    return true;
  });
});

test('sortColumns: direction and nulls as ordered; range keys only ascending required integers; transforms unsupported', async () => {
  let table = await warehouse.createTable('ns', 'orders', { schema: SCHEMA, spec: UNPARTITIONED });
  assert.equal(sortColumns(table), undefined, 'unsorted');
  table = await table.updateMetadata((m) =>
    withSortOrder(m, [
      { sourceId: 1, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' },
      { sourceId: 3, transform: { kind: 'identity' }, direction: 'desc', nullOrder: 'nulls-last' },
    ]),
  );
  assert.deepEqual(sortColumns(table), [
    { name: 'id', rangeKey: true, sql: '"id" ASC NULLS FIRST' },
    { name: 'n', rangeKey: false, sql: '"n" DESC NULLS LAST' },
  ]);
  table = await table.updateMetadata((m) => withSortOrder(m, [{ sourceId: 3, transform: { kind: 'identity' }, direction: 'asc', nullOrder: 'nulls-first' }]));
  assert.equal(sortColumns(table)![0]!.rangeKey, false, 'n is optional: NULLs would fall outside every key range');
  table = await table.updateMetadata((m) => withSortOrder(m, [{ sourceId: 1, transform: { kind: 'bucket', numBuckets: 4 }, direction: 'asc', nullOrder: 'nulls-first' }]));
  assert.equal(sortColumns(table), undefined);
});
