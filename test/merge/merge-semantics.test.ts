// Merge rules the generated streams do not reach: events tied on (meta.dt, revision id) apply in
// their Kafka order (production meta.dt has second precision, so a delete and an undelete of one
// page in one second tie, and meta.id is a random UUID), also across runs, while a duplicate
// delivered again changes nothing; a delete's body-less slots keep the stored text; undelete
// aliases are followed to the end of their chain; an event without meta.dt is ordered by its dt.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { validatePageChange } from '../../src/events/validate.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, merge, stateHashes, warehouseAt } from './merge-fixture.js';

let dir: string;
let runs = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mwlake-merge-semantics-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CHANGELOG: Record<string, string> = { create: 'insert', edit: 'update', move: 'update', delete: 'delete', undelete: 'insert', visibility_change: 'update' };
const ALICE = { user_text: 'Alice', user_id: 2, groups: ['user'], is_bot: false, is_system: false, is_temp: false };
const ADMIN = { user_text: 'Admin', user_id: 1, groups: ['sysop'], is_bot: false, is_system: false, is_temp: false };
const HIGH_ID = 'ffffffff-0000-4000-8000-000000000000';
const LOW_ID = '00000000-0000-4000-8000-000000000000';
let nextId = 0;

interface EventSpec {
  readonly kind: 'create' | 'edit' | 'move' | 'delete' | 'undelete' | 'visibility_change';
  readonly at: string;
  readonly page: number;
  readonly rev: number;
  readonly revAt: string;
  /** Slots without their bodies, as a delete carries them. */
  readonly noBody?: boolean;
  /** [content, editor, comment] visible. */
  readonly visible?: readonly [boolean, boolean, boolean];
  readonly priorPage?: number;
  readonly id?: string;
  readonly withoutMetaDt?: boolean;
  /** The event's `dt`, when it is not `at` (meta.dt): a late event's is days earlier (T409105). */
  readonly dt?: string;
  /** The page's title (default Page_<page>). */
  readonly title?: string;
}

function event(s: EventSpec): PageChangeEvent {
  const [content, editor, comment] = s.visible ?? [true, true, true];
  const slot: Record<string, unknown> = { slot_role: 'main', content_model: 'wikitext', content_format: 'text/x-wiki', content_sha1: 'a'.repeat(31), content_size: 9, origin_rev_id: s.rev };
  if (s.noBody !== true) slot['content_body'] = `body of ${s.rev}`;
  const revision: Record<string, unknown> = {
    rev_id: s.rev,
    rev_dt: s.revAt,
    is_minor_edit: false,
    is_content_visible: content,
    is_editor_visible: editor,
    is_comment_visible: comment,
    ...(content ? { rev_sha1: 'a'.repeat(31), rev_size: 9, content_slots: { main: slot } } : {}),
    ...(editor ? { editor: ALICE } : {}),
    ...(comment ? { comment: `summary of ${s.rev}` } : {}),
  };
  const meta: Record<string, unknown> = { stream: 'mediawiki.page_content_change.v1', id: s.id ?? `00000000-0000-4000-9000-${String(++nextId).padStart(12, '0')}`, domain: 'en.wikipedia.org' };
  if (s.withoutMetaDt !== true) meta['dt'] = s.at;
  const raw = {
    $schema: '/mediawiki/page/change/1.2.0',
    meta,
    dt: s.dt ?? s.at,
    wiki_id: 'enwiki',
    changelog_kind: CHANGELOG[s.kind],
    page_change_kind: s.kind,
    page: { page_id: s.page, page_title: s.title ?? `Page_${s.page}`, namespace_id: 0, is_redirect: false },
    revision,
    performer: ADMIN,
    ...(s.priorPage === undefined ? {} : { prior_state: { page: { page_id: s.priorPage } } }),
  };
  const v = validatePageChange(raw);
  if (!v.ok) throw new Error(v.message);
  return v.event;
}

interface Revision {
  readonly rev: number;
  readonly page: number;
  readonly body: string | null;
  readonly editorVisible: boolean | null;
  readonly commentVisible: boolean | null;
}

/** Merges each batch as one drain and merge; returns the live revisions (the dumps' view) and the warehouse. */
async function mergeRuns(batches: readonly (readonly PageChangeEvent[])[]) {
  const warehouse = warehouseAt(join(dir, `run-${++runs}`));
  for (const batch of batches) {
    await appendBatch(warehouse, batch);
    await merge(warehouse);
  }
  const db = await openDuckDb();
  try {
    await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
    const revisions = await db.all<Revision>(
      `SELECT revision_id::INTEGER AS rev, page_id::INTEGER AS page, revision_content_slots['main'].content_body AS body,
        user_is_visible AS "editorVisible", revision_comment_is_visible AS "commentVisible" FROM revisions ORDER BY revision_id`,
    );
    const pages = await db.all<{ page: number; title: string; latest: number }>(
      'SELECT page_id::INTEGER AS page, page_title AS title, page_latest_revision_id::INTEGER AS latest FROM pages ORDER BY page_id',
    );
    return { revisions, pages, warehouse };
  } finally {
    await db.close();
  }
}

const CREATE = event({ kind: 'create', at: '2026-11-01T10:00:00Z', page: 10, rev: 100, revAt: '2026-11-01T10:00:00Z' });
const tied = (kind: 'delete' | 'undelete', id: string) => event({ kind, at: '2026-11-01T11:00:00Z', page: 10, rev: 100, revAt: '2026-11-01T10:00:00Z', noBody: kind === 'delete', id });

test('a delete and an undelete in one second apply in Kafka order, whatever their meta.id', { timeout: 120_000 }, async () => {
  for (const [deleteId, undeleteId] of [[HIGH_ID, LOW_ID], [LOW_ID, HIGH_ID]] as const) {
    const restored = await mergeRuns([[CREATE, tied('delete', deleteId), tied('undelete', undeleteId)]]);
    assert.deepEqual(restored.revisions.map((r) => r.rev), [100], `delete ${deleteId} then undelete ${undeleteId}: the page is live`);
    const deleted = await mergeRuns([[CREATE, tied('undelete', undeleteId), tied('delete', deleteId)]]);
    assert.deepEqual(deleted.revisions, [], `undelete ${undeleteId} then delete ${deleteId}: the page is deleted`);
  }
});

test('tied events across runs: the later run wins; a duplicate delivered again changes nothing', { timeout: 120_000 }, async () => {
  const del = tied('delete', HIGH_ID);
  const undel = tied('undelete', LOW_ID);
  const split = await mergeRuns([[CREATE, del], [undel]]);
  assert.deepEqual(split.revisions.map((r) => r.rev), [100], 'the undelete of the second run wins');
  const again = await mergeRuns([[CREATE, del], [undel], [undel, CREATE]]);
  assert.deepEqual(await stateHashes(again.warehouse), await stateHashes(split.warehouse), 'duplicates leave the tables byte-identical');
});

test('two visibility changes in one second: the later one in Kafka order holds', { timeout: 120_000 }, async () => {
  const hideComment = event({ kind: 'visibility_change', at: '2026-11-01T11:00:00Z', page: 10, rev: 100, revAt: '2026-11-01T10:00:00Z', visible: [true, true, false], id: HIGH_ID });
  const hideBoth = event({ kind: 'visibility_change', at: '2026-11-01T11:00:00Z', page: 10, rev: 100, revAt: '2026-11-01T10:00:00Z', visible: [true, false, false], id: LOW_ID });
  const { revisions } = await mergeRuns([[CREATE, hideComment, hideBoth]]);
  assert.equal(revisions[0]?.editorVisible, false, 'the editor stays hidden');
  assert.equal(revisions[0]?.commentVisible, false);
});

test("a delete's slots without bodies keep the stored text, which an undelete into another page shows again", { timeout: 120_000 }, async () => {
  const { revisions } = await mergeRuns([
    [
      event({ kind: 'create', at: '2026-11-01T10:00:00Z', page: 1, rev: 1, revAt: '2026-11-01T10:00:00Z' }),
      event({ kind: 'delete', at: '2026-11-01T11:00:00Z', page: 1, rev: 1, revAt: '2026-11-01T10:00:00Z', noBody: true }),
      event({ kind: 'create', at: '2026-11-01T12:00:00Z', page: 2, rev: 2, revAt: '2026-11-01T12:00:00Z' }),
    ],
    [event({ kind: 'undelete', at: '2026-11-01T13:00:00Z', page: 2, rev: 2, revAt: '2026-11-01T12:00:00Z', priorPage: 1 })],
  ]);
  assert.deepEqual(revisions.map((r) => [r.rev, r.page, r.body]), [[1, 2, 'body of 1'], [2, 2, 'body of 2']]);
});

test('undelete aliases are followed to the end of their chain', { timeout: 120_000 }, async () => {
  const { revisions } = await mergeRuns([[
    event({ kind: 'create', at: '2026-11-01T10:00:00Z', page: 1, rev: 1, revAt: '2026-11-01T10:00:00Z' }),
    event({ kind: 'delete', at: '2026-11-01T11:00:00Z', page: 1, rev: 1, revAt: '2026-11-01T10:00:00Z', noBody: true }),
    event({ kind: 'create', at: '2026-11-01T12:00:00Z', page: 2, rev: 2, revAt: '2026-11-01T12:00:00Z' }),
    event({ kind: 'undelete', at: '2026-11-01T13:00:00Z', page: 2, rev: 2, revAt: '2026-11-01T12:00:00Z', priorPage: 1 }),
    event({ kind: 'delete', at: '2026-11-01T14:00:00Z', page: 2, rev: 2, revAt: '2026-11-01T12:00:00Z', noBody: true }),
    event({ kind: 'create', at: '2026-11-01T15:00:00Z', page: 3, rev: 3, revAt: '2026-11-01T15:00:00Z' }),
    event({ kind: 'undelete', at: '2026-11-01T16:00:00Z', page: 3, rev: 3, revAt: '2026-11-01T15:00:00Z', priorPage: 2 }),
  ]]);
  assert.deepEqual(revisions.map((r) => [r.rev, r.page]), [[1, 3], [2, 3], [3, 3]]);
});

test('an event without meta.dt (the schema requires only meta.stream) is ordered by its dt, not dropped', { timeout: 120_000 }, async () => {
  const { revisions } = await mergeRuns([[
    event({ kind: 'create', at: '2026-11-01T10:00:00Z', page: 20, rev: 200, revAt: '2026-11-01T10:00:00Z', withoutMetaDt: true }),
    event({ kind: 'visibility_change', at: '2026-11-01T09:00:00Z', page: 20, rev: 200, revAt: '2026-11-01T10:00:00Z', visible: [true, false, true] }),
  ]]);
  assert.deepEqual(revisions.map((r) => [r.rev, r.editorVisible]), [[200, true]], 'the create (10:00) is newer than the visibility change stamped 09:00');
});

test('a create or edit delivered late (dt days before meta.dt) does not undo a visibility change made since', { timeout: 120_000 }, async () => {
  const made = '2026-11-01T10:00:00Z';
  const late = event({ kind: 'create', at: '2026-11-10T10:00:00Z', dt: made, page: 30, rev: 300, revAt: made });
  const hide = event({ kind: 'visibility_change', at: '2026-11-02T10:00:00Z', page: 30, rev: 300, revAt: made, visible: [true, false, true] });
  for (const [name, batches] of [['one merge', [[hide, late]]], ['one merge, late first', [[late, hide]]], ['two merges', [[hide], [late]]]] as const) {
    const { revisions } = await mergeRuns(batches);
    assert.deepEqual(revisions.map((r) => [r.rev, r.editorVisible, r.body]), [[300, false, 'body of 300']], `${name}: the editor stays hidden`);
  }
});

test('an edit delivered late does not undo a move made since: the page keeps its new title and latest revision', { timeout: 120_000 }, async () => {
  const create = event({ kind: 'create', at: '2026-11-01T10:00:00Z', page: 40, rev: 400, revAt: '2026-11-01T10:00:00Z', title: 'Old' });
  const edit = event({ kind: 'edit', at: '2026-11-10T10:00:00Z', dt: '2026-11-01T11:00:00Z', page: 40, rev: 401, revAt: '2026-11-01T11:00:00Z', title: 'Old' });
  const move = event({ kind: 'move', at: '2026-11-02T10:00:00Z', page: 40, rev: 401, revAt: '2026-11-01T11:00:00Z', title: 'New' });
  for (const [name, batches] of [['one merge', [[create, move, edit]]], ['two merges', [[create, move], [edit]]]] as const) {
    const { pages, revisions } = await mergeRuns(batches);
    assert.deepEqual(pages, [{ page: 40, title: 'New', latest: 401 }], name);
    assert.deepEqual(revisions.map((r) => r.rev), [400, 401], `${name}: the late edit's revision is there`);
  }
});
