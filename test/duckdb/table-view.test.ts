// Iceberg snapshots as DuckDB relations: columns resolved by field id once the schema evolved;
// files the view cannot read refused by name.

import assert from 'node:assert/strict';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileLocation, LocalStorage } from '../../src/core/storage.js';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.js';
import { sqlString } from '../../src/duckdb/iceberg-types.js';
import { filesRelationSql, tableRelationSql } from '../../src/duckdb/table-view.js';
import { DataFileContent } from '../../src/iceberg/spec/manifest.js';
import { Warehouse } from '../../src/iceberg/catalog.js';
import { Table } from '../../src/iceberg/table.js';
import type { Schema } from '../../src/iceberg/spec/types.js';

const V0: Schema = {
  schemaId: 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'body', required: false, type: 'string' },
  ],
};
/** V0 with `body` renamed to `text` and a column `n` added, as another engine may evolve it. */
const V1: Schema = {
  schemaId: 1,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'text', required: false, type: 'string' },
    { id: 3, name: 'n', required: false, type: 'int' },
  ],
};

let dir: string;
let db: DuckDb;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-table-view-'));
  db = await openDuckDb();
});
after(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('after schema evolution, older files read an added column as NULL and a renamed one by field id', async () => {
  const warehouse = new Warehouse(new LocalStorage(), fileLocation(dir));
  let table = await warehouse.createTable('ns', 'evolved', { schema: V0, spec: { specId: 0, fields: [] } });
  const old = await writeDataFiles(db, table, { selectSql: `SELECT 1::BIGINT AS id, 'old' AS body`, partition: [], targetFileSizeBytes: 1 << 20 });
  table = (await table.commit({ addDataFiles: old })).table;
  table = new Table(table.storage, { ...table.metadata, schemas: [V0, V1], currentSchemaId: 1 }, table.version);
  const added = await writeDataFiles(db, table, { selectSql: `SELECT 2::BIGINT AS id, 'new' AS text, 7 AS n`, partition: [], targetFileSizeBytes: 1 << 20 });
  table = (await table.commit({ addDataFiles: added })).table;
  const rows = await db.all(`SELECT * FROM (${await tableRelationSql(table)}) ORDER BY id`);
  assert.deepEqual(rows, [
    { id: 1n, text: 'old', n: null },
    { id: 2n, text: 'new', n: 7 },
  ]);
  const first = table.metadata.snapshots[0]!.snapshotId;
  assert.deepEqual(await db.all(await tableRelationSql(table, { snapshotId: first })), [{ id: 1n, text: 'old', n: null }]);
});

test('a field inside a struct renamed, or dropped and added again, by another engine is refused, not read by name', async () => {
  const warehouse = new Warehouse(new LocalStorage(), fileLocation(dir));
  const S0: Schema = { schemaId: 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'meta', required: false, type: { type: 'struct', fields: [{ id: 3, name: 'domain', required: false, type: 'string' }, { id: 4, name: 'uri', required: false, type: 'string' }] } }] };
  const renamed: Schema = { schemaId: 1, fields: [S0.fields[0]!, { id: 2, name: 'meta', required: false, type: { type: 'struct', fields: [{ id: 3, name: 'host', required: false, type: 'string' }, { id: 4, name: 'uri', required: false, type: 'string' }] } }] };
  const readded: Schema = { schemaId: 1, fields: [S0.fields[0]!, { id: 2, name: 'meta', required: false, type: { type: 'struct', fields: [{ id: 3, name: 'domain', required: false, type: 'string' }, { id: 6, name: 'uri', required: false, type: 'string' }] } }] };
  // A top-level rename and a nested field added are read by id and as NULL: no refusal.
  const fine: Schema = { schemaId: 1, fields: [S0.fields[0]!, { id: 2, name: 'm', required: false, type: { type: 'struct', fields: [...(S0.fields[1]!.type as { fields: Schema['fields'] }).fields, { id: 7, name: 'lang', required: false, type: 'string' }] } }] };
  let table = await warehouse.createTable('ns', 'nested', { schema: S0, spec: { specId: 0, fields: [] } });
  const old = await writeDataFiles(db, table, { selectSql: `SELECT 1::BIGINT AS id, {'domain': 'en.wikipedia.org', 'uri': 'u'} AS meta`, partition: [], targetFileSizeBytes: 1 << 20 });
  table = (await table.commit({ addDataFiles: old })).table;
  const evolved = (schema: Schema) => new Table(table.storage, { ...table.metadata, schemas: [S0, schema], currentSchemaId: 1 }, table.version);
  assert.deepEqual(await db.all(await tableRelationSql(evolved(fine))), [{ id: 1n, m: { domain: 'en.wikipedia.org', uri: 'u', lang: null } }]);
  for (const [schema, message] of [
    [renamed, /its field meta\.host \(id 3\) was meta\.domain in schema 0; mwlake reads fields inside struct/],
    [readded, /its field meta\.uri is id 6, and was id 4 in schema 0/],
  ] as const) {
    await assert.rejects(tableRelationSql(evolved(schema)), (e: Error & { code?: string }) => e.code === 'DATA' && message.test(e.message), message.source);
  }
});

test('equality deletes, deletion vectors and non-Parquet data files fail naming the file, never read as position deletes', async () => {
  const warehouse = new Warehouse(new LocalStorage(), fileLocation(dir));
  let table = await warehouse.createTable('ns', 'foreign', { schema: V0, spec: { specId: 0, fields: [] } });
  const files = await writeDataFiles(db, table, { selectSql: `SELECT 1::BIGINT AS id, 'a' AS body`, partition: [], targetFileSizeBytes: 1 << 20 });
  table = (await table.commit({ addDataFiles: files })).table;
  const { dataFiles } = await table.planFiles();
  const data = dataFiles[0]!;
  const other = (content: DataFileContent, fileFormat: 'PARQUET' | 'PUFFIN' | 'ORC', name: string) => ({ ...data, file: { ...data.file, content, fileFormat, filePath: `${table.location}/data/${name}` } });
  for (const [deletes, name] of [
    [[other(DataFileContent.EqualityDeletes, 'PARQUET', 'eq.parquet')], 'eq.parquet'],
    [[other(DataFileContent.PositionDeletes, 'PUFFIN', 'dv.puffin')], 'dv.puffin'],
  ] as const) {
    assert.throws(() => filesRelationSql(table, dataFiles, deletes), (e: Error & { code?: string }) => e.code === 'DATA' && e.message.includes(name), name);
  }
  assert.throws(() => filesRelationSql(table, [other(DataFileContent.Data, 'ORC', 'd.orc')], []), /d\.orc/);
});

test("a warehouse path with glob characters, quotes and spaces reads its own files, not those the glob matches", async () => {
  for (const name of ["it's wh1", "it's wh[1]"]) {
    const warehouse = new Warehouse(new LocalStorage(), fileLocation(join(dir, name)));
    let table = await warehouse.createTable('ns', 't', { schema: V0, spec: { specId: 0, fields: [] } });
    const files = await writeDataFiles(db, table, { selectSql: `SELECT 1::BIGINT AS id, ${sqlString(name)} AS body`, partition: [], targetFileSizeBytes: 1 << 20 });
    table = (await table.commit({ addDataFiles: files })).table;
    // The same relative path in both warehouses: `wh[1]` as a glob matches `wh1`'s file.
    const written = basename(dirname(files[0]!.filePath));
    await rename(join(dir, name, 'ns', 't', 'data', written), join(dir, name, 'ns', 't', 'data', 'w-same'));
    const moved = files.map((f) => ({ ...f, filePath: f.filePath.replace(`/${written}/`, '/w-same/') }));
    assert.deepEqual(await db.all(filesRelationSql(table, moved.map((file) => ({ file, specId: 0, dataSequenceNumber: 1n })), [])), [{ id: 1n, body: name }]);
  }
});
