// The legacy visibility change stream in the merge, without Kafka: its events meet page changes in
// one order (meta.dt, the Kafka timestamp, then the revision and meta.id) within a merge and against stored rows, and
// a merge in passes gives the same tables as one in a single pass.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import { tableRelationSql } from '../../src/duckdb/table-view.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { silentLogger } from '../../src/core/log.js';
import { REVISIONS_TABLE, STATE_NAMESPACE } from '../../src/merge/state-schema.js';
import { loadConfig } from '../../src/pipeline/config.js';
import { runMaintenance } from '../../src/pipeline/maintenance.js';
import { stateViewStatements } from '../../src/pipeline/state-views.js';
import { appendBatch, appendVisibilityBatch, generatedEvents, merge, stateHashes, warehouseAt } from './merge-fixture.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-visibility-merge-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const events = generatedEvents(23, 4000);
const shifted = (dt: string | undefined, ms: number) => new Date(Date.parse(dt!) + ms).toISOString();
/** When a page change ranks in the merge: its `dt` (the action time). */
const dtOf = (e: PageChangeEvent) => e.dt ?? e.meta.dt!;

function legacy(e: PageChangeEvent, dt: string, text: boolean, id: string): object {
  return {
    $schema: '/mediawiki/revision/visibility-change/1.0.0',
    database: e.wiki_id,
    meta: { dt, id, stream: 'mediawiki.revision-visibility-change', domain: 'x.wikipedia.org' },
    page_id: e.page.page_id,
    page_is_redirect: false,
    page_namespace: e.page.namespace_id,
    page_title: e.page.page_title,
    prior_state: { visibility: { text: !text, user: true, comment: true } },
    rev_id: e.revision!.rev_id,
    rev_timestamp: e.revision!.rev_dt,
    visibility: { text, user: true, comment: true },
  };
}

/** Content visibility of the given revisions in the state table. */
async function contentVisible(dirName: string, revisionIds: readonly number[]): Promise<Map<number, boolean | null>> {
  const table = await warehouseAt(join(dir, dirName)).loadTable(STATE_NAMESPACE, REVISIONS_TABLE);
  const db = await openDuckDb();
  try {
    const rows = await db.all<{ id: bigint; c: boolean | null }>(`SELECT revision_id AS id, revision_content_is_visible AS c FROM (${await tableRelationSql(table)}) WHERE revision_id IN (${revisionIds.join(', ')})`);
    return new Map(rows.map((r) => [Number(r.id), r.c]));
  } finally {
    await db.close();
  }
}

// Page change visibility changes (current revisions), and every 9th edit (mostly old revisions by the end).
const pageChangeVisibility = events.filter((e) => e.page_change_kind === 'visibility_change' && e.revision !== undefined);
const edits = events.filter((e, i) => e.page_change_kind === 'edit' && i % 9 === 0);
// Legacy events: a second before each page change visibility change (its dt, the action time),
// the opposite flag (it must lose within the merge); a day after each sampled edit, text hidden (it must win).
const legacyEvents = [
  ...pageChangeVisibility.map((e, i) => legacy(e, shifted(dtOf(e), -1000), !e.revision!.is_content_visible, `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`)),
  ...edits.map((e, i) => legacy(e, shifted(e.meta.dt, 86_400_000), false, `c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`)),
];

test('legacy and page change visibility changes meet in one order within a merge, in one pass or in several', { timeout: 300_000 }, async () => {
  assert.ok(pageChangeVisibility.length >= 5 && edits.length >= 50, `${pageChangeVisibility.length} visibility changes, ${edits.length} edits`);
  for (const [name, extra] of [['one-pass', {}], ['passes', { passBytes: 4 << 20 }]] as const) {
    const wh = warehouseAt(join(dir, name));
    await appendBatch(wh, events);
    await appendVisibilityBatch(wh, legacyEvents);
    const r = await merge(wh, extra);
    assert.ok(r.visibilitySourceSnapshotId !== undefined);
  }
  assert.deepEqual(await stateHashes(warehouseAt(join(dir, 'passes'))), await stateHashes(warehouseAt(join(dir, 'one-pass'))));

  // The later of the two visibility changes of a revision holds, whichever stream it came in.
  const latestPageChange = new Map<number, PageChangeEvent>();
  for (const e of pageChangeVisibility) {
    const seen = latestPageChange.get(e.revision!.rev_id);
    if (seen === undefined || dtOf(seen) <= dtOf(e)) latestPageChange.set(e.revision!.rev_id, e);
  }
  const visible = await contentVisible('one-pass', [...latestPageChange.keys(), ...edits.map((e) => e.revision!.rev_id)]);
  const hiddenEdits = new Set(edits.map((e) => e.revision!.rev_id));
  for (const [id, e] of latestPageChange) {
    if (hiddenEdits.has(id)) continue;
    assert.equal(visible.get(id), e.revision!.is_content_visible, `revision ${id}: the page change a second after the legacy event holds`);
  }
  for (const e of edits) {
    const later = pageChangeVisibility.some((v) => v.revision!.rev_id === e.revision!.rev_id && dtOf(v) > shifted(e.meta.dt, 86_400_000));
    if (!later) assert.equal(visible.get(e.revision!.rev_id), false, `revision ${e.revision!.rev_id}: the legacy suppression a day later holds`);
  }
});

test('a merge of visibility changes alone after an events snapshot without files still reaches the views', { timeout: 300_000 }, async () => {
  const wh = warehouseAt(join(dir, 'empty-append'));
  const some = events.slice(0, 600);
  await appendBatch(wh, some);
  await merge(wh);
  // A drain that read only canaries or bad events commits offsets and no files.
  const eventsTable = await wh.loadTable('events', 'page_content_change');
  await eventsTable.commit({ operation: 'append', summary: { 'mwlake.test': 'no files' }, requireCurrentSnapshotId: eventsTable.currentSnapshot()!.snapshotId });
  const edit = some.find((e) => e.page_change_kind === 'edit')!;
  await appendVisibilityBatch(wh, [legacy(edit, shifted(edit.meta.dt, 86_400_000), false, 'd0000000-0000-4000-8000-000000000001')]);
  const r = await merge(wh);
  assert.deepEqual(r.tables.map((t) => [t.table, t.skipped]), [['state.revisions', false], ['state.pages', true]]);
  const { statements } = await stateViewStatements(wh, { namespace: 'events', name: 'page_content_change' });
  const db = await openDuckDb();
  try {
    for (const sql of statements) await db.run(sql);
    const rows = await db.all<{ c: boolean }>(`SELECT revision_content_is_visible AS c FROM revisions WHERE revision_id = ${edit.revision!.rev_id}`);
    assert.deepEqual(rows, [{ c: false }], 'the views pair the pages with the revisions snapshot that holds the suppression');
  } finally {
    await db.close();
  }
});

test('a first merge from the visibility table reads its live files: compaction and expiry before it lose nothing', { timeout: 300_000 }, async () => {
  const path = join(dir, 'maintain');
  const wh = warehouseAt(path);
  await appendBatch(wh, events.slice(0, 600));
  await merge(wh, { visibilityTable: 'not_yet' });
  const sample = events.slice(0, 600).filter((e) => e.page_change_kind === 'edit').slice(0, 12);
  for (const [i, e] of sample.entries()) await appendVisibilityBatch(wh, [legacy(e, shifted(e.meta.dt, 86_400_000), false, `e0000000-0000-4000-8000-${String(i).padStart(12, '0')}`)]);
  const config = await loadConfig(undefined, { MWLAKE_JOB_NAME: 'maintain', MWLAKE_WAREHOUSE: path });
  const m = await runMaintenance({ config: { ...config, maintenance: { ...config.maintenance, compactMinInputFiles: 2, removeOrphans: false } }, warehouse: wh, logger: silentLogger(), nowMs: Date.now() + 30 * 86_400_000 });
  const visibilityTable = m.tables.find((t) => t.table === 'events.revision_visibility_change')!;
  assert.ok((visibilityTable.compaction?.filesRewritten ?? 0) > 0 && (visibilityTable.expiry?.snapshotsExpired ?? 0) > 0, JSON.stringify(visibilityTable));
  await merge(wh);
  const visible = await contentVisible('maintain', sample.map((e) => e.revision!.rev_id));
  assert.deepEqual([...visible.values()], sample.map(() => false), 'every suppression applied');
});
