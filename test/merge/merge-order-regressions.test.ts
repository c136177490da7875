// Regressions of the merge's event order and of undeletes, each a scenario found in review:
// page state ranks every kind at its action time (`dt`); a selective undelete brings back only
// what it restored; same-second ties follow Kafka order (producer timestamp, then the offset
// within one partition), never the revision id or offsets of different topics; and a create or
// an edit loses a same-second tie against a statement made about its revision since.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { ev, PAGES, REVS, runBatches, suppressedArchiveChain, type Ev } from './page-change-harness.js';

const CURRENT = 'SELECT revision_id AS rev FROM current ORDER BY 1';
const revIds = (rows: unknown) => (rows as { rev: number }[]).map((r) => r.rev);

/** runBatches with the merges' warnings (their messages) collected. */
async function mergeLogged(batches: readonly (readonly Ev[])[], sql: Record<string, string>): Promise<{ warnings: string[]; out: Record<string, unknown> }> {
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _encoding, done) => { warnings.push((JSON.parse(chunk.toString()) as { msg: string }).msg); done(); } }));
  const out = await runBatches(batches, sql, logger);
  return { warnings, out };
}

test('an edit made between a move (dt) and its meta.dt sets the page: every kind ranks at its dt', { timeout: 120_000 }, async () => {
  const create = ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A' });
  // The real move example has meta.dt 4 s after dt.
  const move = ev({ kind: 'move', dt: '2026-11-01T10:05:00Z', metaDt: '2026-11-01T10:05:04Z', page: 1, rev: 11, parent: 10, revAt: '2026-11-01T10:05:00Z', title: 'B', priorTitle: 'A' });
  const edit = ev({ kind: 'edit', metaDt: '2026-11-01T10:05:02Z', page: 1, rev: 12, parent: 11, revAt: '2026-11-01T10:05:02Z', title: 'B', redirectTo: 'C' });
  for (const [name, batches] of [['one merge', [[create, move, edit]]], ['two merges', [[create, move], [edit]]], ['edit first', [[create, edit], [move]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual(pages, [{ page_id: 1, page_title: 'B', ns: 0, redir: true, target: 'C', latest: 12, deleted: null, alias: null }], name);
  }
});

test('a selective undelete brings back only the revisions up to the one it restored', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 6, rev: 60, revAt: '2026-11-01T09:00:00Z' });
  const e = ev({ kind: 'edit', metaDt: '2026-11-01T09:30:00Z', page: 6, rev: 61, parent: 60, revAt: '2026-11-01T09:30:00Z' });
  const del = ev({ kind: 'delete', metaDt: '2026-11-01T11:00:00Z', page: 6, rev: 61, parent: 60, revAt: '2026-11-01T09:30:00Z', noBody: true });
  // Only revision 60 restored: the undelete carries the page's current revision, 60.
  const und = ev({ kind: 'undelete', metaDt: '2026-11-01T11:05:00Z', page: 6, rev: 60, revAt: '2026-11-01T09:00:00Z' });
  const after = ev({ kind: 'edit', metaDt: '2026-11-01T12:00:00Z', page: 6, rev: 62, parent: 60, revAt: '2026-11-01T12:00:00Z' });
  for (const [name, batches] of [['two merges', [[c, e], [del, und]]], ['one merge', [[c, e, del, und]]], ['undelete first', [[c, und], [e, del]]]] as const) {
    const out = await runBatches(batches, { revs: REVS, current: CURRENT });
    assert.deepEqual(revIds(out['revs']), [60], `${name}: the still-deleted revision 61 stays out`);
    assert.deepEqual(revIds(out['current']), [60], `${name}: and is not the current revision`);
  }
  const later = await runBatches([[c, e], [del, und], [after]], { revs: REVS, current: CURRENT });
  assert.deepEqual(revIds(later['revs']), [60, 62], 'an edit made after the undelete is live');
  assert.deepEqual(revIds(later['current']), [62]);
  const newId = ev({ kind: 'undelete', metaDt: '2026-11-01T11:05:00Z', page: 9, rev: 60, revAt: '2026-11-01T09:00:00Z', priorPage: 6 });
  const moved = await runBatches([[c, e], [del, newId]], { revs: REVS, current: 'SELECT revision_id AS rev, page_id FROM current' });
  assert.deepEqual((moved['revs'] as { rev: number; page_id: number }[]).map((r) => [r.rev, r.page_id]), [[60, 9]], 'also when restored under a new page id');
  assert.deepEqual(moved['current'], [{ rev: 60, page_id: 9 }]);
  const full = ev({ kind: 'undelete', metaDt: '2026-11-01T13:00:00Z', page: 6, rev: 61, revAt: '2026-11-01T09:30:00Z' });
  const again = await runBatches([[c, e], [del, und], [full]], { revs: REVS });
  assert.deepEqual(revIds(again['revs']), [60, 61], 'a later undelete restoring 61 brings it back');
});

test('a delete and an undelete in one second apply in Kafka order, though the undelete carries a lower revision id', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 2, rev: 20, revAt: '2026-11-01T09:00:00Z' });
  const e = ev({ kind: 'edit', metaDt: '2026-11-01T09:30:00Z', page: 2, rev: 21, parent: 20, revAt: '2026-11-01T09:30:00Z' });
  const del = ev({ kind: 'delete', metaDt: '2026-11-01T11:00:00Z', page: 2, rev: 21, parent: 20, revAt: '2026-11-01T09:30:00Z', noBody: true });
  const und = ev({ kind: 'undelete', metaDt: '2026-11-01T11:00:00Z', page: 2, rev: 20, revAt: '2026-11-01T09:00:00Z' });
  for (const [name, batches] of [['one merge', [[c, e, del, und]]], ['two merges', [[c, e, del], [und]]]] as const) {
    const out = await runBatches(batches, { pages: PAGES, revs: REVS });
    assert.equal((out['pages'] as { deleted: boolean }[])[0]?.deleted, false, `${name}: the page is live`);
    assert.deepEqual(revIds(out['revs']), [20], `${name}: with the revision the undelete restored`);
  }
});

test('a same-second tie across the eqiad and codfw topics follows the Kafka timestamp, not their offsets', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 3, rev: 30, revAt: '2026-11-01T09:00:00Z', topic: 'eqiad.test', offset: 4000, kafkaMs: 1_000 });
  const tied = (kind: 'delete' | 'undelete', topic: string, offset: number, kafkaMs: number) =>
    ev({ kind, metaDt: '2026-11-01T11:00:00Z', page: 3, rev: 30, revAt: '2026-11-01T09:00:00Z', noBody: kind === 'delete', topic, offset, kafkaMs });
  // After a switchover: the delete in eqiad (high offset), then the undelete in codfw (low offset).
  const del = tied('delete', 'eqiad.test', 5000, 2_000);
  const und = tied('undelete', 'codfw.test', 3, 3_000);
  for (const [name, batches] of [['one merge', [[c, del, und]]], ['undelete merged first', [[c, und], [del]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.equal((pages as { deleted: boolean }[])[0]?.deleted, false, `${name}: the later undelete holds`);
  }
  const undFirst = tied('undelete', 'codfw.test', 3, 2_000);
  const delLater = tied('delete', 'eqiad.test', 5000, 3_000);
  const { pages } = await runBatches([[c, delLater, undFirst]], { pages: PAGES });
  assert.equal((pages as { deleted: boolean }[])[0]?.deleted, true, 'the later delete holds');
});

test('a create delivered late does not undo a suppression made in the second the revision was made', { timeout: 120_000 }, async () => {
  const hide = ev({ kind: 'visibility_change', metaDt: '2026-11-01T10:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:00:00Z', visible: [false, false, true] });
  const lateCreate = ev({ kind: 'create', dt: '2026-11-01T10:00:00Z', metaDt: '2026-11-10T10:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:00:00Z' });
  for (const [name, batches] of [['one merge', [[hide, lateCreate]]], ['two merges', [[hide], [lateCreate]]]] as const) {
    const { revs } = await runBatches(batches, { revs: REVS });
    assert.deepEqual((revs as { rev: number; cv: boolean; uv: boolean; mv: boolean }[]).map((r) => [r.rev, r.cv, r.uv, r.mv]), [[80, false, false, true]], name);
  }
});

test('a page id reused by a create after a delete: the new page is live, without the deleted one\'s revisions', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 5, rev: 50, revAt: '2026-11-01T09:00:00Z', title: 'A' });
  const e = ev({ kind: 'edit', metaDt: '2026-11-01T09:10:00Z', page: 5, rev: 51, parent: 50, revAt: '2026-11-01T09:10:00Z', title: 'A' });
  const del = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 5, rev: 51, parent: 50, revAt: '2026-11-01T09:10:00Z', title: 'A', noBody: true });
  const again = ev({ kind: 'create', metaDt: '2026-11-01T11:00:00Z', page: 5, rev: 70, revAt: '2026-11-01T11:00:00Z', title: 'B' });
  const edit = ev({ kind: 'edit', metaDt: '2026-11-01T11:30:00Z', page: 5, rev: 71, parent: 70, revAt: '2026-11-01T11:30:00Z', title: 'B' });
  for (const [name, batches] of [['one merge', [[c, e, del, again, edit]]], ['each merged', [[c, e], [del], [again], [edit]]], ['the delete delivered last', [[c, e, again, edit], [del]]]] as const) {
    const out = await runBatches(batches, { pages: PAGES, revs: REVS, current: CURRENT });
    assert.deepEqual(out['pages'], [{ page_id: 5, page_title: 'B', ns: 0, redir: false, target: null, latest: 71, deleted: null, alias: null }], name);
    assert.deepEqual(revIds(out['revs']), [70, 71], `${name}: only the new page's revisions`);
    assert.deepEqual(revIds(out['current']), [71], name);
  }
  const gone = ev({ kind: 'delete', metaDt: '2026-11-01T12:00:00Z', page: 5, rev: 71, parent: 70, revAt: '2026-11-01T11:30:00Z', title: 'B', noBody: true });
  const out = await runBatches([[c, e, del, again, edit], [gone]], { revs: REVS });
  assert.deepEqual(revIds(out['revs']), [], 'the new page deleted in turn');
  // The deleted page restored while its id is in use gets a new one; its revisions follow it, the new page's stay.
  const restored = ev({ kind: 'undelete', metaDt: '2026-11-01T12:00:00Z', page: 9, rev: 51, revAt: '2026-11-01T09:10:00Z', title: 'A', priorPage: 5 });
  for (const [name, batches] of [['one merge', [[c, e, del, again, edit, restored]]], ['two merges', [[c, e, del, again, edit], [restored]]]] as const) {
    const both = await runBatches(batches, { revs: 'SELECT revision_id AS rev, page_id, page_title FROM revisions ORDER BY 1' });
    assert.deepEqual(both['revs'], [
      { rev: 50, page_id: 9, page_title: 'A' }, { rev: 51, page_id: 9, page_title: 'A' },
      { rev: 70, page_id: 5, page_title: 'B' }, { rev: 71, page_id: 5, page_title: 'B' },
    ], name);
  }
});

test('a suppressed page restored into an existing page of its title keeps its revisions hidden in full', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 4, rev: 40, revAt: '2026-11-01T09:00:00Z', title: 'A' });
  const e = ev({ kind: 'edit', metaDt: '2026-11-01T09:30:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A' });
  const suppressed = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A', suppressed: true });
  const plain = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A', noBody: true });
  const again = ev({ kind: 'create', metaDt: '2026-11-01T11:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T11:00:00Z', title: 'A' });
  // The archive restored into page 8: the event carries page 8's current revision, 80.
  const merged = ev({ kind: 'undelete', metaDt: '2026-11-01T12:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T11:00:00Z', title: 'A', priorPage: 4 });
  const after = ev({ kind: 'edit', metaDt: '2026-11-01T13:00:00Z', page: 8, rev: 81, parent: 80, revAt: '2026-11-01T13:00:00Z', title: 'A' });
  const flags = (rows: unknown) => (rows as { rev: number; page_id: number; cv: boolean; uv: boolean; mv: boolean }[]).map((r) => [r.rev, r.page_id, r.cv, r.uv, r.mv]);
  for (const [name, batches] of [['one merge', [[c, e, suppressed, again, merged, after]]], ['each merged', [[c], [e], [suppressed], [again], [merged], [after]]], ['the delete delivered last', [[c, e, again, merged, after], [suppressed]]]] as const) {
    const out = await runBatches(batches, { revs: REVS });
    assert.deepEqual(flags(out['revs']), [[40, 8, false, false, false], [41, 8, false, false, false], [80, 8, true, true, true], [81, 8, true, true, true]], name);
  }
  const out = await runBatches([[c, e, plain, again, merged]], { revs: REVS });
  assert.deepEqual(flags(out['revs']), [[40, 8, true, true, true], [41, 8, true, true, true], [80, 8, true, true, true]], 'after a plain delete they show');
});

test('the revisions the archive of a suppressed page took into another page stay hidden after its id lives again (a create reuses it, it is deleted and restored), also when the suppressed delete is delivered last', { timeout: 120_000 }, async () => {
  const { c, e, suppressed, again, merged, reuse } = suppressedArchiveChain();
  // The page that reused id 4 deleted and restored.
  const gone = ev({ kind: 'delete', metaDt: '2026-11-01T15:00:00Z', page: 4, rev: 90, revAt: '2026-11-01T14:00:00Z', title: 'C', noBody: true });
  const back = ev({ kind: 'undelete', metaDt: '2026-11-01T16:00:00Z', page: 4, rev: 90, revAt: '2026-11-01T14:00:00Z', title: 'C' });
  const flags = (rows: unknown) => (rows as { rev: number; page_id: number; cv: boolean; uv: boolean; mv: boolean }[]).map((r) => [r.rev, r.page_id, r.cv, r.uv, r.mv]);
  const hidden = [[40, 8, false, false, false], [41, 8, false, false, false], [80, 8, true, true, true], [90, 4, true, true, true]];
  for (const [name, batches] of [
    ['one merge', [[c, e, suppressed, again, merged, reuse]]],
    ['each merged', [[c], [e], [suppressed], [again], [merged], [reuse]]],
    ['the delete delivered last', [[c, e, again, merged, reuse], [suppressed]]],
    ['deleted and restored since', [[c, e, suppressed, again, merged, reuse], [gone, back]]],
    ['all of it in one merge', [[c, e, suppressed, again, merged, reuse, gone, back]]],
  ] as const) {
    const out = await runBatches(batches, { revs: REVS });
    assert.deepEqual(flags(out['revs']), hidden, name);
  }
});

test('revisions that follow an undelete out of a suppressed id are hidden when saved before its last suppressed delete, also one made again after a lift, or, that unknown, before the undelete; a hop made before the suppression is not', { timeout: 120_000 }, async () => {
  const flags = (rows: unknown) => (rows as { rev: number; page_id: number; cv: boolean; uv: boolean; mv: boolean }[]).map((r) => [r.rev, r.page_id, r.cv, r.uv, r.mv]);
  // Id 3 suppressed-deleted, restored as its own page (the suppression lifted), edited, suppressed
  // again and restored into page 7: the edit was in the second suppressed archive.
  const c3 = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 3, rev: 30, revAt: '2026-11-01T09:00:00Z', title: 'F' });
  const hide1 = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 3, rev: 30, revAt: '2026-11-01T09:00:00Z', title: 'F', suppressed: true });
  const lifted = ev({ kind: 'undelete', metaDt: '2026-11-01T11:00:00Z', page: 3, rev: 30, revAt: '2026-11-01T09:00:00Z', title: 'F' });
  const e3 = ev({ kind: 'edit', metaDt: '2026-11-01T12:00:00Z', page: 3, rev: 31, parent: 30, revAt: '2026-11-01T12:00:00Z', title: 'F' });
  const hide2 = ev({ kind: 'delete', metaDt: '2026-11-01T13:00:00Z', page: 3, rev: 31, parent: 30, revAt: '2026-11-01T12:00:00Z', title: 'F', suppressed: true, noBody: true });
  const c7 = ev({ kind: 'create', metaDt: '2026-11-01T13:30:00Z', page: 7, rev: 75, revAt: '2026-11-01T13:30:00Z', title: 'F' });
  const into7 = ev({ kind: 'undelete', metaDt: '2026-11-01T14:00:00Z', page: 7, rev: 75, revAt: '2026-11-01T13:30:00Z', title: 'F', priorPage: 3 });
  for (const [name, batches] of [['one merge', [[c3, hide1, lifted, e3, hide2, c7, into7]]], ['each merged', [[c3], [hide1], [lifted], [e3], [hide2], [c7], [into7]]]] as const) {
    const out = await runBatches(batches, { revs: REVS });
    assert.deepEqual(flags(out['revs']), [[30, 7, false, false, false], [31, 7, false, false, false], [75, 7, true, true, true]], `suppressed again: ${name}`);
  }
  // Id 4 suppressed-deleted, then reused, that page deleted plainly and restored into page 9: which
  // suppressed delete came last no column says, so all that was saved before the undelete is hidden.
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 4, rev: 40, revAt: '2026-11-01T09:00:00Z', title: 'A' });
  const e = ev({ kind: 'edit', metaDt: '2026-11-01T09:30:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A' });
  const suppressed = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 4, rev: 41, parent: 40, revAt: '2026-11-01T09:30:00Z', title: 'A', suppressed: true });
  const reuse = ev({ kind: 'create', metaDt: '2026-11-01T11:00:00Z', page: 4, rev: 90, revAt: '2026-11-01T11:00:00Z', title: 'B' });
  const gone = ev({ kind: 'delete', metaDt: '2026-11-01T12:00:00Z', page: 4, rev: 90, revAt: '2026-11-01T11:00:00Z', title: 'B', noBody: true });
  const other = ev({ kind: 'create', metaDt: '2026-11-01T12:30:00Z', page: 9, rev: 95, revAt: '2026-11-01T12:30:00Z', title: 'B' });
  const into = ev({ kind: 'undelete', metaDt: '2026-11-01T13:00:00Z', page: 9, rev: 95, revAt: '2026-11-01T12:30:00Z', title: 'B', priorPage: 4 });
  for (const [name, batches] of [['one merge', [[c, e, suppressed, reuse, gone, other, into]]], ['the suppressed delete last', [[c, e, reuse, gone, other, into], [suppressed]]]] as const) {
    const out = await runBatches(batches, { revs: REVS });
    assert.deepEqual(flags(out['revs']), [[40, 9, false, false, false], [41, 9, false, false, false], [90, 9, false, false, false], [95, 9, true, true, true]], name);
  }
  // Id 5 deleted plainly and restored into page 8, then reused and that page suppressed-deleted.
  const c5 = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 5, rev: 50, revAt: '2026-11-01T09:00:00Z', title: 'D' });
  const plain = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 5, rev: 50, revAt: '2026-11-01T09:00:00Z', title: 'D', noBody: true });
  const c8 = ev({ kind: 'create', metaDt: '2026-11-01T10:30:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:30:00Z', title: 'D' });
  const into8 = ev({ kind: 'undelete', metaDt: '2026-11-01T11:00:00Z', page: 8, rev: 80, revAt: '2026-11-01T10:30:00Z', title: 'D', priorPage: 5 });
  const reuse5 = ev({ kind: 'create', metaDt: '2026-11-01T12:00:00Z', page: 5, rev: 91, revAt: '2026-11-01T12:00:00Z', title: 'E' });
  const suppressed5 = ev({ kind: 'delete', metaDt: '2026-11-01T13:00:00Z', page: 5, rev: 91, revAt: '2026-11-01T12:00:00Z', title: 'E', suppressed: true });
  const out = await runBatches([[c5, plain, c8, into8, reuse5, suppressed5]], { revs: REVS });
  assert.deepEqual(flags(out['revs']), [[50, 8, true, true, true], [80, 8, true, true, true]], 'a hop before the suppression');
});

test('the revisions view joins its pages and undelete aliases by hash, never by nested loop', { timeout: 120_000 }, async () => {
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T09:00:00Z' });
  const { plan } = await runBatches([[c]], { plan: 'EXPLAIN SELECT * FROM revisions' });
  const text = JSON.stringify(plan);
  assert.match(text, /HASH_JOIN/);
  assert.doesNotMatch(text, /NL_JOIN|NESTED_LOOP/, 'a join over every revision must not loop over the other side');
});

test('an edit saved in the second of a move, an undelete or a visibility change sets the page: a newer revision wins the tie', { timeout: 120_000 }, async () => {
  const at = '2026-11-01T10:05:00Z';
  const c = ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A' });
  const move = ev({ kind: 'move', metaDt: at, page: 1, rev: 11, parent: 10, revAt: at, title: 'B', priorTitle: 'A' });
  const edit = ev({ kind: 'edit', metaDt: at, page: 1, rev: 12, parent: 11, revAt: at, title: 'B', redirectTo: 'C' });
  for (const [name, batches] of [['one merge', [[c, move, edit]]], ['two merges', [[c, move], [edit]]], ['edit merged first', [[c, edit], [move]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual(pages, [{ page_id: 1, page_title: 'B', ns: 0, redir: true, target: 'C', latest: 12, deleted: null, alias: null }], `move: ${name}`);
  }
  // Saved before the move in its second but delivered after it: the move's null revision is newer.
  const before = ev({ kind: 'edit', metaDt: at, page: 1, rev: 11, parent: 10, revAt: at, title: 'A' });
  const moveAfter = ev({ kind: 'move', metaDt: at, page: 1, rev: 12, parent: 11, revAt: at, title: 'B', priorTitle: 'A' });
  for (const [name, batches] of [['one merge', [[c, moveAfter, before]]], ['two merges', [[c, moveAfter], [before]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual(pages, [{ page_id: 1, page_title: 'B', ns: 0, redir: false, target: null, latest: 12, deleted: null, alias: null }], `older edit: ${name}`);
  }

  const c2 = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 2, rev: 20, revAt: '2026-11-01T09:00:00Z', title: 'D' });
  const del = ev({ kind: 'delete', metaDt: '2026-11-01T10:00:00Z', page: 2, rev: 20, revAt: '2026-11-01T09:00:00Z', title: 'D', noBody: true });
  const und = ev({ kind: 'undelete', metaDt: at, page: 2, rev: 20, revAt: '2026-11-01T09:00:00Z', title: 'D' });
  const edit2 = ev({ kind: 'edit', metaDt: at, page: 2, rev: 21, parent: 20, revAt: at, title: 'D' });
  const hide = ev({ kind: 'visibility_change', metaDt: '2026-11-01T10:06:00Z', page: 2, rev: 21, revAt: at, title: 'D', visible: [true, false, true] });
  const edit3 = ev({ kind: 'edit', metaDt: '2026-11-01T10:06:00Z', page: 2, rev: 22, parent: 21, revAt: '2026-11-01T10:06:00Z', title: 'D' });
  for (const [name, batches] of [['one merge', [[c2, del, und, edit2, hide, edit3]]], ['each merged', [[c2], [del], [und], [edit2], [hide], [edit3]]]] as const) {
    const out = await runBatches(batches, { pages: 'SELECT latest, deleted FROM (' + PAGES + ')', current: CURRENT });
    assert.deepEqual(out['pages'], [{ latest: 22, deleted: false }], `undelete, visibility change: ${name}`);
    assert.deepEqual(revIds(out['current']), [22], name);
  }
});

test('a page id reused by a create in the second of its delete: the new page lives', { timeout: 120_000 }, async () => {
  const at = '2026-11-01T10:00:00Z';
  const c = ev({ kind: 'create', metaDt: '2026-11-01T09:00:00Z', page: 5, rev: 50, revAt: '2026-11-01T09:00:00Z', title: 'A' });
  const del = ev({ kind: 'delete', metaDt: at, page: 5, rev: 50, revAt: '2026-11-01T09:00:00Z', title: 'A', noBody: true });
  const again = ev({ kind: 'create', metaDt: at, page: 5, rev: 70, revAt: at, title: 'B' });
  for (const [name, batches] of [['one merge', [[c, del, again]]], ['two merges', [[c, del], [again]]], ['the delete delivered last', [[c, again], [del]]]] as const) {
    const out = await runBatches(batches, { pages: PAGES, revs: REVS });
    assert.deepEqual(out['pages'], [{ page_id: 5, page_title: 'B', ns: 0, redir: false, target: null, latest: 70, deleted: null, alias: null }], name);
    assert.deepEqual(revIds(out['revs']), [70], name);
  }
});

test('two edits in the second of a move, the older delivered last: the newest revision sets the page, in one merge or several', { timeout: 120_000 }, async () => {
  const at = '2026-11-01T10:05:00Z';
  const c = ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A', kafkaMs: 1_000 });
  // Saved in this order in one second; the first edit's event was produced last.
  const first = ev({ kind: 'edit', metaDt: at, page: 1, rev: 11, parent: 10, revAt: at, title: 'A', redirectTo: 'X', kafkaMs: 4_000 });
  const move = ev({ kind: 'move', metaDt: at, page: 1, rev: 12, parent: 11, revAt: at, title: 'B', priorTitle: 'A', kafkaMs: 2_000 });
  const last = ev({ kind: 'edit', metaDt: at, page: 1, rev: 13, parent: 12, revAt: at, title: 'B', redirectTo: 'C', kafkaMs: 3_000 });
  for (const [name, batches] of [['one merge', [[c, first, move, last]]], ['the first edit merged last', [[c, move, last], [first]]], ['each merged', [[c], [last], [move], [first]]]] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual(pages, [{ page_id: 1, page_title: 'B', ns: 0, redir: true, target: 'C', latest: 13, deleted: null, alias: null }], name);
  }
});

test('a page edited after its delete with no undelete event stays deleted, and the merge names it for a person; a late undelete still applies', { timeout: 240_000 }, async () => {
  const at = (h: string) => `2026-11-01T${h}Z`;
  const c = ev({ kind: 'create', metaDt: at('09:00:00'), page: 3, rev: 30, revAt: at('09:00:00') });
  const e = ev({ kind: 'edit', metaDt: at('09:30:00'), page: 3, rev: 31, parent: 30, revAt: at('09:30:00') });
  const del = ev({ kind: 'delete', metaDt: at('11:00:00'), page: 3, rev: 31, parent: 30, revAt: at('09:30:00'), noBody: true });
  // The undelete's event never came; this edit was saved on the restored page.
  const after = ev({ kind: 'edit', metaDt: at('12:00:00'), page: 3, rev: 32, parent: 31, revAt: at('12:00:00') });
  for (const [name, batches] of [['one merge', [[c, e, del, after]]], ['three merges', [[c, e], [del], [after]]], ['edit delivered first', [[c, e, after], [del]]]] as const) {
    const { warnings, out } = await mergeLogged(batches, { pages: PAGES, revs: REVS });
    assert.equal((out['pages'] as { deleted: boolean }[])[0]?.deleted, true, `${name}: no guess publishes deleted content`);
    assert.deepEqual(revIds(out['revs']), [], name);
    assert.equal(warnings.filter((w) => /merge: 1 deleted page\(s\) had an edit saved after their delete \(enwiki:3\): an undelete whose event was lost\?/.test(w)).length, 1, `${name}: ${warnings.join('\n')}`);
  }
  // Nothing to name: an edit in the second of the delete (Kafka order is no proof), one saved before it.
  const sameSecond = ev({ kind: 'edit', metaDt: at('11:00:00'), page: 3, rev: 32, parent: 31, revAt: at('11:00:00') });
  for (const batches of [[[c, e, del], [sameSecond]], [[c, del], [e]]]) {
    const { warnings, out } = await mergeLogged(batches, { pages: PAGES });
    assert.equal((out['pages'] as { deleted: boolean }[])[0]?.deleted, true);
    assert.deepEqual(warnings, []);
  }
  // The undelete arrives late after all (it restored only 30): it applies, in one merge or several.
  const und = ev({ kind: 'undelete', metaDt: at('11:05:00'), page: 3, rev: 30, revAt: at('09:00:00') });
  for (const batches of [[[c, e, del, und, after]], [[c, e, del, after], [und]]]) {
    const { out } = await mergeLogged(batches, { pages: PAGES, revs: REVS });
    assert.equal((out['pages'] as { deleted: boolean }[])[0]?.deleted, false);
    assert.deepEqual(revIds(out['revs']), [30, 32], 'revision 31 stayed deleted, as the undelete says');
  }
});

test('a visibility change of a redirect, whose event names no target, keeps the target: stored, or the newest of its merge', { timeout: 120_000 }, async () => {
  const create = ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A', redirectTo: 'T' });
  const retarget = ev({ kind: 'edit', metaDt: '2026-11-01T10:01:00Z', page: 1, rev: 11, parent: 10, revAt: '2026-11-01T10:01:00Z', title: 'A', redirectTo: 'U' });
  const hide = ev({ kind: 'visibility_change', metaDt: '2026-11-01T10:02:00Z', page: 1, rev: 11, revAt: '2026-11-01T10:01:00Z', title: 'A', redirectTo: 'U', noRedirectLink: true, visible: [true, true, false] });
  // Today's EventBus serializes a visibility change's page from a page identity: is_redirect false, no link.
  const identityHide = ev({ kind: 'visibility_change', metaDt: '2026-11-01T10:02:00Z', page: 1, rev: 11, revAt: '2026-11-01T10:01:00Z', title: 'A', redirectTo: 'U', pageIdentity: true, visible: [true, true, false] });
  assert.equal(identityHide.e.page.is_redirect, false);
  const orders = (h: Ev) => [['three merges', [[create], [retarget], [h]]], ['one merge', [[create, retarget, h]]], ['the retarget with it', [[create], [retarget, h]]], ['hide delivered first', [[create], [h], [retarget]]], ['hide merged before all', [[h], [create, retarget]]]] as const;
  for (const [name, batches] of orders(hide)) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual((pages as { redir: boolean; target: string | null }[]).map((p) => [p.redir, p.target]), [[true, 'U']], `${name}, hook-era event`);
  }
  // The dumps' <redirect> is the target, which every order keeps (the flag, a column of the pages view, follows the page's newest event).
  for (const [name, batches] of orders(identityHide)) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual((pages as { target: string | null }[]).map((p) => p.target), ['U'], `${name}, page identity event`);
  }
  // An edit of schema 1.0.0, which has no link: it says the page is a redirect, and not where to.
  const linkless = ev({ kind: 'edit', metaDt: '2026-11-01T10:03:00Z', page: 1, rev: 12, parent: 11, revAt: '2026-11-01T10:03:00Z', title: 'A', redirectTo: 'U', noRedirectLink: true });
  const unredirect = ev({ kind: 'edit', metaDt: '2026-11-01T10:04:00Z', page: 1, rev: 13, parent: 12, revAt: '2026-11-01T10:04:00Z', title: 'A' });
  for (const [name, batches, want] of [
    ['three merges', [[create], [retarget], [linkless]], [true, 'U']],
    ['one merge', [[create, retarget, linkless]], [true, 'U']],
    ['the last two merged together', [[create], [retarget, linkless]], [true, 'U']],
    ['the retarget delivered late', [[create], [linkless], [retarget]], [true, 'U']],
    ['the retarget delivered last in one merge', [[create, linkless, retarget]], [true, 'U']],
    ['the first event without its link', [[ev({ kind: 'create', metaDt: '2026-11-01T10:00:00Z', page: 1, rev: 10, revAt: '2026-11-01T10:00:00Z', title: 'A', redirectTo: 'T', noRedirectLink: true })]], [true, null]],
    ['then no redirect', [[create], [retarget, linkless], [unredirect]], [false, null]],
  ] as const) {
    const { pages } = await runBatches(batches, { pages: PAGES });
    assert.deepEqual((pages as { redir: boolean; target: string | null }[]).map((p) => [p.redir, p.target]), [want], `${name}, a redirect without its link`);
  }
});
