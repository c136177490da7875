// The dump's history read over the state tables: split into passes when the content exceeds what
// one DuckDB sort may hold, with the same rows in the same order as one pass.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDuckDb, type DuckDb } from '../../src/duckdb/connection.js';
import { writeSortedDataFile } from '../../src/duckdb/data-file-writer.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import { JobError } from '../../src/core/errors.js';
import { withAddedColumns } from '../../src/iceberg/commit/evolve-schema.js';
import type { TableMetadata } from '../../src/iceberg/spec/table-metadata.js';
import { PAGES_SCHEMA, PAGES_TABLE, REVISIONS_TABLE, STATE_NAMESPACE, STATE_SORT_FIELDS, STATE_SPEC } from '../../src/merge/state-schema.js';
import type { DumpQuery, DumpRevisionRow } from '../../src/dumps/records.js';
import { MemoryDumpSource } from '../../src/dumps/memory-source.js';
import { DuckDbDumpSource } from '../../src/pipeline/dump-source.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import type { Warehouse } from '../../src/iceberg/catalog.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, warehouseAt } from '../merge/merge-fixture.js';
import { append, ev, suppressedArchiveChain } from '../merge/page-change-harness.js';

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

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Every row as "page/revision/md5 of its bodies", in the order the source yields them. */
async function lines(rows: AsyncIterable<DumpRevisionRow>): Promise<string[]> {
  const out: string[] = [];
  for await (const row of rows) {
    const h = createHash('md5');
    for (const s of row.slots) h.update(`${s.role}:${s.contentBody === null ? 'null' : Buffer.from(s.contentBody).toString('base64')};`);
    out.push(`${row.pageId}/${row.revisionId}/${h.digest('hex')}`);
  }
  return out;
}

test('a history or adds-changes read in passes yields the rows of one pass, in the same order', { timeout: 300_000 }, async () => {
  const db = await openDuckDb();
  try {
    await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const whole = new DuckDbDumpSource(db, { passBytes: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(await whole.historyPasses(QUERY), [], 'a history that fits is read in one unsplit pass');
    const expected = await lines(whole.history(QUERY));
    assert.ok(expected.length > 1000, `history has ${expected.length} rows`);

    const [size] = await db.all<{ total: bigint }>(`SELECT sum(coalesce(revision_size, 0) + 512)::BIGINT AS total FROM revisions WHERE wiki_id = 'enwiki'`);
    const passBytes = Math.ceil(Number(size!.total) / 7);
    const split = new DuckDbDumpSource(db, { passBytes });
    const passes = await split.historyPasses(QUERY);
    assert.ok(passes.length >= 7 && passes.length <= 8, `${passes.length} passes of ${passBytes} bytes`);
    assert.deepEqual(await lines(split.history(QUERY)), expected);

    // Stubs never read content, so they never split.
    assert.deepEqual(await split.historyPasses({ ...QUERY, includeContent: false }), []);

    // Adds-changes (a range of revision ids) split the same way.
    const [ids] = await db.all<{ lo: bigint; hi: bigint }>(`SELECT quantile_disc(revision_id, 0.2) AS lo, max(revision_id) AS hi FROM revisions WHERE wiki_id = 'enwiki'`);
    const [after, upTo] = [Number(ids!.lo), Number(ids!.hi)];
    assert.deepEqual(await whole.idRangePasses('enwiki', after, upTo), []);
    assert.ok((await split.idRangePasses('enwiki', after, upTo)).length >= 5);
    const addsChanges = await lines(whole.revisionsInIdRange('enwiki', after, upTo, true));
    assert.ok(addsChanges.length > 500 && addsChanges.length < expected.length, `${addsChanges.length} adds-changes rows`);
    assert.deepEqual(await lines(split.revisionsInIdRange('enwiki', after, upTo, true)), addsChanges);
  } finally {
    await db.close();
  }
});

interface PlanNode {
  readonly name: string;
  readonly children: readonly PlanNode[];
  readonly extra_info?: { readonly Projections?: string | readonly string[] };
}

/** Whether a subtree scans the revisions' content column. */
function readsContent(node: PlanNode): boolean {
  const projections = node.extra_info?.Projections ?? [];
  return (typeof projections === 'string' ? [projections] : projections).includes('revision_content_slots') || node.children.some(readsContent);
}

/** The hash joins of a plan whose build (right) side reads the content. */
function contentBuilds(node: PlanNode): string[] {
  const here = node.name === 'HASH_JOIN' && node.children[1] !== undefined && readsContent(node.children[1]) ? [node.name] : [];
  return [...here, ...node.children.flatMap(contentBuilds)];
}

/** The SQL a history read sends to DuckDB, in one pass or in passes of `passBytes`. */
async function historySql(db: DuckDb, passBytes: number): Promise<string[]> {
  const sent: string[] = [];
  const recorder: DuckDb = {
    run: (sql) => db.run(sql),
    all: (sql) => db.all(sql),
    streamForDisplay: (sql) => db.streamForDisplay(sql),
    streamDecoded: <T>(sql: string): AsyncIterable<T[]> => {
      sent.push(sql);
      return (async function* () {})();
    },
    memoryLimitBytes: () => db.memoryLimitBytes(),
    close: () => db.close(),
  };
  for await (const _row of new DuckDbDumpSource(recorder, { passBytes }).history(QUERY)) assert.fail('the recorder yields no rows');
  return sent;
}

test('the history read keeps the content on the probe side of every join, in one pass and in passes', async () => {
  const db = await openDuckDb();
  try {
    await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const reads = [...(await historySql(db, Number.MAX_SAFE_INTEGER)), ...(await historySql(db, 1_000_000))];
    assert.ok(reads.length >= 3, `${reads.length} reads`);
    for (const sql of reads) {
      const [row] = await db.all<{ explain_value: string }>(`EXPLAIN (FORMAT json) ${sql}`);
      const plan = JSON.parse(row!.explain_value) as PlanNode[];
      assert.ok(plan.some(readsContent), 'the plan reads the content');
      assert.ok(JSON.stringify(plan).includes('"HASH_JOIN"'), 'the plan joins revisions to pages');
      // Built from the content, a hash table holds a copy of the whole history's text.
      assert.deepEqual(plan.flatMap(contentBuilds), [], sql);
    }
  } finally {
    await db.close();
  }
});

test('maxRevisionId, page titles and stub sizes answer as the reference source does: newest by time, titles by namespace and bytes, sizes of unstated bodies measured', { timeout: 300_000 }, async () => {
  const events = generatedEvents(43, 400).filter((e) => e.meta.domain !== 'canary');
  const withContent = events.filter((e) => e.page_change_kind === 'create' || e.page_change_kind === 'edit');
  // An unstated content_size, and an import: a new page whose revision has a high id and an old time.
  const unstated = structuredClone(withContent[5]!);
  delete (unstated.revision.content_slots!['main'] as { content_size?: number }).content_size;
  unstated.meta = { ...unstated.meta, id: '00000000-0000-4000-8000-00000000aaaa' };
  const imported = structuredClone(withContent.find((e) => e.page_change_kind === 'create' && e.wiki_id === 'enwiki')!);
  imported.meta = { ...imported.meta, id: '00000000-0000-4000-8000-00000000bbbb' };
  imported.page = { ...imported.page, page_id: 99_999_999, page_title: 'Imported_page' };
  imported.revision = { ...imported.revision, rev_id: 2_000_000_000, rev_dt: '2010-01-01T00:00:00Z' };
  delete (imported.revision as { rev_parent_id?: number }).rev_parent_id;
  const own = warehouseAt(join(dir, 'own'));
  await appendBatch(own, [...events.filter((e) => e.meta.id !== withContent[5]!.meta.id), unstated, imported]);
  await merge(own);
  const db = await openDuckDb();
  try {
    await bindStateViews(db, own, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const source = new DuckDbDumpSource(db, { passBytes: Number.MAX_SAFE_INTEGER });
    const everything: DumpRevisionRow[] = [];
    for await (const row of source.history({ ...QUERY, includeContent: true })) everything.push(row);
    const reference = new MemoryDumpSource({ enwiki: everything });
    const times = [...new Set(everything.map((r) => r.revisionTimestampMs))].sort((a, b) => a - b);
    // times[0] is the import's own: from the next on, newer revisions exist.
    for (const cutoffMs of [times[1]! + 1, times[Math.floor(times.length / 2)]!, times.at(-1)! + 1]) {
      assert.equal(await source.maxRevisionId('enwiki', cutoffMs), await reference.maxRevisionId('enwiki', cutoffMs), `cutoff ${new Date(cutoffMs).toISOString()}`);
      assert.notEqual(await source.maxRevisionId('enwiki', cutoffMs), 2_000_000_000, 'the import is not the newest revision');
      assert.deepEqual(await collect(source.pageTitles('enwiki', cutoffMs)), await collect(reference.pageTitles('enwiki', cutoffMs)), `titles at ${new Date(cutoffMs).toISOString()}`);
    }
    const titles = await collect(source.pageTitles('enwiki', times.at(-1)! + 1));
    assert.ok(new Set(titles.map((t) => t.namespaceId)).size > 1 && titles.some((t) => t.namespaceId !== 0 && !t.title.includes(':')), 'titles of several namespaces, prefixes stripped');
    const stubSizes = async (s: { history(q: DumpQuery): AsyncIterable<DumpRevisionRow> }) => {
      const out: string[] = [];
      for await (const row of s.history({ ...QUERY, includeContent: false })) out.push(`${row.revisionId}:${row.slots.map((x) => x.contentSizeBytes).join(',')}`);
      return out;
    };
    const sizes = await stubSizes(source);
    assert.deepEqual(sizes, await stubSizes(reference));
    const id = unstated.wiki_id === 'enwiki' ? unstated.revision.rev_id : undefined;
    if (id !== undefined) assert.ok(sizes.some((s) => s.startsWith(`${id}:`) && !s.includes('null')), `revision ${id} has a size`);
    assert.ok(!sizes.some((s) => /(^|[:,])null/.test(s)), 'no stub row without a size');
  } finally {
    await db.close();
  }
});

test("a redirect's target reaches the dump as MediaWiki names it: an interwiki one with its prefix once", { timeout: 120_000 }, async () => {
  const at = '2024-10-01T00:00:00Z';
  const local = ev({ kind: 'create', metaDt: at, page: 1, rev: 10, revAt: at, title: 'Local_redirect', redirectTo: 'Talk:Some_page' });
  // EventBus's page_title is getPrefixedDBkey(), which starts with the interwiki prefix.
  const interwiki = ev({ kind: 'create', metaDt: at, page: 2, rev: 20, revAt: at, title: 'Soft_redirect', redirectTo: 'wikt:Foo_bar' });
  interwiki.e.page.redirect_page_link = { ...interwiki.e.page.redirect_page_link!, interwiki_prefix: 'wikt' };
  const own = warehouseAt(join(dir, 'redirects'));
  await appendBatch(own, [local.e, interwiki.e]);
  await merge(own);
  const db = await openDuckDb();
  try {
    await bindStateViews(db, own, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const targets: (string | null)[] = [];
    for await (const row of new DuckDbDumpSource(db, { passBytes: Number.MAX_SAFE_INTEGER }).history(QUERY)) targets.push(row.pageRedirectTarget);
    assert.deepEqual(targets, ['Talk:Some_page', 'wikt:Foo_bar']);
  } finally {
    await db.close();
  }
});

test('state from before pages kept the redirect target namespace: read as NULL, evolved by the next merge, which fills it for the pages it touches', { timeout: 300_000 }, async () => {
  const events = generatedEvents(43, 4000);
  const reference = warehouseAt(join(dir, 'ref'));
  const old = warehouseAt(join(dir, 'old'));
  for (const w of [reference, old]) {
    await appendBatch(w, events.slice(0, 3000));
    await merge(w);
  }
  // Make `old` what an earlier version left: state.pages without the column, the same rows and sources.
  const db = await openDuckDb();
  try {
    const pages = await old.loadTable(STATE_NAMESPACE, PAGES_TABLE);
    const sources = Object.fromEntries(Object.entries(pages.currentSnapshot()!.summary.properties).filter(([k]) => k.startsWith('mwlake.source')));
    await db.run(`CREATE TABLE rows AS SELECT * EXCLUDE (page_redirect_target_namespace_id, row_redirect_key, row_suppression_key) FROM (${await tableRelationSql(pages)})`);
    await rm(join(dir, 'old', STATE_NAMESPACE, PAGES_TABLE), { recursive: true });
    const schema = { ...PAGES_SCHEMA, fields: PAGES_SCHEMA.fields.filter((f) => f.id < 14) };
    let table = await old.createTable(STATE_NAMESPACE, PAGES_TABLE, { schema, spec: STATE_SPEC, sortOrder: { orderId: 1, fields: STATE_SORT_FIELDS[PAGES_TABLE] } });
    const files = [];
    for (const wiki of ['dewiki', 'enwiki']) files.push((await writeSortedDataFile(db, table, { selectSql: `SELECT * FROM rows WHERE wiki_id = '${wiki}'`, partition: [wiki], rowGroupSize: 2048 }))!);
    table = (await table.commit({ addDataFiles: files, summary: sources })).table;

    // Dumps read it before any merge: the column is NULL, the rest as before.
    await bindStateViews(db, old, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const before = await db.all<{ n: bigint; known: bigint }>('SELECT count(*) AS n, count(page_redirect_target_namespace_id) AS known FROM revisions');
    assert.ok(before[0]!.n > 1000n && before[0]!.known === 0n, `${before[0]!.n} rows, ${before[0]!.known} with the namespace`);

    for (const w of [reference, old]) {
      await appendBatch(w, events.slice(3000, 3500));
      await merge(w);
    }
    const evolved = await old.loadTable(STATE_NAMESPACE, PAGES_TABLE);
    assert.deepEqual(evolved.schema().fields.slice(-3), [
      { id: 14, name: 'page_redirect_target_namespace_id', required: false, type: 'int' },
      { id: 15, name: 'row_redirect_key', required: false, type: 'string' },
      { id: 16, name: 'row_suppression_key', required: false, type: 'string' },
    ]);
    assert.equal(evolved.metadata.schemas.length, 2);
    const rowsOf = async (w: Warehouse) => db.all<Record<string, unknown>>(`SELECT * FROM (${await tableRelationSql(await w.loadTable(STATE_NAMESPACE, PAGES_TABLE))}) ORDER BY wiki_id, page_id`);
    const [want, got] = [await rowsOf(reference), await rowsOf(old)];
    assert.equal(got.length, want.length);
    // The target's own key too: rows merged before it keep their page key in its place until rewritten.
    const without = (r: Record<string, unknown>) => ({ ...r, page_redirect_target_namespace_id: undefined, row_redirect_key: undefined, row_suppression_key: undefined });
    assert.deepEqual(got.map(without), want.map(without), 'every other column as a merge that never lacked it');
    // An old row knows only the suppressed delete its deletion columns still hold: never one the reference lacks, never an earlier one.
    for (const [i, r] of got.entries()) {
      const [mine, theirs] = [r['row_suppression_key'] as string | null, want[i]!['row_suppression_key'] as string | null];
      assert.ok(mine === null || (theirs !== null && mine >= theirs), `page ${String(r['page_id'])}: ${mine} against ${theirs}`);
    }
    // The pages the second batch touched have it as the reference does; the others keep NULL until their next event.
    const touched = got.filter((r, i) => r['row_page_key'] !== null && r['page_redirect_target_namespace_id'] === want[i]!['page_redirect_target_namespace_id'] && r['page_redirect_target_namespace_id'] !== null);
    assert.ok(touched.length > 0, 'some redirect the second batch touched has its target namespace');
    assert.ok(got.every((r, i) => r['page_redirect_target_namespace_id'] === null || r['page_redirect_target_namespace_id'] === want[i]!['page_redirect_target_namespace_id']));
    assert.ok(want.some((r) => r['page_redirect_target_namespace_id'] !== null));

    // Another engine's expiry may drop the older schema (Java's clean-expired-metadata), while the
    // files written before the column still lack it: views and merges read it by field id still.
    const cleaned = await evolved.updateMetadata((m) => ({ ...m, schemas: m.schemas.filter((x) => x.schemaId === m.currentSchemaId) }));
    assert.equal(cleaned.metadata.schemas.length, 1);
    assert.deepEqual(await rowsOf(old), got);
    for (const w of [reference, old]) {
      await appendBatch(w, events.slice(3500));
      await merge(w);
    }
    await bindStateViews(db, old, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const [views] = await db.all<{ n: bigint }>('SELECT count(*) AS n FROM revisions');
    assert.ok(views!.n > before[0]!.n, `${views!.n} rows in the views after the third merge`);
    assert.deepEqual((await rowsOf(old)).map(without), (await rowsOf(reference)).map(without));
  } finally {
    await db.close();
  }
});

test('state from before pages kept the earliest suppressed delete: a page row that still reads suppressed keeps it when a create reuses its id, so what its archive took into another page stays hidden', { timeout: 120_000 }, async () => {
  const { c, e, suppressed, again, merged, reuse } = suppressedArchiveChain();
  const w = warehouseAt(join(dir, 'old-suppression'));
  await append(w, [c, e, suppressed, again, merged]);
  await merge(w);
  const db = await openDuckDb();
  try {
    // What an earlier version left: state.pages without the column, the same rows and sources.
    const pages = await w.loadTable(STATE_NAMESPACE, PAGES_TABLE);
    const sources = Object.fromEntries(Object.entries(pages.currentSnapshot()!.summary.properties).filter(([k]) => k.startsWith('mwlake.source')));
    await db.run(`CREATE TABLE old_rows AS SELECT * EXCLUDE (row_suppression_key) FROM (${await tableRelationSql(pages)})`);
    await rm(join(dir, 'old-suppression', STATE_NAMESPACE, PAGES_TABLE), { recursive: true });
    const schema = { ...PAGES_SCHEMA, fields: PAGES_SCHEMA.fields.filter((f) => f.id < 16) };
    const table = await w.createTable(STATE_NAMESPACE, PAGES_TABLE, { schema, spec: STATE_SPEC, sortOrder: { orderId: 1, fields: STATE_SORT_FIELDS[PAGES_TABLE] } });
    const file = (await writeSortedDataFile(db, table, { selectSql: 'SELECT * FROM old_rows', partition: ['enwiki'], rowGroupSize: 2048 }))!;
    await table.commit({ addDataFiles: [file], summary: sources });

    await append(w, [reuse]);
    await merge(w);
    await bindStateViews(db, w, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const rows = await db.all<{ rev: bigint; page_id: bigint; cv: boolean }>('SELECT revision_id AS rev, page_id, revision_content_is_visible AS cv FROM revisions ORDER BY 1');
    assert.deepEqual(rows.map((r) => [Number(r.rev), Number(r.page_id), r.cv]), [[40, 8, false], [41, 8, false], [80, 8, true], [90, 4, true]]);
  } finally {
    await db.close();
  }
});

test('a state table with a column mwlake does not write (added or renamed by another engine) is refused before the merge changes anything', { timeout: 120_000 }, async () => {
  const events = generatedEvents(47, 1200);
  for (const [label, change] of [
    ['added', (m: TableMetadata) => withAddedColumns(m, [{ name: 'reviewed', type: 'boolean' }])],
    ['renamed', (m: TableMetadata) => ({ ...m, schemas: m.schemas.map((x) => (x.schemaId !== m.currentSchemaId ? x : { ...x, fields: x.fields.map((f) => (f.name === 'page_redirect_target_namespace_id' ? { ...f, name: 'target_ns' } : f)) })) })],
  ] as const) {
    const w = warehouseAt(join(dir, `foreign-${label}`));
    await appendBatch(w, events.slice(0, 1000));
    await merge(w);
    const pages = await (await w.loadTable(STATE_NAMESPACE, PAGES_TABLE)).updateMetadata(change);
    const revisions = await w.loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
    await appendBatch(w, events.slice(1000));
    await assert.rejects(merge(w), (e: unknown) => {
      assert.ok(e instanceof JobError && e.code === 'CONFIG', String(e));
      assert.match(e.message, label === 'added' ? /state\.pages has columns mwlake does not write: reviewed \(field id 17\)/ : /target_ns \(field id 14\)/);
      return true;
    });
    const after = await w.loadTable(STATE_NAMESPACE, PAGES_TABLE);
    assert.equal(after.metadataLocation, pages.metadataLocation, `${label}: state.pages is unchanged (no column added again)`);
    assert.equal((await w.loadTable(STATE_NAMESPACE, REVISIONS_TABLE)).currentSnapshot()!.snapshotId, revisions.currentSnapshot()!.snapshotId, `${label}: nothing merged`);
  }
});
