// The merge against the independent in-memory reference (reference-model.ts) without Kafka: a
// generated stream and the hand-built review scenarios, delivered in one run, give the same pages,
// visibility flags and live revisions per page (the dumps' view) in both.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDuckDb } from '../../src/duckdb/connection.js';
import type { PageChangeEvent } from '../../src/events/page-change.js';
import { bindStateViews } from '../../src/pipeline/state-views.js';
import { appendBatch, EVENTS_NAME, EVENTS_NS, generatedEvents, merge, warehouseAt } from './merge-fixture.js';
import { ev } from './page-change-harness.js';
import { referenceDumpHistory, referenceState } from './reference-model.js';

/** A page deleted and restored up to an older revision, then restored in full; one deleted and restored under a new id; a page id reused. */
function undeleteScenarios(): PageChangeEvent[] {
  const at = (h: string) => `2026-11-01T${h}Z`;
  return [
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 6, rev: 60, revAt: at('09:00:00') }),
    ev({ kind: 'edit', metaDt: at('09:30:00'), page: 6, rev: 61, parent: 60, revAt: at('09:30:00') }),
    ev({ kind: 'edit', metaDt: at('09:40:00'), page: 6, rev: 62, parent: 61, revAt: at('09:40:00') }),
    ev({ kind: 'delete', metaDt: at('11:00:00'), page: 6, rev: 62, parent: 61, revAt: at('09:40:00'), noBody: true }),
    ev({ kind: 'undelete', metaDt: at('11:00:00'), page: 6, rev: 61, revAt: at('09:30:00') }),
    ev({ kind: 'edit', metaDt: at('12:00:00'), page: 6, rev: 63, parent: 61, revAt: at('12:00:00') }),
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 7, rev: 70, revAt: at('09:00:00') }),
    ev({ kind: 'edit', metaDt: at('09:10:00'), page: 7, rev: 71, parent: 70, revAt: at('09:10:00') }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 7, rev: 71, parent: 70, revAt: at('09:10:00'), noBody: true }),
    ev({ kind: 'undelete', metaDt: at('10:30:00'), page: 8, rev: 70, revAt: at('09:00:00'), priorPage: 7 }),
    // Page id 9 deleted, then reused by a new page.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 9, rev: 90, revAt: at('09:00:00'), title: 'A' }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 9, rev: 90, revAt: at('09:00:00'), title: 'A', noBody: true }),
    ev({ kind: 'create', metaDt: at('11:00:00'), page: 9, rev: 95, revAt: at('11:00:00'), title: 'B' }),
    // Page id 5 deleted and reused; the deleted page then restored under a new id, 4.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 5, rev: 50, revAt: at('09:00:00'), title: 'C' }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 5, rev: 50, revAt: at('09:00:00'), title: 'C', noBody: true }),
    ev({ kind: 'create', metaDt: at('11:00:00'), page: 5, rev: 96, revAt: at('11:00:00'), title: 'D' }),
    ev({ kind: 'undelete', metaDt: at('12:00:00'), page: 4, rev: 50, revAt: at('09:00:00'), title: 'C', priorPage: 5 }),
    // Page 20 restored into page 21 of its title, which is then deleted and its id reused by a new page.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 20, rev: 200, revAt: at('09:00:00'), title: 'M' }),
    ev({ kind: 'delete', metaDt: at('09:30:00'), page: 20, rev: 200, revAt: at('09:00:00'), title: 'M', noBody: true }),
    ev({ kind: 'create', metaDt: at('10:00:00'), page: 21, rev: 210, revAt: at('10:00:00'), title: 'M' }),
    ev({ kind: 'undelete', metaDt: at('11:00:00'), page: 21, rev: 210, revAt: at('10:00:00'), title: 'M', priorPage: 20 }),
    ev({ kind: 'delete', metaDt: at('12:00:00'), page: 21, rev: 210, revAt: at('10:00:00'), title: 'M', noBody: true }),
    ev({ kind: 'create', metaDt: at('13:00:00'), page: 21, rev: 215, revAt: at('13:00:00'), title: 'N' }),
    // Page 25 restored under 26, its id reused by page R; page 27 of title R is then restored into it.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 25, rev: 250, revAt: at('09:00:00'), title: 'Q' }),
    ev({ kind: 'create', metaDt: at('09:05:00'), page: 27, rev: 251, revAt: at('09:05:00'), title: 'R' }),
    ev({ kind: 'delete', metaDt: at('09:30:00'), page: 27, rev: 251, revAt: at('09:05:00'), title: 'R', noBody: true }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 25, rev: 250, revAt: at('09:00:00'), title: 'Q', noBody: true }),
    ev({ kind: 'undelete', metaDt: at('10:30:00'), page: 26, rev: 250, revAt: at('09:00:00'), title: 'Q', priorPage: 25 }),
    ev({ kind: 'create', metaDt: at('11:00:00'), page: 25, rev: 255, revAt: at('11:00:00'), title: 'R' }),
    ev({ kind: 'undelete', metaDt: at('12:00:00'), page: 25, rev: 255, revAt: at('11:00:00'), title: 'R', priorPage: 27 }),
    ev({ kind: 'edit', metaDt: at('12:10:00'), page: 25, rev: 257, parent: 255, revAt: at('12:10:00'), title: 'R' }),
  ].map((x) => x.e);
}

/** Same-second ties of a create or edit with another kind, and of two edits, delivered out of order. */
function tieScenarios(): PageChangeEvent[] {
  const at = (h: string) => `2026-11-01T${h}Z`;
  const t = at('10:05:00');
  return [
    // Edit 111, move 112, edit 113 saved in one second; 111's event delivered last.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 11, rev: 110, revAt: at('09:00:00'), title: 'E' }),
    ev({ kind: 'move', metaDt: t, page: 11, rev: 112, parent: 111, revAt: t, title: 'F', priorTitle: 'E' }),
    ev({ kind: 'edit', metaDt: t, page: 11, rev: 113, parent: 112, revAt: t, title: 'F', redirectTo: 'G' }),
    ev({ kind: 'edit', metaDt: t, page: 11, rev: 111, parent: 110, revAt: t, title: 'E', redirectTo: 'X' }),
    // An edit saved in the second of an undelete.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 12, rev: 120, revAt: at('09:00:00'), title: 'H' }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 12, rev: 120, revAt: at('09:00:00'), title: 'H', noBody: true }),
    ev({ kind: 'edit', metaDt: t, page: 12, rev: 121, parent: 120, revAt: t, title: 'H' }),
    ev({ kind: 'undelete', metaDt: t, page: 12, rev: 120, revAt: at('09:00:00'), title: 'H' }),
    // A page id reused in the second of its delete.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 13, rev: 130, revAt: at('09:00:00'), title: 'I' }),
    ev({ kind: 'create', metaDt: at('10:00:00'), page: 13, rev: 135, revAt: at('10:00:00'), title: 'J' }),
    ev({ kind: 'delete', metaDt: at('10:00:00'), page: 13, rev: 130, revAt: at('09:00:00'), title: 'I', noBody: true }),
    // An edit saved before a move in its second, delivered after it.
    ev({ kind: 'create', metaDt: at('09:00:00'), page: 14, rev: 140, revAt: at('09:00:00'), title: 'K' }),
    ev({ kind: 'move', metaDt: t, page: 14, rev: 142, parent: 141, revAt: t, title: 'L', priorTitle: 'K' }),
    ev({ kind: 'edit', metaDt: t, page: 14, rev: 141, parent: 140, revAt: t, title: 'K' }),
  ].map((x) => x.e);
}

test('the merge and the reference model agree on pages, visibility and live revisions', { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mwlake-reference-'));
  try {
    const events = [...generatedEvents(17, 400), ...undeleteScenarios(), ...tieScenarios()];
    const warehouse = warehouseAt(dir);
    await appendBatch(warehouse, events);
    await merge(warehouse);
    const ref = referenceState(events as unknown as Record<string, unknown>[]);
    const db = await openDuckDb();
    try {
      await bindStateViews(db, warehouse, { namespace: EVENTS_NS, name: EVENTS_NAME });
      const pages = await db.all<{ wiki_id: string; page_id: bigint; page_title: string | null; page_is_deleted: boolean | null; latest: bigint | null }>(
        'SELECT wiki_id, page_id, page_title, page_is_deleted, page_latest_revision_id AS latest FROM pages',
      );
      assert.equal(pages.length, ref.pages.size);
      for (const p of pages) {
        const want = ref.pages.get(`${p.wiki_id}:${p.page_id}`)!;
        assert.deepEqual([p.page_title, p.page_is_deleted, p.latest === null ? null : Number(p.latest)], [want.page_title, want.page_is_deleted, want.page_latest_revision_id], `page ${p.wiki_id}:${p.page_id}`);
      }
      const raw = await db.all<{ wiki_id: string; id: bigint; c: boolean | null; u: boolean | null }>(
        'SELECT wiki_id, revision_id AS id, revision_content_is_visible AS c, user_is_visible AS u FROM revisions_raw',
      );
      assert.equal(raw.length, ref.revisions.size);
      for (const r of raw) {
        const want = ref.revisions.get(`${r.wiki_id}:${r.id}`)!;
        assert.deepEqual([r.c, r.u], [want.revision_content_is_visible, want.user_is_visible], `revision ${r.wiki_id}:${r.id}`);
      }
      for (const wiki of ['enwiki', 'dewiki']) {
        const live = await db.all<{ page_id: bigint; ids: bigint[] }>(
          `SELECT page_id, list(revision_id ORDER BY revision_id) AS ids FROM revisions WHERE wiki_id = '${wiki}' GROUP BY page_id`,
        );
        const got = new Map(live.map((l) => [Number(l.page_id), l.ids.map(Number)]));
        assert.deepEqual(got, referenceDumpHistory(ref, wiki, '9999-01-01T00:00:00Z'), wiki);
      }
      const scenario = await db.all<{ page_id: bigint; ids: bigint[] }>(
        "SELECT page_id, list(revision_id ORDER BY revision_id) AS ids FROM revisions WHERE wiki_id = 'enwiki' AND page_id IN (4, 5, 6, 7, 8, 9, 20, 21) GROUP BY page_id ORDER BY page_id",
      );
      assert.deepEqual(
        scenario.map((s) => [Number(s.page_id), s.ids.map(Number)]),
        [[4, [50]], [5, [96]], [6, [60, 61, 63]], [8, [70]], [9, [95]], [21, [215]]],
        'revision 62 and 71 stayed deleted, 90 with the page id 9 reused; 50 restored under 4, away from the page that reused 5; 200, restored into 21, deleted with it',
      );
      const reusedThenMerged = await db.all<{ page_id: bigint; ids: bigint[] }>(
        "SELECT page_id, list(revision_id ORDER BY revision_id) AS ids FROM revisions WHERE wiki_id = 'enwiki' AND page_id IN (25, 26) GROUP BY page_id ORDER BY page_id",
      );
      assert.deepEqual(
        reusedThenMerged.map((s) => [Number(s.page_id), s.ids.map(Number)]),
        [[25, [251, 255, 257]], [26, [250]]],
        '251 stays in the page it was restored into, and 255 and 257, saved after 25\'s earlier life was restored under 26, with it',
      );
      const ties = await db.all<{ page_id: bigint; page_title: string; latest: bigint; page_is_deleted: boolean | null }>(
        "SELECT page_id, page_title, page_latest_revision_id AS latest, page_is_deleted FROM pages WHERE wiki_id = 'enwiki' AND page_id BETWEEN 11 AND 14 ORDER BY page_id",
      );
      assert.deepEqual(
        ties.map((p) => [Number(p.page_id), p.page_title, Number(p.latest), p.page_is_deleted]),
        [[11, 'F', 113, null], [12, 'H', 121, false], [13, 'J', 135, null], [14, 'L', 142, null]],
        'same-second ties: the newer revision saved later',
      );
    } finally {
      await db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
