// The dump's history read over the state tables: split into passes when the content exceeds what
// one DuckDB sort may hold, with the same rows in the same order as one pass; and the revisions
// table written with row groups bounded in bytes, so that a scan of it needs bounded memory.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { rowGroupRows } from '../../src/duckdb/data-file-writer.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import type { DumpQuery } from '../../src/dumps/records.js';
import { REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { DuckDbDumpSource } from '../../src/pipeline/dump-source.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import type { Warehouse } from '../../src/iceberg/catalog.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, warehouseAt } from '../merge/merge-fixture.js';

let dir: string;
let warehouse: Warehouse;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-dump-source-'));
  warehouse = warehouseAt(join(dir, 'w'));
  await appendBatch(warehouse, generatedEvents(41, 6000));
  await merge(warehouse);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const QUERY: DumpQuery = { wikiId: 'enwiki', cutoffMs: Date.parse('2100-01-01T00:00:00Z'), includeContent: true };

/** Every history row as "page/revision/md5 of its bodies", in the order the source yields them. */
async function historyLines(source: DuckDbDumpSource, q: DumpQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const row of source.history(q)) {
    const h = createHash('md5');
    for (const s of row.slots) h.update(`${s.role}:${s.contentBody === null ? 'null' : Buffer.from(s.contentBody).toString('base64')};`);
    out.push(`${row.pageId}/${row.revisionId}/${h.digest('hex')}`);
  }
  return out;
}

test('rowGroupRows: about 32 MiB of rows, in whole vectors of 2048, at most the cap', () => {
  assert.equal(rowGroupRows(256), 98_304);
  assert.equal(rowGroupRows(8_000), 4_096);
  assert.equal(rowGroupRows(12_000), 2_048);
  assert.equal(rowGroupRows(5_000_000), 2_048);
  assert.equal(rowGroupRows(0), 98_304);
  assert.equal(rowGroupRows(256, 10_000), 8_192);
});

test('a history read in passes yields the rows of one pass, in the same order', { timeout: 300_000 }, async () => {
  const db = await openDuckDb();
  try {
    await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const whole = new DuckDbDumpSource(db, { passBytes: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(await whole.historyPasses(QUERY), [], 'a history that fits is read in one unsplit pass');
    const expected = await historyLines(whole, QUERY);
    assert.ok(expected.length > 1000, `history has ${expected.length} rows`);

    const [size] = await db.all<{ total: bigint; largest: bigint }>(
      `SELECT sum(coalesce(revision_size, 0) + 512)::BIGINT AS total, max(coalesce(revision_size, 0) + 512)::BIGINT AS largest FROM revisions WHERE wiki_id = 'enwiki'`,
    );
    const passBytes = Math.ceil(Number(size!.total) / 7);
    const split = new DuckDbDumpSource(db, { passBytes });
    const passes = await split.historyPasses(QUERY);
    assert.ok(passes.length >= 7 && passes.length <= 8, `${passes.length} passes of ${passBytes} bytes`);
    // Consecutive, non-overlapping ranges, each within its budget plus one revision.
    const [counts] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM revisions WHERE wiki_id = 'enwiki'`);
    let rows = 0;
    for (const [i, p] of passes.entries()) {
      // (page, revision) order as text order of zero-padded ids: independent of the source's predicate.
      const key = (page: unknown, revision: unknown) => `lpad(${page}::VARCHAR, 20, '0') || lpad(${revision}::VARCHAR, 20, '0')`;
      const inPass = `wiki_id = 'enwiki' AND ${key('page_id', 'revision_id')} BETWEEN ${key(p.from[0], p.from[1])} AND ${key(p.to[0], p.to[1])}`;
      const [r] = await db.all<{ n: bigint; b: bigint }>(`SELECT count(*) AS n, sum(coalesce(revision_size, 0) + 512)::BIGINT AS b FROM revisions WHERE ${inPass}`);
      rows += Number(r!.n);
      assert.ok(Number(r!.b) <= passBytes + Number(size!.largest), `pass ${i} holds ${r!.b} bytes`);
      const next = passes[i + 1];
      if (next !== undefined) assert.ok(next.from[0] > p.to[0] || (next.from[0] === p.to[0] && next.from[1] > p.to[1]), `pass ${i + 1} starts after pass ${i} ends`);
    }
    assert.equal(rows, Number(counts!.n), 'the passes cover every revision once');
    assert.deepEqual(await historyLines(split, QUERY), expected);

    // Stubs never read content, so they never split.
    assert.deepEqual(await split.historyPasses({ ...QUERY, includeContent: false }), []);
  } finally {
    await db.close();
  }
});

test('the merge writes revisions in row groups of about 32 MiB, not one row group per file', { timeout: 300_000 }, async () => {
  const db = await openDuckDb();
  try {
    const table = await warehouse.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    const [avg] = await db.all<{ b: number; n: bigint }>(`SELECT avg(coalesce(revision_size, 0) + 256)::DOUBLE AS b, count(*) AS n FROM (${await tableRelationSql(table)}) WHERE wiki_id = 'enwiki'`);
    const plan = await table.planFiles({});
    const file = plan.dataFiles.find((f) => f.file.partition[0] === 'enwiki')!;
    const groups = await db.all<{ rows: bigint }>(
      `SELECT DISTINCT row_group_id, row_group_num_rows AS rows FROM parquet_metadata(${JSON.stringify(table.storage.localPath(file.file.filePath)).replaceAll('"', "'")})`,
    );
    const limit = rowGroupRows(avg!.b);
    assert.ok(Number(avg!.n) > limit, `enwiki has ${avg!.n} revisions, more than one row group of ${limit}`);
    assert.ok(groups.length >= 2, `${groups.length} row groups`);
    for (const g of groups) assert.ok(Number(g.rows) <= limit, `a row group of ${g.rows} rows (limit ${limit})`);
  } finally {
    await db.close();
  }
});
